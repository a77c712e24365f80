#!/usr/bin/env bash
# hexclave-health: runs the health checks that services.json declares for one
# profile and prints one line per service: "<name> ok|fail <detail>".
# Exit status 0 when every checked service is healthy, 1 otherwise, 2 on usage
# or configuration errors.
#
#   hexclave-health                 every service of the profile
#   hexclave-health postgres redis  only those
#   hexclave-health --quiet NAME    no output, status only
#
# Environment: HEXCLAVE_SERVICES_FILE (default /etc/hexclave/services.json),
# HEXCLAVE_PROFILE (default hexclave), HEXCLAVE_HEALTH_TIMEOUT_SECONDS (10).
set -euo pipefail

SERVICES_FILE=${HEXCLAVE_SERVICES_FILE:-/etc/hexclave/services.json}
PROFILE=${HEXCLAVE_PROFILE:-hexclave}
CHECK_TIMEOUT=${HEXCLAVE_HEALTH_TIMEOUT_SECONDS:-10}

quiet=0
names=()
for arg in "$@"; do
  case "$arg" in
    -q | --quiet) quiet=1 ;;
    -h | --help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "hexclave-health: unknown option $arg" >&2
      exit 2
      ;;
    *) names+=("$arg") ;;
  esac
done

if [[ ! -r $SERVICES_FILE ]]; then
  echo "hexclave-health: cannot read $SERVICES_FILE" >&2
  exit 2
fi

# One line per service, fields split by US (0x1f) so empty fields survive: name, kind, port, path, expected codes, expected output, command (JSON).
declare -A KIND PORT HPATH CODES EXPECT CMD
order=()
while IFS=$'\x1f' read -r name kind port path codes expect cmd; do
  order+=("$name")
  KIND[$name]=$kind
  PORT[$name]=$port
  HPATH[$name]=$path
  CODES[$name]=$codes
  EXPECT[$name]=$expect
  CMD[$name]=$cmd
done < <(jq -r --arg p "$PROFILE" '
  .profiles[$p].services // error("profile \($p) not found")
  | .[]
  | [.name, .health.kind, (.health.port // "" | tostring), (.health.path // ""),
     ((.health.expectStatus // []) | map(tostring) | join(" ")),
     (.health.expectOutput // ""), ((.health.command // []) | tojson)]
  | join("\u001f")' "$SERVICES_FILE")

if [[ ${#order[@]} -eq 0 ]]; then
  echo "hexclave-health: profile $PROFILE has no services in $SERVICES_FILE" >&2
  exit 2
fi
[[ ${#names[@]} -gt 0 ]] || names=("${order[@]}")

DETAIL=""
# check NAME: returns 0 when healthy; DETAIL says what was seen.
check() {
  local name=$1 code out rc
  case "${KIND[$name]}" in
    http)
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$CHECK_TIMEOUT" \
        "http://127.0.0.1:${PORT[$name]}${HPATH[$name]}" 2>/dev/null) || true
      DETAIL="GET :${PORT[$name]}${HPATH[$name]} -> ${code:-no answer} (want ${CODES[$name]})"
      [[ " ${CODES[$name]} " == *" ${code} "* ]]
      ;;
    tcp)
      DETAIL="tcp :${PORT[$name]}"
      # shellcheck disable=SC2016 # $1 expands in the inner bash, on purpose
      timeout "$CHECK_TIMEOUT" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "${PORT[$name]}" 2>/dev/null
      ;;
    exec)
      local -a argv
      mapfile -t argv < <(jq -r '.[]' <<<"${CMD[$name]}")
      rc=0
      out=$(timeout "$CHECK_TIMEOUT" "${argv[@]}" 2>&1) || rc=$?
      out=${out//$'\n'/ }
      DETAIL="${argv[*]} -> status $rc${out:+, output: ${out:0:120}}"
      [[ $rc -eq 0 ]] || return 1
      [[ -z ${EXPECT[$name]} || $out == "${EXPECT[$name]}" ]]
      ;;
    *)
      DETAIL="unknown health check kind '${KIND[$name]}'"
      return 1
      ;;
  esac
}

status=0
for name in "${names[@]}"; do
  if [[ -z ${KIND[$name]+set} ]]; then
    echo "hexclave-health: no service $name in profile $PROFILE" >&2
    exit 2
  fi
  if check "$name"; then
    [[ $quiet -eq 1 ]] || printf '%s ok %s\n' "$name" "$DETAIL"
  else
    status=1
    [[ $quiet -eq 1 ]] || printf '%s fail %s\n' "$name" "$DETAIL"
  fi
done
exit "$status"
