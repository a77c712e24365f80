#!/usr/bin/env bash
# Puts the project's Node.js 24 and pnpm (installed by scripts/setup.sh under their own prefix)
# first on PATH. Source it: `source scripts/toolchain-env.sh`.
if [ "$(id -u)" -eq 0 ]; then
  HEXCLAVE_TOOLCHAIN=${HEXCLAVE_TOOLCHAIN:-/opt/hexclave-toolchain}
else
  HEXCLAVE_TOOLCHAIN=${HEXCLAVE_TOOLCHAIN:-$HOME/.local/share/hexclave-toolchain}
fi
export HEXCLAVE_TOOLCHAIN
case ":$PATH:" in
  *":$HEXCLAVE_TOOLCHAIN/bin:"*) ;;
  *) export PATH="$HEXCLAVE_TOOLCHAIN/bin:$PATH" ;;
esac
