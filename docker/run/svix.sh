#!/usr/bin/env bash
# svix-server v1.88.0 on 127.0.0.1:8071: database svix in PostgreSQL, queue in
# Redis, cache in memory (as upstream). SVIX_JWT_SECRET is the install's own
# (the runtime environment): STACK_SVIX_API_KEY is signed with it. It needs
# its database before it can start and the one-shot init runs after it, so it
# makes the database itself (idempotent, the same statement as the init's).
set -euo pipefail

if [[ $(psql -h /run/postgresql -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = 'svix'") != 1 ]]; then
  psql -h /run/postgresql -U postgres -d postgres -qc "CREATE DATABASE svix"
fi
export SVIX_DB_DSN="postgresql://postgres:${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}@127.0.0.1:5432/svix"
export SVIX_REDIS_DSN=redis://127.0.0.1:6379
export SVIX_QUEUE_TYPE=redis
export SVIX_CACHE_TYPE=memory
export SVIX_JWT_SECRET=${SVIX_JWT_SECRET:?SVIX_JWT_SECRET must be set (the runtime environment)}
export SVIX_LISTEN_ADDRESS=127.0.0.1:8071
exec svix-server --run-migrations
