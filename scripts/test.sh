#!/usr/bin/env bash
# Runs the whole test suite (unit, integration, end-to-end) after scripts/setup.sh.
# Extra arguments go to vitest, e.g. `bash scripts/test.sh --project unit`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/toolchain-env.sh
source "$repo/scripts/toolchain-env.sh"
cd "$repo"
if [ "$(uname -s)" = Linux ]; then bash scripts/ensure-dockerd.sh; fi
pnpm lint
pnpm typecheck
pnpm test "$@"
