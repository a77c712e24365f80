#!/usr/bin/env bash
# Self-test stand-in for the backend endpoint on guest port 8102 (see docker/README.md).
set -euo pipefail
exec python3 -u /usr/local/lib/hexclave/selftest/endpoints.py backend 8102
