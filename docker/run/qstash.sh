#!/usr/bin/env bash
# QStash dev server on :8080 (GET / answers 401 without a token). In memory: no
# data. It accepts only its built-in user (the token in STACK_QSTASH_TOKEN) and
# signs with its built-in keys (STACK_QSTASH_*_SIGNING_KEY).
set -euo pipefail

exec qstash dev -port=8080
