#!/usr/bin/env bash
# The publishing workflow's boot test (and the rehearsal's): the built image is started, its four health paths
# must answer 200, then stop, start again (resume), reset, start from scratch, stop.
#   bash scripts/release/boot-test.sh ARCH IMAGES_DIR
# HEXCLAVE_EMULATOR_HOME must name the emulator home to use (the images are copied into it);
# EMULATOR_{DASHBOARD,BACKEND,MINIO,INBUCKET}_PORT move the ports (default 26700..26703).
set -euo pipefail
usage="HEXCLAVE_EMULATOR_HOME=DIR boot-test.sh amd64|arm64 IMAGES_DIR"
if [ "$#" -ne 2 ] || [ -z "${HEXCLAVE_EMULATOR_HOME:-}" ]; then
  echo "usage: $usage" >&2
  exit 2
fi
arch=$1
images=$(cd "$2" && pwd)
# shellcheck source=scripts/release/release-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/release-env.sh"
release_env "$usage" "$arch"
mkdir -p "$HEXCLAVE_EMULATOR_HOME/images"
cp "$images/stack-emulator-$arch".* "$HEXCLAVE_EMULATOR_HOME/images/"
check_ports() {
  local url code
  for url in "http://127.0.0.1:${EMULATOR_DASHBOARD_PORT:-26700}/handler/sign-in" \
             "http://127.0.0.1:${EMULATOR_BACKEND_PORT:-26701}/health?db=1" \
             "http://127.0.0.1:${EMULATOR_MINIO_PORT:-26702}/minio/health/live" \
             "http://127.0.0.1:${EMULATOR_INBUCKET_PORT:-26703}/"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" || true)
    echo "$url $code"
    [ "$code" = 200 ]
  done
}
step() {
  local started=$SECONDS
  echo "== $*"
  "$@"
  echo "== $* took $((SECONDS - started)) s"
}
step pnpm --silent stack emulator start --arch "$arch" --timeout 1800
check_ports
step pnpm --silent stack emulator stop
step pnpm --silent stack emulator start --arch "$arch" --timeout 1800
check_ports
step pnpm --silent stack emulator reset --yes
step pnpm --silent stack emulator start --arch "$arch" --timeout 1800
check_ports
step pnpm --silent stack emulator stop --no-snapshot
