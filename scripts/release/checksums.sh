#!/usr/bin/env bash
# The publishing workflow's checksum step (and the rehearsal's): SHA256SUMS over every file of a release directory.
#   bash scripts/release/checksums.sh RELEASE_DIR
set -euo pipefail
if [ "$#" -ne 1 ]; then
  echo "usage: checksums.sh RELEASE_DIR" >&2
  exit 2
fi
cd "$1"
rm -f SHA256SUMS
sums=$(sha256sum -- *)
printf '%s\n' "$sums" > SHA256SUMS.tmp
mv SHA256SUMS.tmp SHA256SUMS
cat SHA256SUMS
