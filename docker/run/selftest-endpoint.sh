#!/usr/bin/env bash
# Self-test image only: the small HTTP endpoint standing in for a service
# (minio, inbucket, backend, dashboard; the supervisor names it in
# HEXCLAVE_SERVICE) on that service's guest port (see docker/README.md).
set -euo pipefail

case "${HEXCLAVE_SERVICE:?the supervisor sets HEXCLAVE_SERVICE}" in
  minio) port=9090 ;;
  inbucket) port=9001 ;;
  backend) port=8102 ;;
  dashboard) port=8101 ;;
  *)
    echo "selftest-endpoint: no self-test endpoint for service $HEXCLAVE_SERVICE" >&2
    exit 2
    ;;
esac
exec python3 -u /usr/local/lib/hexclave/selftest/endpoints.py "$HEXCLAVE_SERVICE" "$port"
