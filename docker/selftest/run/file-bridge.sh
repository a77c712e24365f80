#!/usr/bin/env bash
# The guest side of the emulator's file bridge on 127.0.0.1:8110 (see docker/README.md, "File bridge").
set -euo pipefail
exec python3 -u /usr/local/lib/hexclave/file-bridge/bridge-proxy.py "${HEXCLAVE_FILE_BRIDGE_PORT:-8110}"
