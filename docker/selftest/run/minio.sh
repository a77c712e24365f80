#!/usr/bin/env bash
# Self-test stand-in for the minio endpoint on guest port 9090 (see docker/README.md).
set -euo pipefail
exec python3 -u /usr/local/lib/hexclave/selftest/endpoints.py minio 9090
