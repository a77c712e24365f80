#!/usr/bin/env bash
# The publishing workflow's build step (and the rehearsal's): the image for one arch from Debian's cloud base.
#   bash scripts/release/build-image.sh ARCH OUT_DIR
# PROFILE picks the payload (default hexclave; the rehearsal uses selftest, which needs no registry).
# HEXCLAVE_CLOUD_IMAGE_URL, when set, is the cloud image host's directory holding SHA512SUMS (default Debian's).
set -euo pipefail
usage="build-image.sh amd64|arm64 OUT_DIR"
if [ "$#" -ne 2 ]; then
  echo "usage: $usage" >&2
  exit 2
fi
arch=$1
case $2 in /*) out=$2 ;; *) out=$PWD/$2 ;; esac
# shellcheck source=scripts/release/release-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/release-env.sh"
release_env "$usage" "$arch"
pnpm --silent stack build-image "$arch" --profile "${PROFILE:-hexclave}" --base cloud --out "$out"
