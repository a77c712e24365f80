#!/usr/bin/env bash
# PostgreSQL (the Hexclave image: PGDG's 16; the self-test image: trixie's 17):
# data in /data/postgres, 127.0.0.1:5432 only. Local socket: trust (the
# supervisor's init and health checks). TCP: scram-sha-256 with
# POSTGRES_PASSWORD when it is set (the Hexclave image: the emulator's runtime
# environment sets it), else trust (the self-test image; its port is never
# forwarded). Settings as upstream's: 500 connections, pg_stat_statements,
# statement_timeout 120 s. The cluster is created in a temporary directory and
# renamed, so an interrupted initdb never leaves a half-made cluster. The
# supervisor stops it with SIGINT, PostgreSQL's fast shutdown (what
# `pg_ctl stop -m fast` sends): a shutdown checkpoint, no crash recovery next start.
set -euo pipefail

PGDATA=${POSTGRES_DATA_DIR:-/data/postgres}
as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --)

mkdir -p /run/postgresql "$(dirname "$PGDATA")"
chown postgres:postgres /run/postgresql
if [[ ! -s $PGDATA/PG_VERSION ]]; then
  tmp="$PGDATA.initdb"
  rm -rf "$tmp"
  install -d -o postgres -g postgres -m 700 "$tmp"
  auth=(--auth=trust)
  pwfile=""
  if [[ -n ${POSTGRES_PASSWORD:-} ]]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    auth=(--pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256)
  fi
  "${as_postgres[@]}" initdb -D "$tmp" --username=postgres "${auth[@]}" --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  [[ -z $pwfile ]] || rm -f "$pwfile"
  rm -rf "$PGDATA"
  mv "$tmp" "$PGDATA"
  echo "created a new cluster in $PGDATA"
fi
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
exec "${as_postgres[@]}" postgres -D "$PGDATA" \
  -c listen_addresses="${POSTGRES_LISTEN_ADDRESSES:-127.0.0.1}" -c port=5432 \
  -c unix_socket_directories=/run/postgresql \
  -c max_connections="${POSTGRES_MAX_CONNECTIONS:-500}" \
  -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
  -c statement_timeout=120s -c jit=off \
  -c logging_collector=off -c log_line_prefix='%m [%p] '
