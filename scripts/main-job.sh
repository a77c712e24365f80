#!/usr/bin/env bash
# The main job on a fresh machine with no container registry and no cloud image host: build the
# self-test emulator image offline (Debian mirror only), start the emulator, and check that its
# four ports answer on 127.0.0.1. Run by `bash scripts/setup.sh --main-job`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/toolchain-env.sh
source "$repo/scripts/toolchain-env.sh"
cd "$repo"

case "$(uname -m)" in
  x86_64|amd64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "unsupported host architecture $(uname -m)" >&2; exit 1 ;;
esac

echo "==> What this host offers"
pnpm --silent stack emulator doctor || true

echo "==> Building the self-test emulator image for $arch (offline: Debian mirror only)"
pnpm --silent stack build-image "$arch" --profile selftest --base bootstrap

echo "==> Starting the emulator"
pnpm --silent stack emulator start --arch "$arch"

echo "==> Checking the four ports"
failed=0
for url in \
  "http://127.0.0.1:${EMULATOR_DASHBOARD_PORT:-26700}/handler/sign-in" \
  "http://127.0.0.1:${EMULATOR_BACKEND_PORT:-26701}/health?db=1" \
  "http://127.0.0.1:${EMULATOR_MINIO_PORT:-26702}/minio/health/live" \
  "http://127.0.0.1:${EMULATOR_INBUCKET_PORT:-26703}/"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" || true)
  printf '  %-50s %s\n' "$url" "$code"
  [ "$code" = 200 ] || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "Some ports did not answer 200: see 'pnpm stack emulator status' and 'pnpm stack emulator logs'." >&2
  exit 1
fi
cat <<'EOT'

The emulator is running. Next:
  source scripts/toolchain-env.sh     # Node 24 and pnpm on PATH in this shell
  pnpm stack emulator status          # VM, accelerator, services
  pnpm stack emulator logs --serial   # guest console
  pnpm stack emulator stop            # suspend; `start` resumes in seconds with your data
EOT
