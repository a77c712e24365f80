#!/bin/bash
# Stand-in of the server image's entrypoint (stackauth/server: /app/entrypoint.sh,
# upstream docker/server/entrypoint.sh). It keeps that script's contract, step
# by step, and fails loudly where the real one (or the apps it starts) would:
#  1. sources /run/stack-auth/rotated-secrets.env when present;
#  2. in local-emulator mode requires the three STACK_SEED_INTERNAL_PROJECT_* keys;
#  3. exports the internal project's id, keys, URLs and USE_INLINE_ENV_VARS;
#  4. `cd apps/backend && node dist/db-migrations.mjs migrate`, then `seed`,
#     unless STACK_SKIP_MIGRATIONS / STACK_SKIP_SEED_SCRIPT is true;
#  5. upserts the internal ApiKeySet row with psql (hex-only keys);
#  6. replaces STACK_ENV_VAR_SENTINEL_* in the built apps once (marker file);
#  7. starts apps/backend/server.js and apps/dashboard/server.js; exits when one does.
set -e

if [ -f /run/stack-auth/rotated-secrets.env ]; then
  set -a
  # shellcheck disable=SC1091
  source /run/stack-auth/rotated-secrets.env
  set +a
fi

if [ "$NEXT_PUBLIC_STACK_IS_LOCAL_EMULATOR" = "true" ]; then
  for v in STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY STACK_SEED_INTERNAL_PROJECT_SECRET_SERVER_KEY STACK_SEED_INTERNAL_PROJECT_SUPER_SECRET_ADMIN_KEY; do
    if [ -z "${!v:-}" ]; then
      echo "$v must be set in local-emulator mode (injected by the QEMU VM)." >&2
      exit 1
    fi
  done
fi

export NEXT_PUBLIC_STACK_PROJECT_ID=internal
export NEXT_PUBLIC_STACK_PUBLISHABLE_CLIENT_KEY=${STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY}
export STACK_SECRET_SERVER_KEY=${STACK_SEED_INTERNAL_PROJECT_SECRET_SERVER_KEY:-}
export STACK_SUPER_SECRET_ADMIN_KEY=${STACK_SEED_INTERNAL_PROJECT_SUPER_SECRET_ADMIN_KEY:-}
export NEXT_PUBLIC_BROWSER_STACK_DASHBOARD_URL=${NEXT_PUBLIC_STACK_DASHBOARD_URL}
export NEXT_PUBLIC_STACK_PORT_PREFIX=${NEXT_PUBLIC_STACK_PORT_PREFIX:-81}
export NEXT_PUBLIC_BROWSER_STACK_API_URL=${NEXT_PUBLIC_STACK_API_URL}
export BACKEND_PORT=${BACKEND_PORT:-${NEXT_PUBLIC_STACK_PORT_PREFIX}02}
export DASHBOARD_PORT=${DASHBOARD_PORT:-${NEXT_PUBLIC_STACK_PORT_PREFIX}01}
export USE_INLINE_ENV_VARS=true

if [ "$STACK_SKIP_MIGRATIONS" = "true" ] || [ "$STACK_RUN_MIGRATIONS" = "false" ]; then
  echo "Skipping migrations."
else
  echo "Running migrations..."
  cd apps/backend
  node dist/db-migrations.mjs migrate
  cd ../..
fi
if [ "$STACK_SKIP_SEED_SCRIPT" = "true" ] || [ "$STACK_RUN_SEED_SCRIPT" = "false" ]; then
  echo "Skipping seed script."
else
  echo "Running seed script..."
  cd apps/backend
  node dist/db-migrations.mjs seed
  cd ../..
fi

if [ "$NEXT_PUBLIC_STACK_IS_LOCAL_EMULATOR" = "true" ] && [ -n "${STACK_DATABASE_CONNECTION_STRING:-}" ]; then
  for varname in STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY STACK_SEED_INTERNAL_PROJECT_SECRET_SERVER_KEY STACK_SEED_INTERNAL_PROJECT_SUPER_SECRET_ADMIN_KEY; do
    if ! printf '%s' "${!varname}" | grep -Eq '^[0-9a-fA-F]+$'; then
      echo "ERROR: $varname is not hex-only; refusing to bootstrap internal api key set." >&2
      exit 1
    fi
  done
  echo "Bootstrapping internal API key set (emulator runtime)..."
  psql "$STACK_DATABASE_CONNECTION_STRING" -v ON_ERROR_STOP=1 -q <<SQL
INSERT INTO "ApiKeySet" ("projectId", id, "publishableClientKey", "secretServerKey", "superSecretAdminKey")
VALUES ('internal', '3142e763-b230-44b5-8636-aa62f7489c26', '${STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY}',
        '${STACK_SEED_INTERNAL_PROJECT_SECRET_SERVER_KEY}', '${STACK_SEED_INTERNAL_PROJECT_SUPER_SECRET_ADMIN_KEY}')
ON CONFLICT ("projectId", id) DO UPDATE SET "publishableClientKey" = EXCLUDED."publishableClientKey",
  "secretServerKey" = EXCLUDED."secretServerKey", "superSecretAdminKey" = EXCLUDED."superSecretAdminKey";
SQL
fi

WORK_DIR="${STACK_RUNTIME_WORK_DIR:-/var/tmp/stack-runtime}"
mkdir -p "$WORK_DIR"
if [ "$WORK_DIR" != "$PWD" ]; then
  echo "Copying files to working directory..."
  cp -r ./. "$WORK_DIR"/.
fi
SENTINEL_MARKER="$WORK_DIR/.stack-sentinels-replaced"
if [ ! -f "$SENTINEL_MARKER" ]; then
  echo "Replacing sentinels..."
  grep -rho "STACK_ENV_VAR_SENTINEL_[A-Z_]*" "$WORK_DIR/apps" | sort -u | while read -r sentinel; do
    env_var=${sentinel#STACK_ENV_VAR_SENTINEL_}
    value="${!env_var}"
    [ -n "$value" ] || continue
    escaped=$(printf '%s\n' "$value" | sed -e 's/[\/&|]/\\&/g')
    find "$WORK_DIR/apps" -type f -exec sed -i "s|${sentinel}|${escaped}|g" {} +
  done
  touch "$SENTINEL_MARKER"
fi

echo "Starting backend on port $BACKEND_PORT..."
cd "$WORK_DIR"
PORT=$BACKEND_PORT HOSTNAME=0.0.0.0 node apps/backend/server.js &
echo "Starting dashboard on port $DASHBOARD_PORT..."
PORT=$DASHBOARD_PORT HOSTNAME=0.0.0.0 node apps/dashboard/server.js &
wait -n
