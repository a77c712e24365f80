#!/usr/bin/env bash
# Redis (trixie's, in both images, as upstream): data (append-only file) in /data/redis, 127.0.0.1:6379.
set -euo pipefail

DIR=${REDIS_DATA_DIR:-/data/redis}
mkdir -p "$DIR"
chown redis:redis "$DIR"
exec setpriv --reuid=redis --regid=redis --init-groups -- \
  redis-server --bind 127.0.0.1 --port 6379 --dir "$DIR" --daemonize no \
  --appendonly yes --appendfsync everysec --protected-mode yes --logfile ""
