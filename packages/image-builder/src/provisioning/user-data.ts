/**
 * The warm boot's cloud-init documents, generated from typed data with
 * @hexclave/cloud-init-gen (no hand-written YAML). Pure.
 *
 * The guest, once: grows its root file system, loads the payload image from
 * the read-only drive with serial `payload`, installs and starts
 * `hexclave.service` (which on EVERY boot removes any old container and runs
 * the image fresh: never Docker's remembered restart state), waits for every
 * health check of the profile, stops the service cleanly, turns cloud-init
 * off for all later boots, trims free space, prints a done marker, and powers
 * off. Each step prints a marker on the console (see markers.ts).
 */
import {
  type CloudConfig,
  type SeedFiles,
  ShellScript,
  type SystemdUnit,
  seedFiles,
  sh,
  shQuote,
  systemdUnitFiles,
} from "@hexclave/cloud-init-gen";
import type { ProfileService } from "../profiles.js";
import { DONE_MARKER, FAILED_MARKER, HEALTHY_MARKER, STAGE_MARKER } from "./markers.js";
import {
  BUILD_PLACEHOLDER_SECRETS,
  DEFAULT_RUNTIME_HOST_PORTS,
  formatEnvFile,
  renderRuntimeEnv,
} from "./runtime-env.js";
import {
  BUILD_ENV_GUEST_PATH,
  RUNTIME_ENV_GUEST_PATH,
  RUNTIME_ENV_SCRIPT_PATH,
  runtimeEnvGuestScript,
} from "./runtime-env-fwcfg.js";
import {
  CONTAINER_NAME,
  HEALTH_REPORT_DIR,
  HEALTH_REPORT_ENV,
  HEALTH_REPORT_FILE,
  HEALTH_REPORT_RUNTIME_DIRECTORY,
  SERVICE_UNIT,
} from "./service-names.js";

export { CONTAINER_NAME, SERVICE_UNIT };
export const DATA_VOLUME = "hexclave-data";
/** The guest's fw_cfg files (kernel module qemu_fw_cfg), mounted read-only into the container for the file bridge proxy. */
export const FW_CFG_SYSFS_DIR = "/sys/firmware/qemu_fw_cfg";
/**
 * Where the container sees them: the proxy reads `by_name/opt/hexclave/bridge/raw` below it on every request
 * (told so by HEXCLAVE_FILE_BRIDGE_FWCFG). Not below /run/hexclave: the supervisor empties that state directory
 * at start, and a read-only mount there made it exit (the container never came up).
 */
export const FW_CFG_CONTAINER_DIR = "/run/qemu_fw_cfg";
export const FW_CFG_BRIDGE_FILE = `${FW_CFG_CONTAINER_DIR}/by_name/opt/hexclave/bridge/raw`;
/** Serial of the payload drive: the guest sees `/dev/disk/by-id/virtio-payload`. */
export const PAYLOAD_DRIVE_SERIAL = "payload";
export const ROOT_DEVICE = "/dev/vda";
export const PROVISION_SCRIPT_PATH = "/usr/local/lib/hexclave/provision.sh";
/** Seconds `docker stop` gives the container's supervisor to stop every service. */
export const STOP_GRACE_SECONDS = 60;

export interface ProvisioningInput {
  /** The payload image reference inside the tarball (`repo:tag`). */
  readonly imageTag: string;
  /** Its image ID (`sha256:...`): checked after `docker load`. */
  readonly imageId: string;
  /** Every health check of the profile (services.json). */
  readonly services: readonly ProfileService[];
  /** How long the guest waits for all of them, in seconds. */
  readonly healthTimeoutSeconds: number;
  /** Unique per build, so cloud-init treats each warm boot as a first boot. */
  readonly instanceId: string;
  readonly hostname?: string;
  /** The root file system's partition on /dev/vda (cloud images: 1); none for the bootstrap base's whole-disk ext4. */
  readonly rootPartition?: number;
  /** Packages cloud-init installs first (a cloud base has no Docker; the bootstrap base needs none). */
  readonly installPackages?: readonly string[];
  /** Trim free space before powering off (default true; false only to measure what trimming saves). */
  readonly trim?: boolean;
  /**
   * The warm boot's container runs migrations and seed once (the hexclave
   * profile, as upstream's run-build-migrations): its environment is rendered
   * in `build` mode (runtime-env.ts), otherwise in `run` mode. Default false.
   */
  readonly runBuildMigrations?: boolean;
  /** The supervisor's start deadlines are multiplied by it (runtime-env.ts `startTimeoutFactor`; default 1). */
  readonly startTimeoutFactor?: number;
}

/** The warm boot's environment file: default host ports, public placeholder secrets (runtime-env.ts). */
export function buildEnvFile(runBuildMigrations: boolean, startTimeoutFactor = 1): string {
  return formatEnvFile(
    renderRuntimeEnv({
      ports: DEFAULT_RUNTIME_HOST_PORTS,
      secrets: BUILD_PLACEHOLDER_SECRETS,
      mode: runBuildMigrations ? "build" : "run",
      startTimeoutFactor,
    }),
  );
}

/**
 * The unit: fresh container on every boot, clean stop with a grace period.
 * Its environment comes from the emulator's fw_cfg entry on every start
 * (runtime-env-fwcfg.ts), written to a 0600 file on tmpfs for `--env-file`.
 */
export function serviceUnit(imageTag: string): SystemdUnit {
  return {
    name: SERVICE_UNIT,
    unit: {
      Description: "Hexclave services (one container)",
      Requires: "docker.service",
      After: ["docker.service", "network-online.target"],
      Wants: "network-online.target",
    },
    service: {
      Type: "simple",
      // qemu_fw_cfg: the file bridge's port and token reach the container through fw_cfg (issue 10).
      // The runtime environment (issue 13): no env file, no container.
      ExecStartPre: [
        `-/usr/bin/docker rm -f ${CONTAINER_NAME}`,
        "-/sbin/modprobe qemu_fw_cfg",
        `${RUNTIME_ENV_SCRIPT_PATH} install`,
      ],
      // The supervisor's health report, where the emulator's `status` reads it with one guest-agent file read.
      // No Docker HEALTHCHECK in the guest: nothing reads its state there, and its exec of `hexclave-health` every
      // 10-15 s cost the guest seconds of CPU under TCG; the supervisor's monitor checks the same (niced).
      RuntimeDirectory: HEALTH_REPORT_RUNTIME_DIRECTORY,
      ExecStart: `/usr/bin/docker run --rm --name ${CONTAINER_NAME} --no-healthcheck --network host --env-file ${RUNTIME_ENV_GUEST_PATH} -v ${DATA_VOLUME}:/data -v ${FW_CFG_SYSFS_DIR}:${FW_CFG_CONTAINER_DIR}:ro -e HEXCLAVE_FILE_BRIDGE_FWCFG=${FW_CFG_BRIDGE_FILE} -v ${HEALTH_REPORT_DIR}:${HEALTH_REPORT_DIR} -e ${HEALTH_REPORT_ENV}=${HEALTH_REPORT_FILE} ${imageTag}`,
      ExecStop: `/usr/bin/docker stop -t ${STOP_GRACE_SECONDS} ${CONTAINER_NAME}`,
      TimeoutStopSec: STOP_GRACE_SECONDS + 30,
      Restart: "always",
      RestartSec: 2,
    },
    install: { WantedBy: "multi-user.target" },
  };
}

function healthLine(service: ProfileService): string {
  const h = service.health;
  // One argument per accepted status: check_http compares each ("200 204" as one word matched nothing: svix).
  if (h.kind === "http")
    return sh`wait_for ${service.name} check_http ${h.port} ${h.path} ${h.expectStatus.map((code) => String(code))}`;
  return sh`wait_for ${service.name} check_exec ${h.expectOutput ?? ""} ${[...h.command]}`;
}

/** The provisioning script (bash), every interpolated value quoted. */
export function provisioningScript(input: ProvisioningInput): string {
  const s = new ShellScript({ shell: "/bin/bash", strict: false });
  s.line("set -euo pipefail")
    .line("export LC_ALL=C.UTF-8")
    .assign("IMAGE", input.imageTag)
    .assign("IMAGE_ID", input.imageId)
    .assign("PAYLOAD", `/dev/disk/by-id/virtio-${PAYLOAD_DRIVE_SERIAL}`)
    .assign("HEALTH_TIMEOUT", input.healthTimeoutSeconds)
    .line("STAGE=provisioning-started")
    .line(`say() { printf '%s\\n' "$*"; printf '%s\\n' "$*" > /dev/console 2>/dev/null || true; }`)
    .line(`begin() { STAGE=$1; }`)
    .line(`reached() { say "${STAGE_MARKER} $STAGE $(cut -d' ' -f1 /proc/uptime)"; }`)
    .line("on_exit() {")
    .line("  rc=$?")
    .line('  if [ "$rc" -ne 0 ]; then')
    .line(`    journalctl -u ${SERVICE_UNIT} -u docker.service -n 40 --no-pager > /dev/console 2>&1 || true`)
    .line(`    say "${FAILED_MARKER} $STAGE $rc"`)
    .line("  fi")
    .line("}")
    .line("trap on_exit EXIT")
    .line("check_http() {")
    .line("  local port=$1 path=$2 code; shift 2")
    .line(`  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$port$path" || true)`)
    .line('  for want in "$@"; do [ "$code" = "$want" ] && return 0; done')
    .line("  return 1")
    .line("}")
    .line("check_exec() {")
    .line("  local expect=$1 out; shift")
    .line(`  out=$(timeout 30 docker exec ${CONTAINER_NAME} "$@" 2>/dev/null) || return 1`)
    .line('  [ -z "$expect" ] || [ "$(printf %s "$out" | tr -d "[:space:]")" = "$expect" ]')
    .line("}")
    .line("wait_for() {")
    .line("  local name=$1; shift")
    .line('  until "$@"; do')
    .line(`    if systemctl -q is-failed ${SERVICE_UNIT}; then say "${SERVICE_UNIT} failed"; return 1; fi`)
    .line(
      '    if [ "$(date +%s)" -ge "$DEADLINE" ]; then say "health check of $name did not pass within $HEALTH_TIMEOUT s"; return 1; fi',
    )
    .line("    sleep 1")
    .line("  done")
    .line(`  say "${HEALTHY_MARKER} $name"`)
    .line("}")
    .line("reached")
    // The disk was grown on the host (qemu-img resize); the file system follows, online.
    .line("begin disk-grown");
  if (input.rootPartition === undefined) s.line(sh`resize2fs ${ROOT_DEVICE}`);
  else
    s.line(sh`growpart ${ROOT_DEVICE} ${input.rootPartition} || [ $? -eq 1 ]`).line(
      sh`resize2fs ${`${ROOT_DEVICE}${input.rootPartition}`}`,
    );
  s.line("reached")
    .line("begin docker-ready")
    .line("systemctl start docker.service")
    .line("docker info > /dev/null")
    .line("reached")
    .line("begin payload-loaded")
    .line("udevadm settle || true")
    .line('for _ in $(seq 60); do [ -e "$PAYLOAD" ] && break; sleep 1; done')
    .line('docker load -i "$PAYLOAD"')
    .line(`loaded=$(docker image inspect --format '{{.Id}}' "$IMAGE")`)
    .line('if [ "$loaded" != "$IMAGE_ID" ]; then say "loaded $IMAGE is $loaded, expected $IMAGE_ID"; exit 1; fi')
    .line("reached")
    .line("begin service-started")
    .line("systemctl daemon-reload")
    .line(sh`systemctl enable --now ${SERVICE_UNIT}`)
    .line("reached")
    .line("begin services-healthy")
    .line("DEADLINE=$(( $(date +%s) + HEALTH_TIMEOUT ))");
  for (const service of input.services) s.line(healthLine(service));
  s.line("reached")
    .line("begin services-stopped")
    .line(sh`systemctl stop ${SERVICE_UNIT}`)
    .line("reached")
    .line("begin cloud-init-disabled")
    .line("touch /etc/cloud/cloud-init.disabled")
    .line("reached")
    .line("begin trimmed")
    .line("journalctl --vacuum-size=8M > /dev/null 2>&1 || true")
    .line("sync")
    .line(input.trim === false ? ": no trim requested" : "fstrim -v /")
    .line("reached")
    .line("sync")
    .line(`say ${shQuote(DONE_MARKER)}`);
  return s.toString();
}

/** The typed cloud-config of the warm boot. */
export function provisioningCloudConfig(input: ProvisioningInput): CloudConfig {
  return {
    hostname: input.hostname ?? "hexclave-emulator",
    // The disk is grown by the script (a failure there is an error, not a warning in a log).
    resize_rootfs: false,
    growpart: { mode: "off" },
    write_files: [
      { path: PROVISION_SCRIPT_PATH, content: provisioningScript(input), permissions: "0755", owner: "root:root" },
      {
        path: RUNTIME_ENV_SCRIPT_PATH,
        content: runtimeEnvGuestScript(SERVICE_UNIT),
        permissions: "0755",
        owner: "root:root",
      },
      // On tmpfs: gone at the next boot, where the emulator's fw_cfg entry takes over.
      {
        path: BUILD_ENV_GUEST_PATH,
        content: buildEnvFile(input.runBuildMigrations === true, input.startTimeoutFactor ?? 1),
        permissions: "0600",
        owner: "root:root",
      },
      ...systemdUnitFiles([serviceUnit(input.imageTag)]),
    ],
    ...(input.installPackages !== undefined && input.installPackages.length > 0
      ? { package_update: true, packages: [...input.installPackages] }
      : {}),
    runcmd: [[PROVISION_SCRIPT_PATH]],
    power_state: {
      mode: "poweroff",
      delay: "now",
      message: "Hexclave provisioning finished",
      timeout: 120,
      condition: true,
    },
  };
}

/** The four NoCloud seed files of the warm boot (for a `cidata` ISO). */
export function provisioningSeed(input: ProvisioningInput): SeedFiles {
  return seedFiles({
    userData: provisioningCloudConfig(input),
    metaData: { instanceId: input.instanceId, localHostname: input.hostname ?? "hexclave-emulator" },
  });
}
