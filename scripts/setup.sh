#!/usr/bin/env bash
# Sets up a machine for the Hexclave emulator, idempotently: system packages (QEMU, firmware,
# image tools, Docker), Node.js >= 22 and pnpm under their own prefix, dependencies and a build.
#
#   bash scripts/setup.sh              set up only
#   bash scripts/setup.sh --main-job   set up, build the self-test image (offline, from the Debian
#                                      mirror), start the emulator and check its four ports
#
# Debian/Ubuntu (apt, as root or with sudo) and macOS (Homebrew) are supported. Safe to run again.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
main_job=false
for arg in "$@"; do
  case "$arg" in
    --main-job) main_job=true ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

log() { printf '\n==> %s\n' "$*"; }
os=$(uname -s)

# shellcheck source=scripts/toolchain-env.sh
source "$repo/scripts/toolchain-env.sh"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

install_system_packages_apt() {
  local packages=(
    qemu-system-x86 qemu-system-arm qemu-utils ovmf qemu-efi-aarch64
    xorriso mmdebstrap e2fsprogs fdisk dosfstools mtools zerofree
    qemu-user-static binfmt-support arch-test
    docker.io shellcheck iproute2 curl ca-certificates git
    chromium
  )
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "system packages: all present"
    return
  fi
  log "Installing system packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q || echo "apt-get update reported errors (an unreachable extra source?); continuing"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_system_packages_brew() {
  command -v brew >/dev/null 2>&1 || { echo "Homebrew is required on macOS: https://brew.sh" >&2; exit 1; }
  log "Installing Homebrew packages"
  brew list qemu >/dev/null 2>&1 || brew install qemu
  brew list xorriso >/dev/null 2>&1 || brew install xorriso
  brew list shellcheck >/dev/null 2>&1 || brew install shellcheck
  brew list node >/dev/null 2>&1 || brew install node
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

install_node_and_pnpm() {
  if [ "$(node_major)" -lt 22 ]; then
    log "Installing Node.js 24 under $HEXCLAVE_TOOLCHAIN (the system's node is left alone)"
    if ! command -v npm >/dev/null 2>&1; then
      if [ "$os" = Linux ]; then
        DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q nodejs npm
      else
        echo "npm is required to install Node.js 24" >&2; exit 1
      fi
    fi
    mkdir -p "$HEXCLAVE_TOOLCHAIN"
    npm install -g --prefix "$HEXCLAVE_TOOLCHAIN" --no-fund --no-audit node@24
    hash -r
  fi
  echo "node $(node --version) at $(command -v node)"
  if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version | cut -d. -f1)" -lt 10 ]; then
    log "Installing pnpm 10 under $HEXCLAVE_TOOLCHAIN"
    mkdir -p "$HEXCLAVE_TOOLCHAIN"
    npm install -g --prefix "$HEXCLAVE_TOOLCHAIN" --no-fund --no-audit pnpm@10
    hash -r
  fi
  echo "pnpm $(pnpm --version) at $(command -v pnpm)"
}

case "$os" in
  Linux)
    command -v apt-get >/dev/null 2>&1 || { echo "This script supports Debian/Ubuntu (apt) and macOS (Homebrew)." >&2; exit 1; }
    install_system_packages_apt
    ;;
  Darwin) install_system_packages_brew ;;
  *) echo "Unsupported OS: $os" >&2; exit 1 ;;
esac
install_node_and_pnpm
if [ "$os" = Linux ]; then bash "$repo/scripts/ensure-dockerd.sh"; fi

log "Installing dependencies and building"
cd "$repo"
CI=true pnpm install --frozen-lockfile
pnpm build

echo
echo "Set up. Put the toolchain on PATH in your shell with:  source scripts/toolchain-env.sh"

if [ "$main_job" = true ]; then
  bash "$repo/scripts/main-job.sh"
fi
