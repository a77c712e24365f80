#!/usr/bin/env bash
# Runs a command as on a host whose /dev/kvm exists and passes the accelerator probe's tiny guest but stops a real
# kernel with "KVM internal error. Suberror: 1" (see lying-kvm-qemu.mjs): in a private mount namespace where /dev has
# a kvm node (the real /dev's entries bound back in), with the lying QEMU first on PATH. Nothing outside the command
# sees either. Root only (mount namespace).
#   bash packages/qemu-core/test-support/lying-kvm/run-on-lying-kvm-host.sh bash scripts/setup.sh --main-job
# LYING_KVM_SPARE=probes runs the accelerator probe's kernel guest for real under TCG; LYING_KVM_SPARE=pass-probes answers
# it as passed at once (a host whose probes pass): both leave the failure to the real guest (the runtime fallback).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${LYING_KVM_INSIDE:-}" != 1 ]]; then
  exec unshare --mount --propagation private env LYING_KVM_INSIDE=1 bash "${BASH_SOURCE[0]}" "$@"
fi
if [[ ! -e /dev/kvm ]]; then
  real=$(mktemp -d /tmp/lying-kvm-realdev.XXXXXX)
  mount --rbind /dev "$real"
  mount -t tmpfs -o mode=0755 lying-kvm-dev /dev
  for entry in "$real"/* "$real"/.[!.]*; do
    [[ -e "$entry" || -L "$entry" ]] || continue
    name=$(basename "$entry")
    if [[ -L "$entry" ]]; then cp -P "$entry" "/dev/$name"
    elif [[ -d "$entry" ]]; then mkdir -p "/dev/$name" && mount --rbind "$entry" "/dev/$name"
    else touch "/dev/$name" && mount --bind "$entry" "/dev/$name"
    fi
  done
  mknod -m 0666 /dev/kvm c 10 232
fi
bin=$(mktemp -d /tmp/lying-kvm-bin.XXXXXX)
node "$here/lying-kvm-qemu.mjs" install "$bin" >/dev/null
export PATH="$bin:$PATH"
echo "lying-kvm host: /dev/kvm present ($(stat -c '%t:%T' /dev/kvm)), $(command -v qemu-system-x86_64) wraps the real QEMU" >&2
exec "$@"
