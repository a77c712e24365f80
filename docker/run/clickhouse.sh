#!/usr/bin/env bash
# ClickHouse 25.10 with the image's whole configuration (/etc/clickhouse-server/config.xml):
# data and access directory under /data/clickhouse, HTTP 127.0.0.1:8123, native
# 127.0.0.1:9009. Users default and stackframe, password CLICKHOUSE_PASSWORD.
set -euo pipefail

DIR=${CLICKHOUSE_DATA_DIR:-/data/clickhouse}
mkdir -p "$DIR"
chown clickhouse:clickhouse "$DIR"
export CLICKHOUSE_PASSWORD=${CLICKHOUSE_PASSWORD:?CLICKHOUSE_PASSWORD must be set (the runtime environment)}
exec setpriv --reuid=clickhouse --regid=clickhouse --init-groups -- \
  clickhouse server --config-file=/etc/clickhouse-server/config.xml
