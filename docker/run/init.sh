#!/usr/bin/env bash
# One-shot init of the Hexclave image, idempotent (it runs on every start,
# after stage 3): databases stackframe and svix, roles anon and authenticated
# and pg_stat_statements in stackframe (as upstream's entrypoint makes them),
# the MinIO buckets (HEXCLAVE_MINIO_BUCKETS, space-separated), and a check that
# the backend's ClickHouse admin user can log in.
set -euo pipefail

psql_=(psql -h /run/postgresql -U postgres -v ON_ERROR_STOP=1 -qAt)
for db in stackframe svix; do
  if [[ $("${psql_[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'") != 1 ]]; then
    "${psql_[@]}" -d postgres -c "CREATE DATABASE $db"
    echo "created database $db"
  fi
done
"${psql_[@]}" -d stackframe -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
for role in anon authenticated; do
  if [[ $("${psql_[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'") != 1 ]]; then
    "${psql_[@]}" -d postgres -c "CREATE ROLE $role NOLOGIN"
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

curl -fsS -o /dev/null -H "X-ClickHouse-User: ${CLICKHOUSE_ADMIN_USER:-stackframe}" -H "X-ClickHouse-Key: $CLICKHOUSE_PASSWORD" \
  --data-binary "SELECT 1" http://127.0.0.1:8123/
