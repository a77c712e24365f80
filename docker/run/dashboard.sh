#!/usr/bin/env bash
# Hexclave Dashboard on 0.0.0.0:8101 (exposed), from the Hexclave server image.
set -euo pipefail

cd "${HEXCLAVE_APP_DIR:-/opt/hexclave}"
export PORT=8101 HOSTNAME=0.0.0.0 NODE_ENV=production
export HEXCLAVE_API_URL=http://127.0.0.1:8102
read -ra serve <<<"${HEXCLAVE_DASHBOARD_COMMAND:-node apps/dashboard/server.js}"
exec "${serve[@]}"
