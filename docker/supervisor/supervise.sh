#!/usr/bin/env bash
# hexclave-supervise: the small supervisor shared by the Hexclave image and the
# self-test image. It runs under tini (PID 1, zombie reaping, signal
# forwarding) and is driven by data only:
#
#   services.json  which services a profile has, their start stage, health
#                  check, stop signal and start deadline, and the one-shot init
#   RUN_DIR/<script>.sh  how to run each service in the foreground (exec ...);
#                  <script> is the service's "script", default its name; the
#                  script gets the service's name in HEXCLAVE_SERVICE
#   RUN_DIR/init.sh    the idempotent one-shot init
#
# Start: stage by stage in ascending order; every service of a stage is
# started, then the supervisor waits until each is healthy (deadline per
# service: "startTimeoutSeconds", or "buildStartTimeoutSeconds" while the
# build's warm boot runs the migrations, HEXCLAVE_RUN_BUILD_MIGRATIONS=1),
# runs the init after the stage the profile names, then goes on. When all are
# healthy it prints "hexclave: all services healthy" and touches STATE_DIR/ready.
# A service that misses its deadline is reported (its name and last check)
# and kept restarting; the others keep running and the later stages still
# start, as upstream's supervisord does: one broken program does not take the
# emulator's other endpoints down. The ready marker and the "all services
# healthy" line come when every service is healthy, possibly later (the
# health monitor notices). Only a failed one-shot init is fatal.
# Crash: a service that exits is restarted, with exponential backoff.
# Stop (SIGTERM/SIGINT): services get their stop signal stage by stage in
# reverse order, each stage waiting for its processes to exit, all within
# HEXCLAVE_STOP_GRACE_SECONDS; what is left is killed.
#
# Environment (defaults): HEXCLAVE_SERVICES_FILE (/etc/hexclave/services.json),
# HEXCLAVE_PROFILE (hexclave), HEXCLAVE_RUN_DIR (/etc/hexclave/run),
# HEXCLAVE_STATE_DIR (/run/hexclave), HEXCLAVE_STOP_GRACE_SECONDS (25),
# HEXCLAVE_RESTART_BACKOFF_MAX_SECONDS (30), HEXCLAVE_MONITOR_INTERVAL_SECONDS
# (15; 0 turns the health monitor off), HEXCLAVE_START_TIMEOUT_FACTOR (1: every
# start deadline and the init's are multiplied by it, 1-10; the emulator sets 3
# for a guest of another architecture, which runs about three times slower),
# HEXCLAVE_HEALTH_REPORT (none: a file the health monitor rewrites after each
# check, the first as soon as the start-up ends: the check's epoch seconds,
# the health tool's lines, "exit <code>"; the emulator's guest binds it out, so
# `stack emulator status` reads the programs' health without a check of its own).
set -euo pipefail

SERVICES_FILE=${HEXCLAVE_SERVICES_FILE:-/etc/hexclave/services.json}
PROFILE=${HEXCLAVE_PROFILE:-hexclave}
RUN_DIR=${HEXCLAVE_RUN_DIR:-/etc/hexclave/run}
STATE_DIR=${HEXCLAVE_STATE_DIR:-/run/hexclave}
STOP_GRACE=${HEXCLAVE_STOP_GRACE_SECONDS:-25}
BACKOFF_MAX=${HEXCLAVE_RESTART_BACKOFF_MAX_SECONDS:-30}
MONITOR_INTERVAL=${HEXCLAVE_MONITOR_INTERVAL_SECONDS:-15}
HEALTH=${HEXCLAVE_HEALTH_BIN:-hexclave-health}
REPORT=${HEXCLAVE_HEALTH_REPORT:-}
export HEXCLAVE_SERVICES_FILE=$SERVICES_FILE HEXCLAVE_PROFILE=$PROFILE

log() { printf '%s hexclave-supervisor: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() {
  log "FATAL: $*"
  stop_all
  exit 1
}

[[ -r $SERVICES_FILE ]] || {
  log "FATAL: cannot read $SERVICES_FILE"
  exit 1
}
format=$(jq -r '.formatVersion' "$SERVICES_FILE")
[[ $format == 1 ]] || {
  log "FATAL: $SERVICES_FILE has formatVersion $format; this supervisor reads 1"
  exit 1
}
jq -e --arg p "$PROFILE" '.profiles[$p]' "$SERVICES_FILE" >/dev/null || {
  log "FATAL: profile '$PROFILE' is not in $SERVICES_FILE"
  exit 1
}

FACTOR=${HEXCLAVE_START_TIMEOUT_FACTOR:-1}
[[ $FACTOR =~ ^([1-9]|10)$ ]] || {
  log "FATAL: HEXCLAVE_START_TIMEOUT_FACTOR must be a whole number from 1 to 10, got '$FACTOR'"
  exit 1
}

# Service table: name, stage, stop signal, start deadline (profile defaults apply).
declare -A STAGE SIGNAL DEADLINE SCRIPT
NAMES=()
BUILD_MIGRATIONS=${HEXCLAVE_RUN_BUILD_MIGRATIONS:-0}
while IFS=$'\x1f' read -r name stage sig deadline build_deadline script; do
  NAMES+=("$name")
  STAGE[$name]=$stage
  SIGNAL[$name]=$sig
  DEADLINE[$name]=$((deadline * FACTOR))
  [[ $BUILD_MIGRATIONS == 1 ]] && DEADLINE[$name]=$((build_deadline * FACTOR))
  SCRIPT[$name]=$script
done < <(jq -r --arg p "$PROFILE" '
  .profiles[$p] as $prof
  | $prof.services[]
  | (.startTimeoutSeconds // $prof.defaults.startTimeoutSeconds // 120) as $deadline
  | [.name, (.stage | tostring), (.stopSignal // $prof.defaults.stopSignal // "TERM"),
     ($deadline | tostring), (.buildStartTimeoutSeconds // $deadline | tostring), (.script // .name)]
  | join("\u001f")' "$SERVICES_FILE")
mapfile -t STAGES < <(jq -r --arg p "$PROFILE" '.profiles[$p].services | map(.stage) | unique | .[]' "$SERVICES_FILE")
INIT_AFTER=$(jq -r --arg p "$PROFILE" '.profiles[$p].init.afterStage // ""' "$SERVICES_FILE")
INIT_SCRIPT=$(jq -r --arg p "$PROFILE" '.profiles[$p].init.script // "init"' "$SERVICES_FILE")
INIT_TIMEOUT=$(($(jq -r --arg p "$PROFILE" '.profiles[$p].init.timeoutSeconds // 120' "$SERVICES_FILE") * FACTOR))

for name in "${NAMES[@]}"; do
  [[ -x $RUN_DIR/${SCRIPT[$name]}.sh ]] || {
    log "FATAL: no executable run script $RUN_DIR/${SCRIPT[$name]}.sh for service $name"
    exit 1
  }
done

rm -rf "$STATE_DIR"
mkdir -p "$STATE_DIR/pids" "$STATE_DIR/restarts"
[[ -z $REPORT ]] || rm -f "$REPORT" "$REPORT.tmp"

services_of_stage() {
  local n
  for n in "${NAMES[@]}"; do
    [[ ${STAGE[$n]} == "$1" ]] && printf '%s\n' "$n"
  done
  return 0
}

# keep NAME: runs the service in its own session and restarts it when it exits,
# with exponential backoff (reset after a run of a minute or more), until the
# supervisor is stopping. Output is prefixed with the service name.
keep() {
  local name=$1 backoff=1 started pid rc restarts=0 tick
  while [[ ! -e $STATE_DIR/stopping ]]; do
    started=$SECONDS
    HEXCLAVE_SERVICE=$name setsid "$RUN_DIR/${SCRIPT[$name]}.sh" </dev/null > >(sed -u "s/^/$name | /") 2>&1 &
    pid=$!
    echo "$pid" >"$STATE_DIR/pids/$name"
    rc=0
    wait "$pid" || rc=$?
    rm -f "$STATE_DIR/pids/$name"
    [[ -e $STATE_DIR/stopping ]] && break
    ((SECONDS - started >= 60)) && backoff=1
    restarts=$((restarts + 1))
    echo "$restarts" >"$STATE_DIR/restarts/$name"
    log "service $name exited with status $rc; restart $restarts in ${backoff}s"
    for ((tick = 0; tick < backoff * 5; tick++)); do
      [[ -e $STATE_DIR/stopping ]] && return 0
      sleep 0.2
    done
    backoff=$((backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2))
  done
}

declare -A KEEPER
start_service() {
  local name=$1
  log "starting $name (stage ${STAGE[$name]})"
  keep "$name" &
  KEEPER[$name]=$!
}

# wait_healthy NAME: polls the service's health until it passes or its
# deadline ends; a miss is reported and remembered in UNHEALTHY, not fatal.
UNHEALTHY=()
wait_healthy() {
  local name=$1 deadline=$((SECONDS + DEADLINE[$1])) last=""
  while ((SECONDS < deadline)); do
    if last=$("$HEALTH" "$name" 2>&1); then
      log "$name healthy after $((SECONDS - T0))s"
      return 0
    fi
    sleep 0.5
  done
  log "FAILED: service $name did not become healthy within ${DEADLINE[$name]}s (last check: ${last:-none}); it keeps being restarted, the other services keep running"
  UNHEALTHY+=("$name")
}

run_init() {
  log "running one-shot init ($RUN_DIR/$INIT_SCRIPT.sh)"
  local rc=0
  timeout "$INIT_TIMEOUT" "$RUN_DIR/$INIT_SCRIPT.sh" </dev/null > >(sed -u "s/^/init | /") 2>&1 || rc=$?
  if [[ $rc -eq 124 ]]; then
    die "one-shot init did not finish within ${INIT_TIMEOUT}s"
  elif [[ $rc -ne 0 ]]; then
    die "one-shot init failed with status $rc"
  fi
  log "one-shot init done"
}

STOPPED=0
# stop_all: reverse stage order, each service gets its stop signal; a stage
# waits for its processes until the overall grace period ends, then kills them.
stop_all() {
  [[ $STOPPED -eq 1 ]] && return 0
  STOPPED=1
  touch "$STATE_DIR/stopping"
  [[ -n ${MONITOR_PID:-} ]] && { kill "$MONITOR_PID" 2>/dev/null || true; }
  local deadline=$((SECONDS + STOP_GRACE)) i stage name pid waiting
  local -a pids names
  for ((i = ${#STAGES[@]} - 1; i >= 0; i--)); do
    stage=${STAGES[$i]}
    pids=()
    names=()
    while read -r name; do
      [[ -n $name ]] || continue
      pid=$(cat "$STATE_DIR/pids/$name" 2>/dev/null) || continue
      log "stopping $name (SIG${SIGNAL[$name]} to $pid)"
      kill -s "${SIGNAL[$name]}" "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    done < <(services_of_stage "$stage")
    while :; do
      waiting=0
      for pid in "${pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && waiting=1
      done
      [[ $waiting -eq 0 ]] && break
      if ((SECONDS >= deadline)); then
        for ((j = 0; j < ${#pids[@]}; j++)); do
          if kill -0 "${pids[$j]}" 2>/dev/null; then
            log "${names[$j]} did not stop within the ${STOP_GRACE}s grace period: killing it"
            kill -KILL -- "-${pids[$j]}" 2>/dev/null || kill -KILL "${pids[$j]}" 2>/dev/null || true
          fi
        done
        break
      fi
      sleep 0.2
    done
    [[ ${#names[@]} -eq 0 ]] || log "stage $stage stopped: ${names[*]}"
  done
  # A service a keeper restarted while the stop began: no grace left for it.
  for pid in "$STATE_DIR"/pids/*; do
    [[ -e $pid ]] && { kill -KILL -- "-$(cat "$pid")" 2>/dev/null || true; }
  done
  for name in "${!KEEPER[@]}"; do
    wait "${KEEPER[$name]}" 2>/dev/null || true
  done
  return 0
}

on_signal() {
  log "received $1: stopping all services"
  # The idle sleep may have been forked as the signal arrived (then it missed it): it must not outlive the supervisor.
  [[ -n ${IDLE_PID:-} ]] && { kill "$IDLE_PID" 2>/dev/null || true; }
  stop_all
  log "all services stopped"
  exit 0
}
trap 'on_signal SIGTERM' TERM
trap 'on_signal SIGINT' INT

# check_health: one run of the health tool, at a low priority (under TCG a check
# costs seconds of CPU, which the services it checks need more). Logs every change
# of a service's health against the caller's STATE (an associative array), sets
# ALL_OK, and rewrites REPORT when set (temp file, then rename).
check_health() {
  local epoch out rc=0 line name now
  epoch=$(date +%s)
  out=$(nice -n 10 "$HEALTH" 2>&1) || rc=$?
  ALL_OK=1
  while read -r line; do
    [[ -n $line ]] || continue
    name=${line%% *}
    now=$(cut -d' ' -f2 <<<"$line")
    if [[ ${STATE[$name]:-ok} != "$now" ]]; then
      if [[ $now == ok ]]; then log "$name healthy again"; else log "$name unhealthy: ${line#* * }"; fi
    fi
    STATE[$name]=$now
    [[ $now == ok ]] || ALL_OK=0
  done <<<"$out"
  if [[ -n $REPORT ]]; then
    if printf '%s\n%s\nexit %s\n' "$epoch" "$out" "$rc" >"$REPORT.tmp"; then mv -f "$REPORT.tmp" "$REPORT" || true; fi
  fi
}

# monitor: checks the services' health every MONITOR_INTERVAL seconds, the first
# time at once (for REPORT); logs every health change after start-up, so a crashed
# and restarted service shows up in the logs as "unhealthy" then "healthy again";
# when the start left services unhealthy, it marks the image ready once all are
# healthy.
monitor() {
  trap - TERM INT
  local -A STATE
  local ALL_OK
  while :; do
    check_health
    if [[ $ALL_OK == 1 && ! -e $STATE_DIR/ready ]]; then
      touch "$STATE_DIR/ready"
      log "hexclave: all services healthy after $((SECONDS - T0))s"
    fi
    sleep "$MONITOR_INTERVAL" >/dev/null 2>&1 || break
  done
}

T0=$SECONDS
log "profile $PROFILE: ${#NAMES[@]} services in stages ${STAGES[*]}"
for stage in "${STAGES[@]}"; do
  mapfile -t stage_services < <(services_of_stage "$stage")
  for name in "${stage_services[@]}"; do
    start_service "$name"
  done
  for name in "${stage_services[@]}"; do
    wait_healthy "$name"
  done
  [[ $INIT_AFTER == "$stage" ]] && run_init
done
if [[ ${#UNHEALTHY[@]} -eq 0 ]]; then
  touch "$STATE_DIR/ready"
  log "hexclave: all services healthy after $((SECONDS - T0))s"
else
  log "hexclave: started with unhealthy services: ${UNHEALTHY[*]} (the others are running)"
fi

MONITOR_PID=""
if [[ $MONITOR_INTERVAL == 0 && ${#UNHEALTHY[@]} -gt 0 ]]; then
  MONITOR_INTERVAL=15
fi
if [[ $MONITOR_INTERVAL != 0 ]]; then
  monitor &
  MONITOR_PID=$!
elif [[ -n $REPORT ]]; then
  # No monitor: one report of the started services.
  (
    trap - TERM INT
    declare -A STATE
    check_health
  ) &
fi
# Sleep in the background and wait for it, so a signal is handled at once. The sleep holds none of the supervisor's
# output: one left behind would keep a reader of that output (docker logs, a test) waiting after the supervisor exits.
IDLE_PID=""
while :; do
  sleep 3600 >/dev/null 2>&1 &
  IDLE_PID=$!
  wait "$IDLE_PID" || true
done
