#!/usr/bin/env bash
# Self-test PostgreSQL (trixie's 17): data in /data/postgres, 127.0.0.1:5432,
# trust authentication (local self-test only: the port is never forwarded).
# The cluster is created on first start in a temporary directory and renamed,
# so an interrupted initdb never leaves a half-made cluster behind.
# The supervisor stops it with SIGINT (PostgreSQL's fast shutdown, as
# `pg_ctl stop -m fast`): a clean shutdown checkpoint, no recovery on the next start.
set -euo pipefail

PGDATA=${POSTGRES_DATA_DIR:-/data/postgres}
as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --)

mkdir -p /run/postgresql "$(dirname "$PGDATA")"
chown postgres:postgres /run/postgresql
if [[ ! -s $PGDATA/PG_VERSION ]]; then
  tmp="$PGDATA.initdb"
  rm -rf "$tmp"
  install -d -o postgres -g postgres -m 700 "$tmp"
  "${as_postgres[@]}" initdb -D "$tmp" --username=postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -rf "$PGDATA"
  mv "$tmp" "$PGDATA"
  echo "created a new cluster in $PGDATA"
fi
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
exec "${as_postgres[@]}" postgres -D "$PGDATA" \
  -c listen_addresses=127.0.0.1 -c port=5432 \
  -c unix_socket_directories=/run/postgresql \
  -c jit=off -c logging_collector=off -c log_line_prefix='%m [%p] '
