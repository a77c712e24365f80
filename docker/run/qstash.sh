#!/usr/bin/env bash
# QStash dev server on :8080 (GET / answers 401 without a token). In memory: no data.
set -euo pipefail

exec qstash dev -port=8080
