#!/usr/bin/env bash
# ClickHouse 25.10: data in /data/clickhouse, HTTP 127.0.0.1:8123, native
# 127.0.0.1:9009 (config.d/hexclave.xml). User default, CLICKHOUSE_PASSWORD.
set -euo pipefail

DIR=${CLICKHOUSE_DATA_DIR:-/data/clickhouse}
mkdir -p "$DIR"
chown clickhouse:clickhouse "$DIR"
export CLICKHOUSE_PASSWORD=${CLICKHOUSE_PASSWORD:?CLICKHOUSE_PASSWORD must be set}
exec setpriv --reuid=clickhouse --regid=clickhouse --init-groups -- \
  clickhouse server --config-file=/etc/clickhouse-server/config.xml
