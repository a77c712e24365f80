#!/usr/bin/env bash
# Self-test stand-in for the inbucket endpoint on guest port 9001 (see docker/README.md).
set -euo pipefail
exec python3 -u /usr/local/lib/hexclave/selftest/endpoints.py inbucket 9001
