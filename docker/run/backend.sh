#!/usr/bin/env bash
# Hexclave Backend on 0.0.0.0:8102 (exposed), from the Hexclave server image
# (its application is copied to HEXCLAVE_APP_DIR). Before it starts, the
# database migrations run (idempotent). Both commands can be overridden.
set -euo pipefail

cd "${HEXCLAVE_APP_DIR:-/opt/hexclave}"
export PORT=8102 HOSTNAME=0.0.0.0 NODE_ENV=production
export HEXCLAVE_DATABASE_URL="postgresql://postgres:${POSTGRES_PASSWORD}@127.0.0.1:5432/hexclave"
export HEXCLAVE_REDIS_URL=redis://127.0.0.1:6379
export HEXCLAVE_CLICKHOUSE_URL="http://default:${CLICKHOUSE_PASSWORD}@127.0.0.1:8123/analytics"
export HEXCLAVE_S3_ENDPOINT=http://127.0.0.1:9090 HEXCLAVE_S3_ACCESS_KEY_ID=$MINIO_ROOT_USER HEXCLAVE_S3_SECRET_ACCESS_KEY=$MINIO_ROOT_PASSWORD
export HEXCLAVE_SMTP_HOST=127.0.0.1 HEXCLAVE_SMTP_PORT=2500
export HEXCLAVE_SVIX_URL=http://127.0.0.1:8071 HEXCLAVE_QSTASH_URL=http://127.0.0.1:8080 HEXCLAVE_QSTASH_TOKEN=$QSTASH_TOKEN
export HEXCLAVE_SERVER_SECRET

read -ra migrate <<<"${HEXCLAVE_BACKEND_MIGRATE_COMMAND:-node apps/backend/dist/db-migrations.mjs}"
read -ra serve <<<"${HEXCLAVE_BACKEND_COMMAND:-node apps/backend/server.js}"
"${migrate[@]}"
exec "${serve[@]}"
