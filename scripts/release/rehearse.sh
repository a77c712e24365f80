#!/usr/bin/env bash
# A local rehearsal of the publishing workflow (.github/workflows/qemu-emulator-build.yaml) for one arch, through
# the same scripts the workflow runs: build from the cloud base, boot test, release directory, SHA256SUMS, channel
# pointer. What it cannot do here: upload (gh release create/upload); the pointer names the download URL the
# workflow would give a release of OWNER/REPO (REHEARSAL_REPOSITORY, default hexclave/emulator).
#   HEXCLAVE_CLOUD_IMAGE_URL=http://127.0.0.1:PORT/images/cloud/trixie/latest/ bash scripts/release/rehearse.sh ARCH WORK_DIR
# HEXCLAVE_CLOUD_IMAGE_URL is required (a local stand-in of Debian's host: the rehearsal never reaches the internet);
# PROFILE defaults to selftest (the hexclave profile needs a registry). Boots full VMs: run under
# `flock /tmp/hexclave-vm.lock` on a shared machine, with your own EMULATOR_*_PORT values.
set -euo pipefail
if [ "$#" -ne 2 ] || [ -z "${HEXCLAVE_CLOUD_IMAGE_URL:-}" ]; then
  echo "usage: HEXCLAVE_CLOUD_IMAGE_URL=URL rehearse.sh amd64|arm64 WORK_DIR" >&2
  exit 2
fi
arch=$1
work=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PROFILE=${PROFILE:-selftest}
export HEXCLAVE_EMULATOR_HOME="$work/emulator-home"
channel=dev
version="emulator-${channel}-$(date -u +%Y%m%d)-rehearsal"
phase() {
  local started=$SECONDS
  echo "=== rehearsal: $1"
  shift
  "$@"
  echo "=== rehearsal: done in $((SECONDS - started)) s"
}
phase "build $arch ($PROFILE, --base cloud from $HEXCLAVE_CLOUD_IMAGE_URL)" bash "$here/build-image.sh" "$arch" "$work/images"
phase "boot test $arch" bash "$here/boot-test.sh" "$arch" "$work/images"
rm -rf "$work/release"
mkdir -p "$work/release"
cp "$work/images/stack-emulator-$arch".* "$work/release/"
phase "checksums" bash "$here/checksums.sh" "$work/release"
# The pointer is the script's stdout alone: phase's own lines must not land in the file.
write_pointer() {
  node "$here/channel-pointer.mjs" --channel "$channel" --version "$version" \
    --base-url "https://github.com/${REHEARSAL_REPOSITORY:-hexclave/emulator}/releases/download/$version" \
    --dir "$work/release" > "$work/emulator-${channel}.json.tmp"
  mv "$work/emulator-${channel}.json.tmp" "$work/emulator-${channel}.json"
}
phase "channel pointer" write_pointer
cat "$work/emulator-${channel}.json"
