#!/usr/bin/env bash
# Backend (8102) and Dashboard (8101): the server image's own entrypoint
# (/app/entrypoint.sh, upstream's docker/server/entrypoint.sh), run from /app
# as upstream's start-app.sh does. It takes everything from the runtime
# environment (`docker run --env-file`): it runs `migrate` and `seed` from
# apps/backend only when STACK_SKIP_MIGRATIONS / STACK_SKIP_SEED_SCRIPT are not
# true (the build's warm boot), upserts the internal ApiKeySet with the
# install's keys, replaces the build sentinels, then starts both servers and
# exits when one of them does. The two servers are its children: on stop, and
# when it exits, the whole process group goes (else a restarted app would find
# its ports taken).
set -uo pipefail

cd "${HEXCLAVE_APP_DIR:-/app}" || exit 1
stop_group() {
  trap '' TERM INT
  kill -TERM 0 2>/dev/null
  wait
}
trap 'stop_group; exit 143' TERM INT
./entrypoint.sh &
rc=0
wait $! || rc=$?
echo "the server entrypoint exited with status $rc" >&2
stop_group
exit "$rc"
