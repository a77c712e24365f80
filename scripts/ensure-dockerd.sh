#!/usr/bin/env bash
# Starts dockerd when no Docker engine answers (Linux, as root). Docker is needed to build images
# and by the test suite; running an emulator does not need it.
set -euo pipefail
if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "docker engine: running ($(docker version --format '{{.Server.Version}}'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "No Docker engine answers. Start it (sudo systemctl start docker) or run this as root." >&2
  exit 1
fi
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start docker || true
fi
if ! docker version >/dev/null 2>&1; then
  echo "Starting dockerd (log: /var/log/hexclave-dockerd.log)"
  setsid dockerd >/var/log/hexclave-dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "docker engine: running ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; see /var/log/hexclave-dockerd.log" >&2
tail -n 20 /var/log/hexclave-dockerd.log >&2 || true
exit 1
