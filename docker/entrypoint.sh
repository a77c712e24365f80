#!/usr/bin/env bash
# Entrypoint of the Hexclave image and of the self-test image (tini runs it as
# its only child: `tini -- hexclave-entrypoint`).
#
# With no arguments it makes the data root and hands over to the supervisor,
# which starts the profile's services (HEXCLAVE_PROFILE) from services.json.
# With arguments it runs them instead (for example `bash` to look around).
set -euo pipefail

DATA_ROOT=${HEXCLAVE_DATA_ROOT:-/data}

if [[ $# -gt 0 ]]; then
  exec "$@"
fi

mkdir -p "$DATA_ROOT"
echo "hexclave-entrypoint: profile ${HEXCLAVE_PROFILE:-hexclave}, data under $DATA_ROOT"
exec hexclave-supervise
