#!/usr/bin/env bash
# Lints every shell script in the repository with shellcheck (part of `pnpm lint`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "shellcheck is not installed: run scripts/setup.sh (or apt-get install shellcheck / brew install shellcheck)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.sh' 'docker/*' '.ci/run' | while read -r f; do
  [ -f "$f" ] || continue
  case "$f" in *.sh|.ci/run) echo "$f" ;; *) head -n1 "$f" | grep -qE '^#!.*(ba)?sh' && echo "$f" ;; esac
done | sort -u)
[ "${#files[@]}" -eq 0 ] && exit 0
shellcheck --severity=style "${files[@]}"
echo "shellcheck: ${#files[@]} scripts clean"
