#!/usr/bin/env bash
# Self-test image only: one-shot init, idempotent: database hexclave and its rows table.
# Over the local socket (trust): TCP asks for POSTGRES_PASSWORD whenever the runtime environment sets it.
set -euo pipefail

psql_=(psql -h /run/postgresql -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt)
if [[ $("${psql_[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'hexclave'") != 1 ]]; then
  "${psql_[@]}" -d postgres -c "CREATE DATABASE hexclave"
  echo "created database hexclave"
fi
"${psql_[@]}" -d hexclave -c "CREATE TABLE IF NOT EXISTS rows (
  key text PRIMARY KEY,
  value bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)"
