#!/usr/bin/env bash
# The freestyle mock on 127.0.0.1:8180 (STACK_FREESTYLE_API_ENDPOINT): renders
# every email's script with the server image's Node and node_modules.
set -euo pipefail

export PORT=8180 FREESTYLE_MOCK_NODE_PATH=${HEXCLAVE_APP_DIR:-/app}/node_modules
exec node /usr/local/lib/hexclave/mocks/freestyle-mock.mjs
