/**
 * The emulator runtime behind `stack emulator start|stop|reset|status|logs|bench`:
 * the Hexclave emulator VM (the image's manifest, its four forwarded
 * services) on top of qemu-core's `VmInstance`, with instant restart (issue 8):
 *
 * - `stop` flushes the guest (guest agent fsfreeze, or `sync`), saves the
 *   VM's RAM and device state to `suspend.vmstate` beside the overlay (QEMU's
 *   migration stream; the overlay itself is the disk half, untouched until the
 *   next start), and quits QEMU. `start` resumes it with the recorded spec
 *   (`-incoming`), deletes the consumed file, thaws the guest's file systems,
 *   sets its clock, bounces its NIC, and runs every readiness check as on a
 *   cold boot. (A state file, not an internal qcow2 snapshot: measured here,
 *   `-incoming` loads 634 MiB of state in 1.7 to 2 s against 3.5 to 9 s for
 *   `-loadvm`; see qemu-core's instance/state-file.ts.)
 * - The first cold start that reaches healthy saves `fresh`: a disk-only
 *   snapshot of the overlay plus `fresh.vmstate` (see fresh-state.ts);
 *   `reset` makes the next start resume it (disk reverted, `-incoming`);
 *   `reset({ hard: true })` deletes the overlay.
 * - A fingerprint of the machine is stored with each snapshot: a mismatch, or
 *   any resume failure, gives a cold boot of the same disk with the reason in
 *   a `boot-mode` event and in the result. Never silent.
 */
import { access, mkdir, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  acceleratorFailureOf,
  forcedAcceleratorFailed,
  verdictWords,
  vmFailedError,
} from "@hexclave/image-builder/accelerator-fallback";
import { SERVICE_UNIT } from "@hexclave/image-builder/image";
import {
  type Accelerator,
  type AcceleratorChoice,
  ARCHES,
  type Arch,
  acceleratorErrorInOutput,
  acquireInstanceLock,
  assertCommandSucceeded,
  buildQemuArgs,
  chooseAccelerator,
  createQemuImg,
  emulatorHome,
  execaRunner,
  exitedFailure,
  type Firmware,
  findFirmware,
  type GuestAgentClient,
  HexclaveError,
  type InstanceLock,
  type InstanceVmSpec,
  imagePaths,
  instancePaths,
  isSameProcess,
  kernelPanicReason,
  type ProcessIdentity,
  type QemuImg,
  readLockHolder,
  readProcessIdentity,
  recordAcceleratorFailure,
  SerialFollower,
  SNAPSHOT_RECORD_FILE,
  VmInstance,
  waitForReady,
} from "@hexclave/qemu-core";
import { emulatorErrors, isCataloguedError } from "./errors-data.js";
import type { EmulatorEvent, EmulatorEventListener } from "./events.js";
import {
  type BridgeProcessInfo,
  type BridgeStopResult,
  startBridgeProcess,
  stopBridgeProcess,
} from "./file-bridge/bridge-process.js";
import type { ConfigWriteBackResult } from "./file-bridge/config-file-session.js";
import { type GuestProgram, readGuestPrograms, refreshGuestPrograms } from "./inspect/guest-programs.js";
import {
  checkServicesOnce,
  type ServiceEndpoint,
  type ServiceHealthCheck,
  serviceEndpoints,
  serviceProbes,
} from "./inspect/service-health.js";
import { freshResume, removeFreshState, saveFreshPair } from "./lifecycle/fresh-state.js";
import { prepareRuntimeEnv, refreshGuestRuntimeEnv } from "./lifecycle/runtime-env-start.js";
import { type ColdPlan, decideStartPlan, overlayBaseMismatch, type StartPlan } from "./lifecycle/start-plan.js";
import { computeFingerprint, type VmFingerprint } from "./machine/fingerprint.js";
import { type GuestNetworkSettings, guestNetworkOf, writeGuestConnector } from "./machine/guest-network.js";
import {
  buildEmulatorVmSpec,
  fullEmulatorSpec,
  NIC_ID,
  type RuntimeManifest,
  resolveHostPorts,
  withHostPorts,
} from "./machine/vm-spec.js";
import { type InstalledImage, readInstalledImage } from "./store/installed-image.js";
import {
  type BootKind,
  EMPTY_SNAPSHOT_RECORD,
  type LastStart,
  readSnapshotRecord,
  type SnapshotName,
  type SnapshotRecord,
  updateSnapshotRecord,
  withoutSnapshot,
  withSnapshot,
  writeSnapshotRecord,
} from "./store/snapshot-record.js";

export const EMULATOR_DEFAULT_CPUS = 4;
export const EMULATOR_DEFAULT_MEMORY_MB = 4096;
/** Readiness deadline under TCG (minutes of boot) and with a hardware accelerator. */
export const EMULATOR_TCG_TIMEOUT_MS = 15 * 60_000;
export const EMULATOR_ACCEL_TIMEOUT_MS = 4 * 60_000;
export const EMULATOR_NO_SNAPSHOT_ENV = "EMULATOR_NO_SNAPSHOT";
/**
 * Held in the instance directory by a `start` for its whole run (boot,
 * readiness, first snapshot): a second start is refused while it is held, and
 * `status` reports the VM as `starting`. `stop` does not take it: a stop while
 * a start waits stops the VM, and that start ends with `EMULATOR_STOPPED_DURING_START`.
 */
export const EMULATOR_START_LOCK_FILE = "start.lock";
/** How often a waiting start checks that its QEMU is still alive. */
const QEMU_WATCH_MS = 1000;
/** How often a start polls QEMU's run state and output (qemu.log) for a failure. */
const RUN_STATE_POLL_MS = 1000;

const SERIAL_TAIL_LINES = 40;
/** Errors of a start that a cold boot would meet too: raised, not turned into a fallback. */
/** How long the NIC's link stays down when a resume bounces it (the guest sees carrier loss, then renews DHCP). */
const LINK_BOUNCE_MS = 100;

const NOT_RESUME_FAILURES = new Set([
  "PORT_IN_USE",
  "INSTANCE_LOCKED",
  "INSTANCE_ALREADY_RUNNING",
  "QEMU_NOT_FOUND",
  "QEMU_TOO_OLD",
  "ABORTED",
]);
const GUEST_AGENT_TIMEOUT_MS = 5_000;

export interface CreateEmulatorOptions {
  /** The emulator home; default `HEXCLAVE_EMULATOR_HOME` or `~/.hexclave/emulator`. */
  readonly home?: string;
  /** Instance name under `run/`; default `vm`. */
  readonly instance?: string;
  /** Environment for defaults (`EMULATOR_*`); default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** qemu-img wrapper (tests). */
  readonly qemuImg?: QemuImg;
  /** The KVM device the accelerator probe checks; default `/dev/kvm` (tests point it elsewhere). */
  readonly kvmDevice?: string;
}

interface CallOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: EmulatorEventListener;
}

export interface EmulatorStartOptions extends CallOptions {
  readonly arch?: Arch;
  readonly cpus?: number;
  readonly memoryMb?: number;
  /** Host port per service (`dashboard`, `backend`, `minio`, `inbucket`); default from `EMULATOR_*_PORT`, else the manifest's. */
  readonly ports?: Readonly<Record<string, number>>;
  /** Readiness deadline; default 15 min under TCG, 4 min with an accelerator. */
  readonly timeoutMs?: number;
  /**
   * `auto` (default): the probed accelerator, and tcg when it fails the guest (the verdict is cached); any other
   * value forces that accelerator, and its failure is `ACCEL_FAILED`.
   */
  readonly accel?: AcceleratorChoice;
  /** Plain cold path: no resume, no snapshots (also `EMULATOR_NO_SNAPSHOT=1`). */
  readonly noSnapshot?: boolean;
  /** On a readiness failure, stop the VM instead of leaving it running for inspection. */
  readonly stopOnFailure?: boolean;
  /** The file bridge (issue 10): the project directory served to the guest, and `--config-file`. */
  readonly fileBridge?: EmulatorStartFileBridgeOptions;
  /** What the guest may reach (`--guest-network`, `--guest-reach`; guest-network.ts); default isolated. */
  readonly guestNetwork?: GuestNetworkSettings;
}

/** The file bridge of a start: a detached process on 127.0.0.1, reached by the guest at 10.0.2.2. */
export interface EmulatorStartFileBridgeOptions {
  /** false: no bridge (the guest's fw_cfg entry says "no bridge"). Default true. */
  readonly enabled?: boolean;
  /** The directory served (`--project-dir`); default the current directory. */
  readonly projectDir?: string;
  /** `--config-file`: served at `/v1/config` during the run, written back to the host by `stop`. */
  readonly configFile?: string;
  /** `--bridge-writable`: paths under the project directory the guest may write; default none. */
  readonly writable?: readonly string[];
  /** Host port on 127.0.0.1; default a free one. */
  readonly port?: number;
  readonly maxBodyBytes?: number;
}

/** What a start reports about its file bridge. */
export interface EmulatorFileBridgeInfo {
  readonly enabled: boolean;
  readonly port: number | null;
  /** `http://10.0.2.2:<port>` from the guest (the guest's proxy is `http://127.0.0.1:8110` in the container). */
  readonly guestUrl: string | null;
  readonly projectDir: string | null;
  readonly configFile: string | null;
  /** What the guest may write under `projectDir`, relative (`.` for all of it); empty: read-only. */
  readonly writable: readonly string[];
}

/** The `--config-file` write-back at stop, as plain data (also in `--json` output). */
export type EmulatorConfigWriteBack =
  | { readonly outcome: "unchanged"; readonly hostPath: string; readonly reason: string }
  | { readonly outcome: "written"; readonly hostPath: string; readonly backupPath: string }
  | {
      readonly outcome: "conflict";
      readonly hostPath: string;
      /** The emulator's version, written beside the host file. */
      readonly guestCopyPath: string;
      readonly reason: string;
      readonly message: string;
    }
  | { readonly outcome: "failed"; readonly hostPath: string | null; readonly message: string };

export function describeConfigWriteBack(result: ConfigWriteBackResult): EmulatorConfigWriteBack {
  switch (result.outcome) {
    case "unchanged":
      return { outcome: "unchanged", hostPath: result.hostPath, reason: result.reason };
    case "written":
      return { outcome: "written", hostPath: result.hostPath, backupPath: result.backupPath };
    case "conflict":
      return {
        outcome: "conflict",
        hostPath: result.hostPath,
        guestCopyPath: result.guestCopyPath,
        reason: result.reason,
        message: result.error.message,
      };
  }
}

/** Milliseconds since QEMU was spawned: `qemu-up`, `guest-booted`, one per service, `all-healthy`. */
export type StartPhases = Readonly<Record<string, number>>;

export interface EmulatorStartResult {
  /** It was already running: nothing was started (it was checked, and waited for if not yet healthy). */
  readonly alreadyRunning: boolean;
  /** Every service answered within the deadline. */
  readonly ready: boolean;
  /** `none` when it was already running. */
  readonly bootKind: BootKind | "none";
  /** Why this boot kind (for a cold boot after a failed resume: what failed). */
  readonly reason: string;
  readonly snapshot?: SnapshotName;
  readonly accel: Accelerator;
  readonly accelReason: string;
  readonly arch: Arch;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly durationMs: number;
  readonly phases: StartPhases;
  readonly services: readonly ServiceHealthCheck[];
  /** Names of the services that were not up at the deadline. */
  readonly failing: readonly string[];
  /** When not ready: the last lines of the serial log. */
  readonly serialTail: readonly string[];
  /** When not ready and `stopOnFailure`: the VM was stopped. */
  readonly stoppedAfterFailure: boolean;
  /** A snapshot saved by this start (`fresh` after the first healthy cold boot). */
  readonly savedSnapshot?: SnapshotName;
  /** This start's file bridge (absent when it was already running). */
  readonly fileBridge?: EmulatorFileBridgeInfo;
  /** What the guest may reach in this run (absent when it was already running). */
  readonly guestNetwork?: GuestNetworkSettings;
  /** A `--config-file` of an earlier run that ended without a stop, written back by this start. */
  readonly previousConfigFile?: EmulatorConfigWriteBack;
  /** The hardware accelerator failed the guest and this start went on under tcg. */
  readonly acceleratorFallback?: {
    readonly from: Accelerator;
    readonly reason: string;
    /** From QEMU's spawn under `from` to the failure being seen. */
    readonly detectedAfterMs: number;
    /** From the failure being seen to the tcg QEMU being spawned. */
    readonly relaunchAfterMs: number;
  };
}

export interface EmulatorStopOptions extends CallOptions {
  /** Power the guest off instead of suspending it (also `EMULATOR_NO_SNAPSHOT=1`). */
  readonly noSnapshot?: boolean;
}

export interface EmulatorStopResult {
  readonly wasRunning: boolean;
  /** The VM state was saved as `suspend` for a fast resume. */
  readonly suspended: boolean;
  /** `suspend`, `powerdown`, `quit`, `sigterm`, `sigkill`, or `none`. */
  readonly method: string;
  /** Why it did not suspend, when it should have. */
  readonly reason?: string;
  readonly durationMs: number;
  /** The `--config-file` write-back (absent when the run had no config file). */
  readonly configFile?: EmulatorConfigWriteBack;
}

export interface EmulatorResetOptions extends CallOptions {
  /** Delete the overlay (the next start is a cold boot) instead of reverting to `fresh`. */
  readonly hard?: boolean;
}

export interface EmulatorResetResult {
  /** `snapshot`: the next start resumes `fresh`; `overlay-deleted`: the data disk was removed; `nothing`: there was no data. */
  readonly mode: "snapshot" | "overlay-deleted" | "nothing";
  readonly stoppedFirst: boolean;
  readonly reason: string;
}

/** `broken`: QEMU runs but holds the VM in an error state (internal-error, guest-panicked, ...): see `vm.failure`. */
export type EmulatorHealth = "healthy" | "degraded" | "stopped" | "broken" | "crashed";

export interface EmulatorStatus {
  readonly health: EmulatorHealth;
  readonly vm: {
    readonly state: "stopped" | "starting" | "running" | "broken" | "crashed";
    /** When `broken`: why, with QEMU's words; null otherwise. */
    readonly failure: string | null;
    readonly pid: number | null;
    readonly arch: Arch;
    readonly accelerator: Accelerator | null;
    readonly acceleratorReason: string | null;
    readonly cpus: number;
    readonly memoryMb: number;
    readonly uptimeSeconds: number | null;
    /** What the running guest may reach; null when not running. */
    readonly guestNetwork: GuestNetworkSettings | null;
  };
  readonly image: {
    readonly path: string;
    readonly present: boolean;
    readonly version: string | null;
    readonly sha256: string | null;
    readonly source: string | null;
  };
  readonly lastStart: LastStart | null;
  /** Snapshots in the overlay, per the record. */
  readonly snapshots: readonly SnapshotName[];
  readonly resetPending: boolean;
  readonly services: readonly ServiceHealthCheck[];
  /** The supervised programs in the guest's container and their health (its `hexclave-health`); null when not running or unreadable. */
  readonly programs: readonly GuestProgram[] | null;
  readonly home: string;
}

export interface EmulatorLogsOptions {
  readonly source: "serial" | "services";
  /** Keep yielding new lines until `signal` aborts. */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  /** Lines of history (services; default 200). */
  readonly lines?: number;
}

/** What a launched start carries from QEMU up to ready (or not). */
interface LaunchContext {
  readonly launched: Launched;
  readonly plan: StartPlan;
  readonly runSpec: InstanceVmSpec;
  readonly fingerprint: VmFingerprint;
  readonly probe: { accel: Accelerator; reason: string };
  readonly endpoints: readonly ServiceEndpoint[];
  readonly timeoutMs: number;
  readonly s: ResolvedSettings;
  readonly options: EmulatorStartOptions;
  readonly began: number;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const errorText = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" ")
    .replace(/: (?=\S)/, ": ")
    .slice(0, 500);

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function abortError(signal: AbortSignal | undefined): HexclaveError {
  const reason = signal?.reason;
  if (HexclaveError.is(reason)) return reason;
  return emulatorErrors.create("ABORTED", "The emulator operation was aborted", { cause: reason });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (aborted(signal)) throw abortError(signal);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

function envTruthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function envInt(env: Readonly<Record<string, string | undefined>>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw emulatorErrors.create("EMULATOR_SETTING_INVALID", `${name}=${raw} is not a positive integer`, {
      details: { variable: name, value: raw },
    });
  }
  return n;
}

/** Last `lines` lines of a text file (reads at most the last 64 KiB). */
async function tailLines(path: string, lines: number): Promise<string[]> {
  try {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const text = buffer.toString("utf8").replace(/\r/g, "");
      return text
        .split("\n")
        .filter((l) => l !== "")
        .slice(-lines);
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
}

interface Launched {
  readonly pid: number | null;
  readonly spawnedAt: number;
  /** The QEMU process, watched while the start waits (a stop by another command, or a crash, ends the wait). */
  readonly identity: ProcessIdentity | undefined;
}

interface ResolvedSettings {
  readonly arch: Arch;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly noSnapshot: boolean;
}

export class Emulator {
  readonly home: string;
  readonly instanceName: string;
  readonly vm: VmInstance;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly img: QemuImg;
  private readonly kvmDevice: string | undefined;
  private firmware: Firmware | undefined;

  constructor(options: CreateEmulatorOptions = {}) {
    this.env = options.env ?? process.env;
    this.home = options.home ?? emulatorHome(this.env as NodeJS.ProcessEnv);
    this.instanceName = options.instance ?? "vm";
    this.img = options.qemuImg ?? createQemuImg();
    this.kvmDevice = options.kvmDevice;
    this.vm = new VmInstance({ home: this.home, name: this.instanceName, qemuImg: this.img });
  }

  get paths() {
    return instancePaths(this.home, this.instanceName);
  }

  /** The lock a start holds while it runs ({@link EMULATOR_START_LOCK_FILE}). */
  get startLockFile(): string {
    return join(this.paths.dir, EMULATOR_START_LOCK_FILE);
  }

  /** The snapshot record file of this instance. */
  get recordFile(): string {
    return join(this.paths.dir, SNAPSHOT_RECORD_FILE);
  }

  /** Closes this object's QMP connection (the VM keeps running). */
  close(): void {
    this.vm.close();
  }

  private settings(o: {
    arch?: Arch | undefined;
    cpus?: number | undefined;
    memoryMb?: number | undefined;
    ports?: Readonly<Record<string, number>> | undefined;
    noSnapshot?: boolean | undefined;
  }): ResolvedSettings {
    const envArch = this.env.EMULATOR_ARCH;
    let arch: Arch = o.arch ?? (process.arch === "arm64" ? "arm64" : "amd64");
    if (o.arch === undefined && envArch !== undefined && envArch !== "") {
      if (!ARCHES.includes(envArch as Arch)) {
        throw emulatorErrors.create("EMULATOR_SETTING_INVALID", `EMULATOR_ARCH=${envArch} is not amd64 or arm64`, {
          details: { variable: "EMULATOR_ARCH", value: envArch },
        });
      }
      arch = envArch as Arch;
    }
    return {
      arch,
      cpus: o.cpus ?? envInt(this.env, "EMULATOR_CPUS") ?? EMULATOR_DEFAULT_CPUS,
      memoryMb: o.memoryMb ?? envInt(this.env, "EMULATOR_RAM_MB") ?? EMULATOR_DEFAULT_MEMORY_MB,
      ports: o.ports ?? {},
      noSnapshot: o.noSnapshot === true || envTruthy(this.env[EMULATOR_NO_SNAPSHOT_ENV]),
    };
  }

  /** Host port per service: given ports, then `EMULATOR_*_PORT`, then the manifest's. */
  private hostPorts(manifest: RuntimeManifest, given: Readonly<Record<string, number>>): Record<string, number> {
    const fromEnv: Record<string, number> = {};
    for (const s of manifest.services) {
      if (s.hostPortEnv === undefined) continue;
      const n = envInt(this.env, s.hostPortEnv);
      if (n !== undefined) fromEnv[s.service] = n;
    }
    return resolveHostPorts(manifest.services, { ...fromEnv, ...given });
  }

  // ------------------------------------------------------------------ start

  async start(options: EmulatorStartOptions = {}): Promise<EmulatorStartResult> {
    const began = Date.now();
    throwIfAborted(options.signal);
    const s = this.settings(options);
    const image = await readInstalledImage(imagePaths(this.home, s.arch), s.arch);
    const lock = await this.acquireStartLock();
    try {
      try {
        return await this.startLocked(options, s, image, began);
      } catch (error) {
        const choice = options.accel ?? "auto";
        const accel = HexclaveError.is(error) ? (error.details.accel as Accelerator | undefined) : undefined;
        const info = accel === undefined ? undefined : acceleratorFailureOf(error, accel);
        if (info === undefined || aborted(options.signal)) throw error;
        if (choice !== "auto") throw forcedAcceleratorFailed(info, choice);
        return await this.fallBackToTcg(info, options, s, image, began);
      }
    } finally {
      await lock.release();
    }
  }

  /** The accelerator failed the guest: cache the verdict, say so, and start again (now under tcg). */
  private async fallBackToTcg(
    info: { accel: Accelerator; failure: { message: string }; detectedAfterMs: number },
    options: EmulatorStartOptions,
    s: ResolvedSettings,
    image: InstalledImage,
    began: number,
  ): Promise<EmulatorStartResult> {
    const seenAt = Date.now();
    const words = verdictWords(info as Parameters<typeof verdictWords>[0]);
    await recordAcceleratorFailure({
      arch: s.arch,
      accel: info.accel,
      reason: words,
      env: this.env,
      ...(this.kvmDevice === undefined ? {} : { kvmDevice: this.kvmDevice }),
    });
    options.onEvent?.({
      type: "accelerator-fallback",
      from: info.accel,
      to: "tcg",
      reason: info.failure.message,
      detectedAfterMs: info.detectedAfterMs,
    });
    let relaunchedAt: number | undefined;
    const result = await this.startLocked(
      {
        ...options,
        onEvent: (e) => {
          if (e.type === "stage-start" && e.stage === "qemu") relaunchedAt ??= Date.now();
          options.onEvent?.(e);
        },
      },
      s,
      image,
      began,
    );
    return {
      ...result,
      acceleratorFallback: {
        from: info.accel,
        reason: info.failure.message,
        detectedAfterMs: info.detectedAfterMs,
        relaunchAfterMs: (relaunchedAt ?? Date.now()) - seenAt,
      },
    };
  }

  /** The start lock, or `EMULATOR_START_IN_PROGRESS` naming the other start's pid and command. */
  private async acquireStartLock(): Promise<InstanceLock> {
    try {
      return await acquireInstanceLock(this.startLockFile, { purpose: "emulator-start" });
    } catch (error) {
      if (!(HexclaveError.is(error) && error.code === "INSTANCE_LOCKED")) throw error;
      const pid = error.details.pid;
      const command = typeof error.details.command === "string" ? error.details.command : "unknown command";
      throw emulatorErrors.create(
        "EMULATOR_START_IN_PROGRESS",
        `Another start of this emulator is in progress (pid ${String(pid)}: ${command}); a second start would race it`,
        { cause: error, details: { pid, command, lock: this.startLockFile } },
      );
    }
  }

  private async startLocked(
    options: EmulatorStartOptions,
    s: ResolvedSettings,
    image: InstalledImage,
    began: number,
  ): Promise<EmulatorStartResult> {
    const emit = (e: EmulatorEvent) => options.onEvent?.(e);
    const signal = options.signal;
    const hostPorts = this.hostPorts(image.manifest, s.ports);
    const endpoints = serviceEndpoints(image.manifest.services, hostPorts);
    let record = await readSnapshotRecord(this.recordFile);

    let current = await this.vm.status();
    if (current.state === "broken") {
      emit({
        type: "message",
        level: "warn",
        text: `The VM is in an error state (${current.failure?.message ?? "unknown"}): stopping it without saving, then starting again`,
      });
      await this.vm.stop({ graceMs: 0, ...(signal ? { signal } : {}) });
      await updateSnapshotRecord(this.recordFile, (r) => ({
        ...r,
        running: false,
        lastStop: { kind: "poweroff", at: new Date().toISOString(), detail: "stopped by start: the VM was broken" },
      }));
      current = await this.vm.status();
    }
    if (current.state === "running" || current.state === "starting" || current.state === "paused") {
      return this.attachToRunning(current.record?.spec, current.pid, endpoints, record, s, options, began);
    }

    // The deeper probe boots the image's own kernel under a hardware accelerator that ran the tiny guest.
    const probe = await chooseAccelerator({
      arch: s.arch,
      signal,
      env: this.env,
      choice: options.accel ?? "auto",
      ...(this.kvmDevice === undefined ? {} : { kvmDevice: this.kvmDevice }),
      ...(image.manifest.boot.kind === "kernel" ? { linuxKernel: image.paths.kernel } : {}),
    });
    emit({ type: "accelerator", accel: probe.accel, reason: probe.reason });
    const timeoutMs =
      options.timeoutMs ?? (probe.accel === "tcg" ? EMULATOR_TCG_TIMEOUT_MS : EMULATOR_ACCEL_TIMEOUT_MS);

    const firmwareCode = image.manifest.boot.kind === "firmware" ? await this.prepareFirmware(s.arch) : undefined;
    const spec = buildEmulatorVmSpec({
      ...(firmwareCode !== undefined ? { firmwareCode } : {}),
      manifest: image.manifest,
      image: image.paths,
      instance: this.paths,
      instanceName: this.instanceName,
      accel: probe.accel,
      cpus: s.cpus,
      memoryMb: s.memoryMb,
      ports: hostPorts,
      ...(options.guestNetwork === undefined ? {} : { guestNetwork: options.guestNetwork }),
    });
    const fingerprint = this.fingerprintOf(spec, probe.qemuVersion, image.manifest.image.sha256);

    const overlayExists = await exists(this.paths.overlay);
    const baseChanged = overlayBaseMismatch({ overlayExists, record, fingerprint });
    if (baseChanged !== undefined) {
      throw emulatorErrors.create("EMULATOR_BASE_CHANGED", `Cannot start: ${baseChanged}.`, {
        details: { overlay: this.paths.overlay, image: image.paths.image },
      });
    }
    const present = overlayExists ? await this.presentSnapshots() : [];
    let plan: StartPlan = decideStartPlan({
      noSnapshot: s.noSnapshot,
      overlayExists,
      record,
      presentSnapshots: present,
      fingerprint,
    });

    // The runtime environment for this start's host ports and the install's secrets (issue 13), cold or resume.
    const runtimeEnv = await prepareRuntimeEnv({ home: this.home, instanceDir: this.paths.dir, ports: hostPorts });
    if (runtimeEnv.secretsCreated) {
      emit({ type: "message", level: "info", text: `Made this install's secrets in ${runtimeEnv.secretsFile}` });
    }
    // The file bridge runs before QEMU reads its fw_cfg file, cold or resume (a new port and token every start).
    const bridge = await this.startFileBridge(options.fileBridge, signal, emit);
    // The connector QEMU runs per guest-forwarded connection (the bridge, --guest-reach ports), for this Node.
    await writeGuestConnector(this.paths.dir);
    let bridgeInUse = false;
    try {
      let launched: Launched | undefined;
      let runSpec: InstanceVmSpec = spec;
      if (plan.kind === "resume") {
        emit({ type: "boot-mode", mode: "resume", reason: plan.reason, snapshot: plan.snapshot });
        runSpec = withHostPorts(plan.saved.spec, spec);
        try {
          launched = await this.launch(runSpec, image, fingerprint, plan.snapshot, signal, emit);
        } catch (error) {
          if (aborted(signal)) throw abortError(signal);
          if (isCataloguedError(error) || (HexclaveError.is(error) && NOT_RESUME_FAILURES.has(error.code))) throw error;
          // The accelerator failing the resumed guest is the accelerator's failure, not the saved state's.
          if (acceleratorFailureOf(error, probe.accel) !== undefined) throw withAccel(error, probe.accel);
          emit({ type: "resume-failed", snapshot: plan.snapshot, error: errorText(error) });
          const fallback: ColdPlan = {
            kind: "cold",
            reason: `resuming the ${plan.snapshot} snapshot failed (${errorText(error)}): booting the same disk cold`,
            newOverlay: false,
            ...(plan.snapshot === "fresh" ? { revertDiskTo: "fresh" as const } : {}),
            drop: plan.snapshot === "suspend" ? ["suspend"] : [],
            saveFreshWhenHealthy: plan.snapshot === "fresh",
          };
          plan = fallback;
          runSpec = spec;
        }
      }
      if (plan.kind === "cold") {
        record = await this.prepareColdDisk(plan, record, image.manifest.image.sha256);
        emit({ type: "boot-mode", mode: "cold", reason: plan.reason });
        launched = await this.launch(spec, image, fingerprint, undefined, signal, emit).catch((error: unknown) => {
          throw withAccel(error, probe.accel);
        });
      }
      if (launched === undefined) throw new Error("unreachable: nothing launched");
      try {
        const result = await this.afterLaunch({
          launched,
          plan,
          runSpec,
          fingerprint,
          probe,
          endpoints,
          timeoutMs,
          s,
          options,
          began,
        });
        bridgeInUse = !result.stoppedAfterFailure;
        return {
          ...result,
          fileBridge: {
            enabled: bridge.enabled,
            port: bridge.port,
            guestUrl: bridge.guestUrl,
            projectDir: bridge.projectDir,
            configFile: bridge.configFile,
            writable: bridge.writable,
          },
          ...(runSpec.network === undefined ? {} : { guestNetwork: guestNetworkOf(runSpec.network) }),
          ...(bridge.previous?.configFile
            ? { previousConfigFile: describeConfigWriteBack(bridge.previous.configFile) }
            : {}),
        };
      } catch (error) {
        if (aborted(signal)) {
          await this.stopAfterInterrupt(emit);
          throw abortError(signal);
        }
        throw error;
      }
    } finally {
      // A start that leaves no QEMU running leaves no bridge either (its config file is written back).
      if (!bridgeInUse && !(await this.qemuRunning())) await this.stopFileBridge(emit);
    }
  }

  /** True when this instance's QEMU runs (any run state). */
  private async qemuRunning(): Promise<boolean> {
    const state = (await this.vm.status().catch(() => undefined))?.state;
    this.vm.close();
    return state === "running" || state === "starting" || state === "paused" || state === "broken";
  }

  /** Starts the detached file bridge process (or records "no bridge"), reporting a write-back left by an earlier run. */
  private async startFileBridge(
    o: EmulatorStartFileBridgeOptions | undefined,
    signal: AbortSignal | undefined,
    emit: (e: EmulatorEvent) => void,
  ): Promise<BridgeProcessInfo> {
    const began = Date.now();
    emit({ type: "stage-start", stage: "file-bridge", label: "file bridge" });
    const info = await startBridgeProcess({
      instanceDir: this.paths.dir,
      ...(o?.enabled === undefined ? {} : { enabled: o.enabled }),
      ...(o?.projectDir === undefined ? {} : { projectDir: o.projectDir }),
      ...(o?.configFile === undefined ? {} : { configFile: o.configFile }),
      ...(o?.writable === undefined ? {} : { writable: o.writable }),
      ...(o?.port === undefined ? {} : { port: o.port }),
      ...(o?.maxBodyBytes === undefined ? {} : { maxBodyBytes: o.maxBodyBytes }),
      ...(signal ? { signal } : {}),
    });
    if (info.previous !== null) this.reportWriteBack(info.previous, emit, "left by an earlier run");
    emit({
      type: "stage-end",
      stage: "file-bridge",
      durationMs: Date.now() - began,
      detail: info.enabled
        ? `127.0.0.1:${info.port} serving ${info.projectDir}${info.configFile ? `, config file ${info.configFile}` : ""}`
        : "off",
    });
    return info;
  }

  /** Stops the bridge process and writes the config file back; a failure is a warning, never a failed stop. */
  private async stopFileBridge(emit: (e: EmulatorEvent) => void): Promise<EmulatorConfigWriteBack | undefined> {
    try {
      return this.reportWriteBack(await stopBridgeProcess(this.paths.dir), emit);
    } catch (error) {
      const message = `The file bridge could not be stopped cleanly: ${errorText(error)}`;
      emit({ type: "message", level: "warn", text: message });
      const hostPath = HexclaveError.is(error) ? error.details.hostPath : undefined;
      return { outcome: "failed", hostPath: typeof hostPath === "string" ? hostPath : null, message };
    }
  }

  private reportWriteBack(
    stopped: BridgeStopResult,
    emit: (e: EmulatorEvent) => void,
    context?: string,
  ): EmulatorConfigWriteBack | undefined {
    if (stopped.configFile === null) return undefined;
    const result = describeConfigWriteBack(stopped.configFile);
    const from = context === undefined ? "" : ` (${context})`;
    if (result.outcome === "conflict") emit({ type: "message", level: "warn", text: `${result.message}${from}` });
    else if (result.outcome === "written") {
      emit({
        type: "message",
        level: "info",
        text: `Config file written back to ${result.hostPath} (previous copy: ${result.backupPath})${from}`,
      });
    }
    return result;
  }

  /**
   * A start interrupted (Ctrl-C) after QEMU was launched stops that QEMU, so
   * nothing is left running that the user did not get: the disk is kept and
   * the next start boots it cold, saying why.
   */
  private async stopAfterInterrupt(emit: (e: EmulatorEvent) => void): Promise<void> {
    emit({
      type: "message",
      level: "warn",
      text: "Interrupted: stopping the VM this start launched (its disk is kept; the next start boots it cold)",
    });
    const stopped = await this.vm.stop({ graceMs: 0 }).catch(() => undefined);
    await updateSnapshotRecord(this.recordFile, (r) => ({
      ...r,
      running: false,
      lastStop: {
        kind: "interrupted",
        at: new Date().toISOString(),
        detail: `start interrupted; QEMU stopped (${stopped?.how ?? "not confirmed"})`,
      },
    }));
  }

  /**
   * {@link afterLaunchUnwatched} while QEMU's run state, output and process are
   * watched: a VM that QEMU stops in an error state ends the start within
   * seconds (the VM is stopped without saving) with `EMULATOR_VM_FAILED`,
   * carrying QEMU's words, instead of waiting for the readiness deadline.
   */
  private async afterLaunch(ctx: LaunchContext): Promise<EmulatorStartResult> {
    const { launched, probe, options } = ctx;
    const failed = new AbortController();
    const watch = this.vm.watch({ pollMs: RUN_STATE_POLL_MS });
    void watch.failure.then((failure) => {
      if (failure === undefined) return;
      failed.abort(
        vmFailedError("The emulator VM stopped", {
          accel: probe.accel,
          failure,
          detectedAfterMs: Date.now() - launched.spawnedAt,
        }),
      );
    });
    const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
    try {
      return await this.afterLaunchUnwatched({ ...ctx, options: { ...options, signal } });
    } catch (error) {
      if (!failed.signal.aborted || aborted(options.signal)) {
        // QEMU that exited with an accelerator report in its output: the accelerator's failure (fallback applies).
        if (HexclaveError.is(error) && error.code === "EMULATOR_EXITED_DURING_START") {
          const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
          if (acceleratorErrorInOutput(stderr) !== undefined && probe.accel !== "tcg") {
            throw vmFailedError("QEMU exited", {
              accel: probe.accel,
              failure: exitedFailure(stderr),
              detectedAfterMs: Date.now() - launched.spawnedAt,
            });
          }
        }
        throw error;
      }
      const failure = failed.signal.reason as HexclaveError;
      options.onEvent?.({ type: "message", level: "warn", text: `${failure.message}; stopping it without saving` });
      await this.vm.stop({ graceMs: 0 }).catch(() => undefined);
      await updateSnapshotRecord(this.recordFile, (r) => ({
        ...r,
        running: false,
        lastStop: { kind: "poweroff", at: new Date().toISOString(), detail: `stopped by start: ${failure.message}` },
      }));
      throw failure;
    } finally {
      watch.stop();
    }
  }

  /** From QEMU up to ready (or not): record the run, fix up a resumed guest, wait for the services, save `fresh`. */
  private async afterLaunchUnwatched(ctx: LaunchContext): Promise<EmulatorStartResult> {
    const { launched, plan, runSpec, fingerprint, probe, endpoints, timeoutMs, s, options, began } = ctx;
    const emit = (e: EmulatorEvent) => options.onEvent?.(e);
    const signal = options.signal;
    const bootKind: BootKind = plan.kind;
    const snapshot = plan.kind === "resume" ? plan.snapshot : undefined;
    const lastStart: LastStart = {
      kind: bootKind,
      reason: plan.reason,
      ...(snapshot !== undefined ? { snapshot } : {}),
      at: new Date().toISOString(),
      accel: probe.accel,
      accelReason: probe.reason,
    };
    await updateSnapshotRecord(this.recordFile, (r) => {
      // A resumed `suspend` is consumed: resuming it again after a crash would lose everything written since.
      const base = snapshot === "suspend" ? withoutSnapshot(r, "suspend") : r;
      return {
        ...base,
        running: true,
        resetPending: false,
        current: { spec: runSpec, fingerprint },
        lastStart,
        healthySinceStart: false,
      };
    });

    if (snapshot === "suspend") {
      // Consumed: the disk moves on from here, so the state must never be resumed again.
      await rm(this.paths.suspendState, { force: true });
      emit({ type: "snapshot-deleted", name: "suspend" });
    }
    const phases: Record<string, number> = { "qemu-up": Date.now() - launched.spawnedAt };
    emit({ type: "qemu-up", pid: launched.pid, elapsedMs: Date.now() - began });

    if (bootKind === "resume") {
      await this.afterResume(signal, emit);
      phases["guest-booted"] = Date.now() - launched.spawnedAt;
      emit({ type: "guest-booted", elapsedMs: Date.now() - began });
    }

    const ready = await this.waitForServices(endpoints, timeoutMs, launched.spawnedAt, began, phases, signal, emit, {
      watchGuest: bootKind === "cold",
      qemu: launched.identity,
    });
    let savedSnapshot: SnapshotName | undefined;
    let stoppedAfterFailure = false;
    let serialTail: string[] = [];
    if (ready.ready) {
      await updateSnapshotRecord(this.recordFile, (r) => ({ ...r, healthySinceStart: true }));
      phases["all-healthy"] = Date.now() - launched.spawnedAt;
      emit({ type: "ready", elapsedMs: Date.now() - began });
      if (plan.kind === "cold" && plan.saveFreshWhenHealthy && !s.noSnapshot) {
        try {
          await this.saveWithFlush("fresh", { spec: runSpec, fingerprint }, signal, emit);
          savedSnapshot = "fresh";
        } catch (error) {
          if (aborted(signal)) throw abortError(signal);
          emit({
            type: "message",
            level: "warn",
            text: `Could not save the fresh snapshot (reset will recreate the disk instead): ${errorText(error)}`,
          });
        }
      }
      // A cold-booted guest has no programs answer yet: start its first check for `status` (detached, returns at once).
      if (bootKind === "cold") await refreshGuestPrograms(this.vm, signal ? { signal } : {});
    } else {
      serialTail = await tailLines(this.paths.serialLog, SERIAL_TAIL_LINES);
      if (options.stopOnFailure === true) {
        await this.vm.stop(signal ? { signal } : {});
        await updateSnapshotRecord(this.recordFile, (r) => ({
          ...r,
          running: false,
          lastStop: { kind: "poweroff", at: new Date().toISOString(), detail: "stopped after a readiness failure" },
        }));
        stoppedAfterFailure = true;
      }
    }
    return {
      alreadyRunning: false,
      ready: ready.ready,
      bootKind,
      reason: plan.reason,
      ...(snapshot !== undefined ? { snapshot } : {}),
      accel: probe.accel,
      accelReason: probe.reason,
      arch: s.arch,
      cpus: runSpec.cpus,
      memoryMb: runSpec.memoryMb,
      durationMs: Date.now() - began,
      phases,
      services: ready.services,
      failing: ready.services.filter((x) => !x.up).map((x) => x.name),
      serialTail,
      stoppedAfterFailure,
      ...(savedSnapshot !== undefined ? { savedSnapshot } : {}),
    };
  }

  /** UEFI code for firmware-booting images (its variables are made per instance at launch). */
  private async prepareFirmware(arch: Arch): Promise<string> {
    this.firmware = await findFirmware(arch);
    return this.firmware.code;
  }

  /** This instance's UEFI variables as qcow2 (raw variables would block savevm), from the firmware's template. */
  private async ensureUefiVars(signal: AbortSignal | undefined): Promise<void> {
    if (await exists(this.paths.uefiVars)) return;
    await mkdir(this.paths.dir, { recursive: true });
    const template = this.firmware?.varsTemplate;
    if (template !== undefined) {
      await this.img.convert({
        src: template,
        dst: this.paths.uefiVars,
        srcFormat: "raw",
        dstFormat: "qcow2",
        ...(signal ? { signal } : {}),
      });
    } else {
      await this.img.create({ file: this.paths.uefiVars, format: "qcow2", size: "64M", ...(signal ? { signal } : {}) });
    }
  }

  private fingerprintOf(spec: InstanceVmSpec, qemuVersion: string, baseSha256: string): VmFingerprint {
    const args = buildQemuArgs(fullEmulatorSpec(spec, this.paths, this.instanceName));
    return computeFingerprint({
      args,
      accel: spec.accel,
      memoryMb: spec.memoryMb,
      cpus: spec.cpus,
      qemuVersion,
      baseImageSha256: baseSha256,
    });
  }

  private async launch(
    spec: InstanceVmSpec,
    image: InstalledImage,
    fingerprint: VmFingerprint,
    resume: SnapshotName | undefined,
    signal: AbortSignal | undefined,
    emit: (e: EmulatorEvent) => void,
  ): Promise<Launched> {
    emit({ type: "stage-start", stage: "qemu", label: resume ? `QEMU (resuming ${resume})` : "QEMU" });
    if (spec.firmware?.vars !== undefined) await this.ensureUefiVars(signal);
    const spawnedAt = Date.now();
    const result = await this.vm.start({
      spec,
      backingImage: { file: image.paths.image, format: "qcow2" },
      // `suspend` is a state file beside the overlay; `fresh` an internal snapshot of it.
      ...(resume === "suspend" ? { incomingStateFile: this.paths.suspendState } : {}),
      ...(resume === "fresh" ? await freshResume(this.vm, signal) : {}),
      fingerprint: fingerprint as unknown as Record<string, unknown>,
      ...(signal ? { signal } : {}),
    });
    emit({ type: "stage-end", stage: "qemu", durationMs: Date.now() - spawnedAt, detail: `pid ${result.pid}` });
    // Let other commands (status, stop) talk to QEMU while this start waits: QMP serves one client at a time.
    this.vm.close();
    return { pid: result.pid, spawnedAt, identity: result.record.identity };
  }

  /** Applies a cold plan to the disk: new overlay, revert to a snapshot's disk, drop stale snapshots. */
  private async prepareColdDisk(plan: ColdPlan, record: SnapshotRecord, baseSha256: string): Promise<SnapshotRecord> {
    let next = record;
    if (plan.newOverlay) {
      await rm(this.paths.overlay, { force: true });
      await rm(this.paths.uefiVars, { force: true });
      await rm(this.paths.suspendState, { force: true });
      await removeFreshState(this.paths);
      next = {
        ...EMPTY_SNAPSHOT_RECORD,
        ...(record.lastStop ? { lastStop: record.lastStop } : {}),
        running: record.running,
        overlayBaseSha256: baseSha256,
      };
    } else {
      if (plan.revertDiskTo !== undefined) {
        const args = ["snapshot", "-a", plan.revertDiskTo, this.paths.overlay];
        assertCommandSucceeded("qemu-img", args, await execaRunner("qemu-img", args));
      }
      const present = (await this.img.snapshotList(this.paths.overlay)).map((x) => x.name);
      for (const name of plan.drop) {
        if (name !== "suspend" && present.includes(name)) await this.img.snapshotDelete(this.paths.overlay, name);
        next = withoutSnapshot(next, name);
      }
      // A suspend that this start does not resume is stale from here on: never resume it later.
      await rm(this.paths.suspendState, { force: true });
      next = withoutSnapshot(next, "suspend");
    }
    await writeSnapshotRecord(this.recordFile, next);
    return next;
  }

  /** After a resume: thaw the file systems frozen before the save, set the clock, bounce the NIC. */
  private async afterResume(signal: AbortSignal | undefined, emit: (e: EmulatorEvent) => void): Promise<void> {
    const began = Date.now();
    emit({ type: "stage-start", stage: "guest-fixup", label: "guest clock and network" });
    const done: string[] = [];
    // The guest agent (thaw, clock) and QMP (link bounce) are independent channels: run them together.
    const guestSide = (async () => {
      let agent: GuestAgentClient | undefined;
      try {
        agent = await this.vm.guestAgent({ timeoutMs: 15_000, ...(signal ? { signal } : {}) });
        const thawed = await agent.fsThaw({ timeoutMs: 15_000 }).catch(() => 0);
        if (thawed > 0) done.push(`thawed ${thawed} file systems`);
        const clock = await agent.setTime(new Date(), { timeoutMs: 10_000 });
        done.push(clock.hardwareClock ? "clock set" : "clock set (the guest has no hardware clock tool)");
        // The running container has the saved start's environment: a moved host port restarts it (issue 13).
        const env = await refreshGuestRuntimeEnv(agent, signal ? { signal } : {}).catch((error: unknown) => {
          if (aborted(signal)) throw abortError(signal);
          emit({
            type: "message",
            level: "warn",
            text: `The runtime environment was not refreshed: ${errorText(error)}`,
          });
          return undefined;
        });
        if (env !== undefined)
          done.push(
            env === "changed" ? "new runtime environment: container restarted" : "runtime environment unchanged",
          );
      } catch (error) {
        if (aborted(signal)) throw abortError(signal);
        emit({
          type: "message",
          level: "warn",
          text: `The guest agent did not answer after the resume: ${errorText(error)}`,
        });
      } finally {
        agent?.close();
      }
    })();
    const linkSide = (async () => {
      const qmp = await this.vm.qmp(signal ? { signal } : {});
      await qmp.setLink(NIC_ID, false);
      await sleep(LINK_BOUNCE_MS, signal);
      await qmp.setLink(NIC_ID, true);
      this.vm.close();
    })();
    await Promise.all([guestSide, linkSide]);
    done.push("link bounced");
    emit({ type: "stage-end", stage: "guest-fixup", durationMs: Date.now() - began, detail: done.join(", ") });
  }

  /** Polls every service (and, on a cold boot, the guest agent) until all are up or the deadline passes. */
  private async waitForServices(
    endpoints: readonly ServiceEndpoint[],
    timeoutMs: number,
    spawnedAt: number,
    began: number,
    phases: Record<string, number>,
    signal: AbortSignal | undefined,
    emit: (e: EmulatorEvent) => void,
    options: { watchGuest: boolean; qemu: ProcessIdentity | undefined },
  ): Promise<{ ready: boolean; services: ServiceHealthCheck[] }> {
    emit({ type: "stage-start", stage: "services", label: "services" });
    const started = Date.now();
    const stopWatching = new AbortController();
    const onAbort = () => stopWatching.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    // QEMU gone (stopped by another command, or crashed) ends the wait at once, not at the deadline.
    const qemuGone = new AbortController();
    const qemu = options.qemu;
    const qemuWatch =
      qemu === undefined
        ? Promise.resolve()
        : (async () => {
            while (!stopWatching.signal.aborted) {
              await sleep(QEMU_WATCH_MS, stopWatching.signal);
              if (stopWatching.signal.aborted) return;
              if (!(await isSameProcess(qemu))) {
                qemuGone.abort();
                stopWatching.abort();
                return;
              }
            }
          })();
    const waitSignal = signal ? AbortSignal.any([signal, qemuGone.signal]) : qemuGone.signal;
    // QEMU truncates the console log at launch: everything in it is this run's.
    const guestConsole = new SerialFollower(this.paths.serialLog, (line) => {
      const reason = kernelPanicReason(line);
      if (reason === undefined) return;
      emit({
        type: "message",
        level: "warn",
        text: `The guest kernel panicked (${reason}); it restarts by itself (console: ${this.paths.serialLog})`,
      });
    });
    guestConsole.start(1000);
    const guestWatch = options.watchGuest
      ? this.watchGuestBoot(stopWatching.signal).then((ok) => {
          if (ok) {
            phases["guest-booted"] = Date.now() - spawnedAt;
            emit({ type: "guest-booted", elapsedMs: Date.now() - began });
          }
        })
      : Promise.resolve();
    const byName = new Map(endpoints.map((e) => [e.name, e]));
    const last = new Map<string, ServiceHealthCheck>();
    let ready = false;
    try {
      const results = await waitForReady(serviceProbes(endpoints), {
        deadlineMs: timeoutMs,
        // After a resume the services are already up: poll fast, and retry at once a request that hangs on a
        // connection opened while the guest's network came back from the link bounce.
        ...(options.watchGuest
          ? { intervalMs: 500, attemptTimeoutMs: 3000 }
          : { intervalMs: 100, attemptTimeoutMs: 3000, firstAttemptTimeoutMs: 250 }),
        signal: waitSignal,
        onChange: (change) => {
          const e = byName.get(change.name);
          if (!e || change.state === "pending") return;
          const up = change.state === "up";
          const prev = last.get(change.name);
          last.set(change.name, {
            name: e.name,
            url: e.url,
            up,
            detail: change.detail,
            lastCheck: new Date().toISOString(),
          });
          if (up) phases[e.name] = Date.now() - spawnedAt;
          if (prev === undefined ? up : prev.up !== up) {
            emit({
              type: "service-health",
              service: e.name,
              up,
              url: e.url,
              detail: change.detail,
              elapsedMs: Date.now() - began,
            });
          }
        },
      });
      ready = results.every((r) => r.state === "up");
    } catch (error) {
      if (aborted(signal)) throw abortError(signal);
      if (qemuGone.signal.aborted) throw await this.lostDuringStart(Date.now() - began);
      if (!(HexclaveError.is(error) && error.code === "READINESS_TIMEOUT")) throw error;
    } finally {
      stopWatching.abort();
      signal?.removeEventListener("abort", onAbort);
      await guestConsole.stop();
      await guestWatch;
      await qemuWatch;
    }
    const services = endpoints.map(
      (e) => last.get(e.name) ?? { name: e.name, url: e.url, up: false, detail: "not checked", lastCheck: null },
    );
    emit({
      type: "stage-end",
      stage: "services",
      durationMs: Date.now() - started,
      detail: ready ? "all healthy" : "not ready",
    });
    return { ready, services };
  }

  /**
   * Why the QEMU a start waited for is gone: stopped by another command (its
   * stop marks the instance stopped; wait for a stop still holding the lock),
   * or exited by itself (crashed: the serial log's last lines say more).
   */
  private async lostDuringStart(afterMs: number): Promise<HexclaveError> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await readLockHolder(this.paths.lock))?.live === true) await sleep(250);
    const state = (await this.vm.status()).state;
    const after = `${Math.round(afterMs / 1000)} s`;
    if (state === "stopped") {
      return emulatorErrors.create(
        "EMULATOR_STOPPED_DURING_START",
        `The emulator was stopped by another command (\`stack emulator stop\` or \`reset\`) while this start waited for its services (after ${after})`,
      );
    }
    const tail = await tailLines(this.paths.serialLog, 10);
    // QEMU's own last words (qemu.log): an accelerator report there makes this the accelerator's failure.
    const qemuSaid = (await tailLines(this.paths.qemuLog, 20)).join("\n");
    return emulatorErrors.create(
      "EMULATOR_EXITED_DURING_START",
      `QEMU exited by itself while this start waited for the services (after ${after})${qemuSaid === "" ? "" : `; QEMU said: ${qemuSaid.split("\n").slice(-3).join("; ")}`}${tail.length > 0 ? `; last serial lines:\n${tail.join("\n")}` : ""}`,
      { details: { serialTail: tail, stderr: qemuSaid } },
    );
  }

  /** Resolves true once the guest agent answers a ping, false when `signal` fires first. */
  private async watchGuestBoot(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      let agent: GuestAgentClient | undefined;
      try {
        agent = await this.vm.guestAgent({ timeoutMs: 3000, signal });
        await agent.ping({ timeoutMs: 3000, signal });
        return true;
      } catch {
        await sleep(1000, signal);
      } finally {
        agent?.close();
      }
    }
    return false;
  }

  /**
   * The saved states this instance really has: `fresh` when the overlay holds
   * it, `suspend` when its state file exists. An internal `suspend` snapshot
   * (written by earlier versions) is deleted: it is never resumed.
   */
  private async presentSnapshots(): Promise<SnapshotName[]> {
    const internal = (await this.img.snapshotList(this.paths.overlay)).map((x) => x.name);
    if (internal.includes("suspend")) await this.img.snapshotDelete(this.paths.overlay, "suspend");
    return [
      ...(internal.includes("fresh") ? (["fresh"] as const) : []),
      ...((await exists(this.paths.suspendState)) ? (["suspend"] as const) : []),
    ];
  }

  /**
   * Flushes the guest (fsfreeze, or `sync` when freezing fails) and saves its
   * RAM and device state to the suspend file; the caller then quits QEMU. The
   * guest stays frozen in the saved state: the resume thaws it. A failure
   * runs the VM again (thawed) before it is thrown.
   */
  private async saveSuspend(
    machine: { spec: InstanceVmSpec; fingerprint: VmFingerprint },
    signal: AbortSignal | undefined,
    emit: (e: EmulatorEvent) => void,
  ): Promise<void> {
    const began = Date.now();
    emit({ type: "stage-start", stage: "snapshot", label: "saving suspend" });
    const agent = await this.flushGuest(signal, emit, { dropCaches: true });
    try {
      const saved = await this.vm.saveStateFile(this.paths.suspendState, signal ? { signal } : {});
      emit({
        type: "stage-end",
        stage: "snapshot",
        durationMs: Date.now() - began,
        detail: `suspend (${Math.round(saved.bytes / 2 ** 20)} MiB of state)`,
      });
    } catch (error) {
      const qmp = await this.vm.qmp().catch(() => undefined);
      await qmp?.cont().catch(() => {});
      this.vm.close();
      if (agent?.frozen === true) await agent.client.fsThaw({ timeoutMs: 30_000 }).catch(() => {});
      throw error;
    } finally {
      agent?.client.close();
    }
    await this.recordSaved("suspend", machine, began, emit);
  }

  /** Records a saved snapshot with the machine it fits, and reports it. */
  private async recordSaved(
    name: SnapshotName,
    machine: { spec: InstanceVmSpec; fingerprint: VmFingerprint },
    began: number,
    emit: (e: EmulatorEvent) => void,
  ): Promise<void> {
    await updateSnapshotRecord(this.recordFile, (r) =>
      withSnapshot(r, {
        name,
        spec: machine.spec,
        fingerprint: machine.fingerprint,
        savedAt: new Date().toISOString(),
      }),
    );
    emit({ type: "snapshot-saved", name, durationMs: Date.now() - began });
  }

  /**
   * Freezes the guest's file systems (or runs `sync` when freezing fails); undefined without a guest agent.
   * `dropCaches` first drops the guest's clean page cache: with `init_on_free=1` its pages become zero pages,
   * which a saved state does not carry (best effort: a failure only costs size).
   */
  private async flushGuest(
    signal: AbortSignal | undefined,
    emit: (e: EmulatorEvent) => void,
    options: { dropCaches?: boolean } = {},
  ): Promise<{ client: GuestAgentClient; frozen: boolean } | undefined> {
    let client: GuestAgentClient;
    try {
      client = await this.vm.guestAgent({ timeoutMs: GUEST_AGENT_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    } catch (error) {
      emit({
        type: "message",
        level: "warn",
        text: `Guest agent unavailable, saving without a flush: ${errorText(error)}`,
      });
      return undefined;
    }
    if (options.dropCaches === true) {
      await client
        .exec("/bin/sh", ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"], { timeoutMs: 30_000 })
        .catch(() => undefined);
    }
    try {
      await client.fsFreeze({ timeoutMs: 60_000 });
      return { client, frozen: true };
    } catch (error) {
      await client.fsThaw({ timeoutMs: 10_000 }).catch(() => {});
      emit({
        type: "message",
        level: "warn",
        text: `fsfreeze failed (${errorText(error)}); flushing with sync instead`,
      });
      await client.exec("/bin/sync", [], { timeoutMs: 60_000 }).catch(() => {});
      return { client, frozen: false };
    }
  }

  /**
   * Flushes the guest (fsfreeze, or `sync` when freezing fails), saves
   * snapshot `name` (replacing one of that name), thaws, and records it.
   */
  private async saveWithFlush(
    name: SnapshotName,
    machine: { spec: InstanceVmSpec; fingerprint: VmFingerprint },
    signal: AbortSignal | undefined,
    emit: (e: EmulatorEvent) => void,
  ): Promise<void> {
    const began = Date.now();
    emit({ type: "stage-start", stage: "snapshot", label: `saving ${name}` });
    // The cold boot's page cache goes here, once (see fresh-state.ts), not in every suspend.
    const agent = await this.flushGuest(signal, emit, { dropCaches: true });
    try {
      if (name === "fresh") await saveFreshPair(this.vm, signal);
      else await this.vm.saveSnapshot(name, signal ? { signal } : {});
    } finally {
      if (agent?.frozen === true) {
        await agent.client.fsThaw({ timeoutMs: 30_000 }).catch((error) =>
          emit({
            type: "message",
            level: "warn",
            text: `Could not thaw the guest's file systems: ${errorText(error)}`,
          }),
        );
      }
      agent?.client.close();
    }
    emit({ type: "stage-end", stage: "snapshot", durationMs: Date.now() - began, detail: name });
    await this.recordSaved(name, machine, began, emit);
  }

  private async attachToRunning(
    spec: InstanceVmSpec | undefined,
    pid: number | undefined,
    endpoints: readonly ServiceEndpoint[],
    record: SnapshotRecord,
    s: ResolvedSettings,
    options: EmulatorStartOptions,
    began: number,
  ): Promise<EmulatorStartResult> {
    const emit = (e: EmulatorEvent) => options.onEvent?.(e);
    const accel: Accelerator = spec?.accel ?? record.lastStart?.accel ?? "tcg";
    const base = {
      alreadyRunning: true,
      bootKind: "none" as const,
      reason: "the emulator is already running",
      accel,
      accelReason: record.lastStart?.accelReason ?? "",
      arch: spec?.arch ?? s.arch,
      cpus: spec?.cpus ?? s.cpus,
      memoryMb: spec?.memoryMb ?? s.memoryMb,
      phases: {},
      serialTail: [] as string[],
      stoppedAfterFailure: false,
    };
    const checks = await checkServicesOnce(endpoints, options.signal ? { signal: options.signal } : {});
    if (checks.every((c) => c.up)) {
      await updateSnapshotRecord(this.recordFile, (r) => ({ ...r, healthySinceStart: true }));
      emit({ type: "message", level: "info", text: "The emulator is already running and healthy." });
      return { ...base, ready: true, durationMs: Date.now() - began, services: checks, failing: [] };
    }
    emit({ type: "message", level: "info", text: "The emulator is already running; waiting for its services." });
    const timeoutMs = options.timeoutMs ?? (accel === "tcg" ? EMULATOR_TCG_TIMEOUT_MS : EMULATOR_ACCEL_TIMEOUT_MS);
    const ready = await this.waitForServices(endpoints, timeoutMs, began, began, {}, options.signal, emit, {
      watchGuest: false,
      qemu: pid === undefined ? undefined : await readProcessIdentity(pid),
    });
    return {
      ...base,
      ready: ready.ready,
      durationMs: Date.now() - began,
      services: ready.services,
      failing: ready.services.filter((x) => !x.up).map((x) => x.name),
      serialTail: ready.ready ? [] : await tailLines(this.paths.serialLog, SERIAL_TAIL_LINES),
    };
  }

  // ------------------------------------------------------------------ stop

  /**
   * Stops the VM (suspend, else power off), then its file bridge process, and
   * writes the `--config-file` back: after QEMU quit, so the guest's last
   * version is in. A conflict is a warning event and `configFile` in the result.
   */
  async stop(options: EmulatorStopOptions = {}): Promise<EmulatorStopResult> {
    const result = await this.stopVm(options);
    const configFile = await this.stopFileBridge((e) => options.onEvent?.(e));
    return { ...result, ...(configFile === undefined ? {} : { configFile }), durationMs: result.durationMs };
  }

  private async stopVm(options: EmulatorStopOptions): Promise<EmulatorStopResult> {
    const began = Date.now();
    const emit = (e: EmulatorEvent) => options.onEvent?.(e);
    const signal = options.signal;
    throwIfAborted(signal);
    const noSnapshot = options.noSnapshot === true || envTruthy(this.env[EMULATOR_NO_SNAPSHOT_ENV]);
    const status = await this.vm.status();
    if (status.state === "stopped" || status.state === "crashed") {
      if (status.state === "crashed") await this.vm.stop(signal ? { signal } : {});
      return { wasRunning: false, suspended: false, method: "none", durationMs: Date.now() - began };
    }
    const record = await readSnapshotRecord(this.recordFile);
    let reason: string | undefined;
    let notSaved: string | undefined;
    if (status.state === "broken") {
      notSaved = `the VM is in an error state (${status.failure?.message ?? "unknown"}): stopped without saving its state`;
    } else if (record.healthySinceStart === false) {
      notSaved = "the VM did not reach healthy since its last start: stopped without saving its state";
    }
    if (notSaved !== undefined && !noSnapshot) {
      emit({ type: "message", level: "warn", text: `Not suspending: ${notSaved}` });
      reason = notSaved;
    } else if (!noSnapshot) {
      if (record.current === undefined) {
        reason = "this run has no recorded machine to save";
      } else {
        try {
          await this.saveSuspend(record.current, signal, emit);
          emit({ type: "stage-start", stage: "stop", label: "quitting QEMU" });
          const stopped = await this.vm.stop({ graceMs: 0, ...(signal ? { signal } : {}) });
          emit({ type: "stage-end", stage: "stop", durationMs: stopped.elapsedMs, detail: stopped.how });
          await updateSnapshotRecord(this.recordFile, (r) => ({
            ...r,
            running: false,
            lastStop: { kind: "suspend", at: new Date().toISOString() },
          }));
          return { wasRunning: true, suspended: true, method: "suspend", durationMs: Date.now() - began };
        } catch (error) {
          if (aborted(signal)) throw abortError(signal);
          reason = `saving the state failed: ${errorText(error)}`;
          emit({ type: "message", level: "warn", text: `Could not suspend (${reason}); powering off instead` });
          await updateSnapshotRecord(this.recordFile, (r) => withoutSnapshot(r, "suspend"));
          await rm(this.paths.suspendState, { force: true });
        }
      }
    }
    emit({ type: "stage-start", stage: "stop", label: "powering off" });
    // VmInstance.stop asks the guest agent to shut the guest down beside the power button (which a minimal guest
    // ignores), so the services stop cleanly instead of QEMU being quit after the grace period. A broken VM cannot
    // shut down: QEMU is quit at once.
    const stopped = await this.vm.stop({
      ...(status.state === "broken" ? { graceMs: 0 } : {}),
      ...(signal ? { signal } : {}),
    });
    emit({ type: "stage-end", stage: "stop", durationMs: stopped.elapsedMs, detail: stopped.how });
    await updateSnapshotRecord(this.recordFile, (r) => ({
      ...withoutSnapshot(r, "suspend"),
      running: false,
      lastStop: {
        kind: reason === undefined || notSaved !== undefined ? "poweroff" : "suspend-failed",
        at: new Date().toISOString(),
        ...(reason !== undefined ? { detail: reason } : {}),
      },
    }));
    return {
      wasRunning: true,
      suspended: false,
      method: stopped.how,
      ...(reason !== undefined ? { reason } : {}),
      durationMs: Date.now() - began,
    };
  }

  // ------------------------------------------------------------------ reset

  async reset(options: EmulatorResetOptions = {}): Promise<EmulatorResetResult> {
    const emit = (e: EmulatorEvent) => options.onEvent?.(e);
    const signal = options.signal;
    throwIfAborted(signal);
    const status = await this.vm.status();
    const stoppedFirst = status.state !== "stopped" && status.state !== "crashed";
    if (status.state !== "stopped") {
      // The disk is discarded or reverted: no need for the guest to shut down.
      emit({ type: "stage-start", stage: "stop", label: "stopping the emulator" });
      const stopped = await this.vm.stop({ graceMs: 0, ...(signal ? { signal } : {}) });
      emit({ type: "stage-end", stage: "stop", durationMs: stopped.elapsedMs, detail: stopped.how });
    }
    await this.stopFileBridge(emit);
    const record = await readSnapshotRecord(this.recordFile);
    const overlayExists = await exists(this.paths.overlay);
    if (!overlayExists) {
      await writeSnapshotRecord(this.recordFile, {
        ...EMPTY_SNAPSHOT_RECORD,
        lastStop: { kind: "reset", at: new Date().toISOString() },
      });
      return { mode: "nothing", stoppedFirst, reason: "there was no data disk" };
    }
    let hardReason = "reset --hard: the data disk was deleted; the next start is a cold boot";
    if (options.hard !== true) {
      const present = (await this.img.snapshotList(this.paths.overlay)).map((x) => x.name);
      if (record.snapshots.fresh !== undefined && present.includes("fresh")) {
        await rm(this.paths.suspendState, { force: true });
        await writeSnapshotRecord(this.recordFile, {
          ...withoutSnapshot(record, "suspend"),
          resetPending: true,
          running: false,
          lastStop: { kind: "reset", at: new Date().toISOString() },
        });
        return { mode: "snapshot", stoppedFirst, reason: "the next start resumes the fresh snapshot" };
      }
      hardReason =
        "there is no fresh snapshot to revert to, so the data disk was deleted; the next start is a cold boot";
      emit({ type: "message", level: "warn", text: hardReason });
    }
    await rm(this.paths.overlay, { force: true });
    await rm(this.paths.uefiVars, { force: true });
    await rm(this.paths.suspendState, { force: true });
    await removeFreshState(this.paths);
    await writeSnapshotRecord(this.recordFile, {
      ...EMPTY_SNAPSHOT_RECORD,
      lastStop: { kind: "reset", at: new Date().toISOString() },
    });
    return { mode: "overlay-deleted", stoppedFirst, reason: hardReason };
  }

  // ------------------------------------------------------------------ status

  async status(options: { arch?: Arch; signal?: AbortSignal } = {}): Promise<EmulatorStatus> {
    const vmStatus = await this.vm.status();
    const record = await readSnapshotRecord(this.recordFile);
    const runSpec = vmStatus.record?.spec ?? record.current?.spec;
    const s = this.settings({ arch: options.arch ?? runSpec?.arch });
    const paths = imagePaths(this.home, s.arch);
    let image: InstalledImage | undefined;
    try {
      image = await readInstalledImage(paths, s.arch);
    } catch {
      image = undefined;
    }
    const startHolder = await readLockHolder(this.startLockFile);
    const vmState =
      vmStatus.state === "paused"
        ? "running"
        : (vmStatus.state as "stopped" | "starting" | "running" | "broken" | "crashed");
    // A start in progress (another process holding the start lock) shows as `starting`, from its probe to its first snapshot.
    const state = startHolder?.live === true && vmState !== "crashed" && vmState !== "broken" ? "starting" : vmState;
    const live = state === "running" || state === "starting";
    let services: ServiceHealthCheck[] = [];
    if (image) {
      const forwards = vmStatus.record?.spec.network?.forwards;
      const ports: Record<string, number> = {};
      if (live && forwards) {
        for (const e of image.manifest.services) {
          const f = forwards.find((x) => x.guestPort === e.guestPort);
          if (f) ports[e.service] = f.hostPort;
        }
      }
      const endpoints = serviceEndpoints(image.manifest.services, this.hostPorts(image.manifest, ports));
      services = live
        ? await checkServicesOnce(endpoints, { timeoutMs: 2000, ...(options.signal ? { signal: options.signal } : {}) })
        : endpoints.map((e) => ({
            name: e.name,
            url: e.url,
            up: false,
            detail: "the emulator is not running",
            lastCheck: null,
          }));
    }
    const programs = live ? await readGuestPrograms(this.vm, options.signal ? { signal: options.signal } : {}) : null;
    const health: EmulatorHealth =
      state === "stopped"
        ? "stopped"
        : state === "crashed"
          ? "crashed"
          : state === "broken"
            ? "broken"
            : services.length > 0 && services.every((x) => x.up)
              ? "healthy"
              : "degraded";
    return {
      health,
      vm: {
        state,
        failure: state === "broken" ? (vmStatus.failure?.message ?? "QEMU holds the VM in an error state") : null,
        pid: vmStatus.pid ?? null,
        arch: runSpec?.arch ?? s.arch,
        accelerator: live ? (vmStatus.accel ?? null) : (record.lastStart?.accel ?? null),
        acceleratorReason: record.lastStart?.accelReason ?? null,
        cpus: live && runSpec ? runSpec.cpus : s.cpus,
        memoryMb: live && runSpec ? runSpec.memoryMb : s.memoryMb,
        uptimeSeconds: live && vmStatus.uptimeMs !== undefined ? Math.round(vmStatus.uptimeMs / 1000) : null,
        guestNetwork: live && runSpec?.network !== undefined ? guestNetworkOf(runSpec.network) : null,
      },
      image: {
        path: paths.image,
        present: image !== undefined,
        version: image?.version ?? null,
        sha256: image?.manifest.image.sha256 ?? null,
        source: image?.source ?? null,
      },
      lastStart: record.lastStart ?? null,
      snapshots: (["suspend", "fresh"] as const).filter((n) => record.snapshots[n] !== undefined),
      resetPending: record.resetPending,
      services,
      programs,
      home: this.home,
    };
  }

  // ------------------------------------------------------------------ logs

  /** Lines of the guest console (`serial`) or of the services in the guest (`services`, through the guest agent). */
  logs(options: EmulatorLogsOptions): AsyncIterable<string> {
    return options.source === "serial" ? this.serialLines(options) : this.serviceLines(options);
  }

  private async *serialLines(options: EmulatorLogsOptions): AsyncGenerator<string> {
    const file = this.paths.serialLog;
    let offset = 0;
    let partial = "";
    for (;;) {
      let size = 0;
      try {
        size = (await stat(file)).size;
      } catch {
        if (!options.follow) {
          throw emulatorErrors.create("EMULATOR_NO_LOGS", `There is no serial log yet (${file})`, {
            details: { file },
          });
        }
      }
      if (size < offset) offset = 0; // a new run truncated it
      if (size > offset) {
        const handle = await open(file, "r");
        try {
          const buffer = Buffer.alloc(size - offset);
          await handle.read(buffer, 0, buffer.length, offset);
          offset = size;
          const text = partial + buffer.toString("utf8").replace(/\r/g, "");
          const lines = text.split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) yield line;
        } finally {
          await handle.close();
        }
      }
      if (!options.follow || aborted(options.signal)) break;
      await sleep(500, options.signal);
      if (aborted(options.signal)) break;
    }
    if (partial !== "") yield partial;
  }

  private async *serviceLines(options: EmulatorLogsOptions): AsyncGenerator<string> {
    const status = await this.vm.status();
    if (status.state !== "running") {
      throw emulatorErrors.create(
        "EMULATOR_NOT_RUNNING",
        "The emulator is not running: its service logs live in the guest",
        {
          hint: "Start it with `stack emulator start`, or read the console with `stack emulator logs --serial`.",
        },
      );
    }
    let cursor: string | undefined;
    const n = String(options.lines ?? 200);
    for (;;) {
      const agent = await this.vm.guestAgent({
        timeoutMs: GUEST_AGENT_TIMEOUT_MS,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      let out: string;
      try {
        const args = ["--no-pager", "-o", "short-iso", "--show-cursor", "-u", SERVICE_UNIT];
        const r = await agent.exec(
          "/usr/bin/journalctl",
          cursor === undefined ? [...args, "-n", n] : [...args, "--after-cursor", cursor],
          { timeoutMs: 30_000 },
        );
        if (r.exitCode !== 0) {
          throw emulatorErrors.create("EMULATOR_NO_LOGS", `journalctl failed in the guest: ${r.stderr.trim()}`);
        }
        out = r.stdout;
      } finally {
        agent.close();
      }
      for (const line of out.split("\n")) {
        const m = /^-- cursor: (.*)$/.exec(line);
        if (m) cursor = m[1];
        else if (line !== "" && line !== "-- No entries --") yield line;
      }
      if (!options.follow || aborted(options.signal)) return;
      await sleep(2000, options.signal);
      if (aborted(options.signal)) return;
    }
  }
}

/** A QEMU start that failed with an accelerator error in its output becomes `EMULATOR_VM_FAILED` naming `accel`. */
function withAccel(error: unknown, accel: Accelerator): unknown {
  const info = acceleratorFailureOf(error, accel);
  if (info === undefined) return error;
  if (HexclaveError.is(error) && error.code === "EMULATOR_VM_FAILED") return error;
  return vmFailedError("QEMU could not start the VM", info);
}

export function createEmulator(options: CreateEmulatorOptions = {}): Emulator {
  return new Emulator(options);
}
