#!/usr/bin/env bash
# The mock OAuth provider on :8114 (STACK_OAUTH_MOCK_URL) behind the "MOCK" OAuth client settings.
set -euo pipefail

export PORT=8114 MOCK_OAUTH_ISSUER=${STACK_OAUTH_MOCK_URL:-http://localhost:8114}
exec node /usr/local/lib/hexclave/mocks/mock-oauth.mjs
