#!/usr/bin/env bash
# Sourced by the release scripts that run `stack`: checks the arch argument, puts the project's Node.js and pnpm
# first on PATH and moves to the repository, so `pnpm stack` is this checkout's CLI.
#   release_env USAGE ARCH   (USAGE is printed, with exit 2, when ARCH is not amd64 or arm64)
release_env() {
  case "${2:-}" in
    amd64 | arm64) ;;
    *)
      echo "usage: $1" >&2
      echo "error: the arch must be amd64 or arm64, got '${2:-}'" >&2
      exit 2
      ;;
  esac
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  # shellcheck source=scripts/toolchain-env.sh
  source "$repo/scripts/toolchain-env.sh"
  cd "$repo" || exit 1
}
