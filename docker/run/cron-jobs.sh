#!/usr/bin/env bash
# The backend's cron endpoints, polled as upstream's run-cron-jobs.sh does
# (vercel.json's crons): the email queue step and the external-DB sync
# sequencer and poller, each in its own loop, with Bearer CRON_SECRET. It
# waits for the backend first, then marks itself running for the health check.
set -uo pipefail

backend="http://127.0.0.1:${BACKEND_PORT:-8102}"
running=${HEXCLAVE_STATE_DIR:-/run/hexclave}/cron-jobs.running
: "${CRON_SECRET:?CRON_SECRET must be set (the runtime environment); refusing to start the cron loops}"
rm -f "$running"
until curl -fsS -o /dev/null --max-time 10 "$backend/health"; do sleep 2; done

poll() {
  while :; do
    curl -sf -o /dev/null --max-time 120 -H "Authorization: Bearer $CRON_SECRET" "$backend$1" || true
    sleep 1
  done
}
trap 'trap "" TERM INT; kill -TERM 0 2>/dev/null; exit 0' TERM INT
poll /api/latest/internal/email-queue-step &
poll /api/latest/internal/external-db-sync/sequencer &
poll /api/latest/internal/external-db-sync/poller &
touch "$running"
echo "cron loops started"
wait
