#!/usr/bin/env bash
# Inbucket 3.1.0: web 0.0.0.0:9001 (exposed), SMTP 2500, POP3 1100, mail in /data/inbucket.
set -euo pipefail

DIR=${INBUCKET_DATA_DIR:-/data/inbucket}
mkdir -p "$DIR"
export INBUCKET_WEB_ADDR=0.0.0.0:9001
export INBUCKET_SMTP_ADDR=0.0.0.0:2500
export INBUCKET_POP3_ADDR=0.0.0.0:1100
export INBUCKET_WEB_UIDIR=/opt/inbucket/ui
export INBUCKET_STORAGE_TYPE=file
export INBUCKET_STORAGE_PARAMS="path:$DIR"
cd /opt/inbucket
exec /opt/inbucket/bin/inbucket
