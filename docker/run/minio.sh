#!/usr/bin/env bash
# MinIO: data in /data/minio, S3 API on 0.0.0.0:9090 (exposed), console on 9091.
set -euo pipefail

DIR=${MINIO_DATA_DIR:-/data/minio}
mkdir -p "$DIR"
export MINIO_ROOT_USER=${MINIO_ROOT_USER:?MINIO_ROOT_USER must be set}
export MINIO_ROOT_PASSWORD=${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD must be set}
export MINIO_BROWSER=${MINIO_BROWSER:-on}
exec minio server "$DIR" --address ":9090" --console-address ":9091" --quiet
