#!/usr/bin/env bash
# One-shot init of the Hexclave image, idempotent (it runs on every start):
# databases hexclave and svix, the MinIO buckets (HEXCLAVE_MINIO_BUCKETS,
# space-separated), ClickHouse database analytics.
set -euo pipefail

psql_=(psql -h /run/postgresql -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
for db in hexclave svix; do
  if [[ $("${psql_[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$db'") != 1 ]]; then
    "${psql_[@]}" -c "CREATE DATABASE $db"
    echo "created database $db"
  fi
done

# MinIO: PUT /<bucket> signed with AWS SigV4 (curl does the signing); 409 = exists.
read -ra buckets <<<"${HEXCLAVE_MINIO_BUCKETS:-}"
for bucket in "${buckets[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD" "http://127.0.0.1:9090/$bucket")
  case "$code" in
    200) echo "created bucket $bucket" ;;
    409) ;;
    *)
      echo "creating bucket $bucket failed: HTTP $code" >&2
      exit 1
      ;;
  esac
done

curl -fsS --user "default:$CLICKHOUSE_PASSWORD" --data-binary "CREATE DATABASE IF NOT EXISTS analytics" http://127.0.0.1:8123/
