#!/usr/bin/env bash
# Self-test stand-in for the dashboard endpoint on guest port 8101 (see docker/README.md).
set -euo pipefail
exec python3 -u /usr/local/lib/hexclave/selftest/endpoints.py dashboard 8101
