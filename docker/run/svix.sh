#!/usr/bin/env bash
# svix-server v1.88.0 on 127.0.0.1:8071: database svix in PostgreSQL, queue and
# cache in Redis. It needs its database before it can start, and the one-shot
# init runs after it (ARCHITECTURE.md's order), so it makes the database itself
# (idempotent, the same statement as the init's).
set -euo pipefail

if [[ $(psql -h /run/postgresql -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = 'svix'") != 1 ]]; then
  psql -h /run/postgresql -U postgres -d postgres -qc "CREATE DATABASE svix"
fi
export SVIX_DB_DSN="postgresql://postgres:${POSTGRES_PASSWORD}@127.0.0.1:5432/svix"
export SVIX_REDIS_DSN=redis://127.0.0.1:6379
export SVIX_QUEUE_TYPE=redis
export SVIX_CACHE_TYPE=redis
export SVIX_JWT_SECRET=${SVIX_JWT_SECRET:?SVIX_JWT_SECRET must be set}
export SVIX_LISTEN_ADDRESS=127.0.0.1:8071
exec svix-server --run-migrations
