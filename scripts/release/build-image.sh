#!/usr/bin/env bash
# The publishing workflow's build step (and the rehearsal's): the image for one arch from Debian's cloud base.
#   bash scripts/release/build-image.sh ARCH OUT_DIR
# PROFILE picks the payload (default hexclave; the rehearsal uses selftest, which needs no registry).
# HEXCLAVE_CLOUD_IMAGE_URL, when set, is the cloud image host's directory holding SHA512SUMS (default Debian's).
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: build-image.sh amd64|arm64 OUT_DIR" >&2
  exit 2
fi
arch=$1
out=$2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/toolchain-env.sh
source "$repo/scripts/toolchain-env.sh"
cd "$repo"
pnpm --silent stack build-image "$arch" --profile "${PROFILE:-hexclave}" --base cloud --out "$out"
