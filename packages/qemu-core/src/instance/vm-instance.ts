/**
 * `VmInstance`: one VM's directory under `<home>/run/<name>` (the layout of
 * `instancePaths`), and everything that starts, inspects, stops and
 * snapshots the QEMU process behind it.
 *
 * - `start` takes the instance lock, refuses a running instance, binds each
 *   forwarded host port to check it is free (naming the holder), creates the
 *   overlay on the base image if missing, records the exact QEMU arguments in
 *   `instance.json` (temp + rename), spawns QEMU detached in its own session
 *   with `-pidfile` (stdout and stderr in `qemu.log`: not `-daemonize`, which
 *   discards QEMU's error reports), and returns once QMP answers.
 * - `watch` follows a running QEMU's run state, `qemu.log` and process and
 *   reports the first failure (see run-state-watch.ts).
 * - `status` is derived every time, never stored: the pid is trusted only if
 *   the process is alive and is this instance's QEMU (start time recorded at
 *   start, command line naming the instance directory). A recorded start with
 *   no process and no clean-stop marker reads as `crashed`. Stale pid and
 *   socket files are removed; a pid that belongs to another process is never
 *   signalled.
 * - `stop` escalates through documented deadlines: ACPI power button
 *   (`graceMs`, default 30 s), QMP `quit` (5 s), SIGTERM (5 s), SIGKILL (5 s),
 *   each signal only after the process identity is verified again.
 * - Snapshots: `saveSnapshot`/`deleteSnapshot`/`listSnapshots` (QMP
 *   `snapshot-save`/`snapshot-delete` jobs over every writable qcow2 drive when
 *   running, `qemu-img` on the drives when stopped) and `start({ loadvm })`.
 */
import { spawn } from "node:child_process";
import { mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { type CommandRunner, execaRunner } from "./command-runner.js";
import { qemuErrors } from "./errors-data.js";
import { GuestAgentClient } from "./guest-agent-client.js";
import { detectHost } from "./host.js";
import { checkPortsFree, type PortRequest } from "./host-ports.js";
import { DEFAULT_INSTANCE, type InstancePaths, instancePaths } from "./instance-layout.js";
import { acquireInstanceLock, readLockHolder } from "./instance-lock.js";
import { ensurePrivateDir, ensurePrivateFile, makeFilePrivate } from "./private-files.js";
import { type ProcessIdentity, readProcessIdentity } from "./process-identity.js";
import { buildQemuArgs } from "./qemu-args.js";
import { findQemuBinary } from "./qemu-binary.js";
import { createQemuImg, type QemuImg } from "./qemu-img.js";
import { parseQemuImgInfo, type QemuImgSnapshot } from "./qemu-img-info.js";
import { abortedError, QmpClient, type QmpStatus, throwIfAborted } from "./qmp-client.js";
import {
  classifyVmFailure,
  type QemuRunWatch,
  runStateFailure,
  type VmFailure,
  watchQemuRun,
} from "./run-state-watch.js";
import {
  type MigrationProgress,
  readMigrationProgress,
  STATE_FILE_MAX_BANDWIDTH_BYTES_PER_S,
  stateFileLoadUri,
  stateFileSaveUri,
} from "./state-file-migration.js";
import type { Accelerator, DriveSpec, VmSpec } from "./vm-spec.js";

/** The VM spec a caller gives: the instance fills QMP socket, pidfile, serial log, guest agent socket, daemonize and loadvm. */
export type InstanceVmSpec = Omit<
  VmSpec,
  "qmpSocket" | "pidFile" | "serial" | "guestAgentSocket" | "daemonize" | "loadvm" | "incoming" | "name"
> & { readonly name?: string };

/** `broken`: QEMU runs but holds the VM in an error state (`internal-error`, `guest-panicked`, `io-error`, `shutdown`). */
export type VmState = "stopped" | "starting" | "running" | "paused" | "broken" | "crashed";

/** What `instance.json` holds. Written at start (temp + rename), updated at stop. */
export interface InstanceRecord {
  readonly version: 1;
  readonly name: string;
  /** The QEMU binary and its exact argument list. */
  readonly binary: string;
  readonly args: readonly string[];
  /** The full spec the arguments were built from. */
  readonly spec: VmSpec;
  readonly accel: Accelerator;
  readonly fingerprint?: Readonly<Record<string, unknown>>;
  /** Snapshot the VM was started from (`-loadvm`), if any. */
  readonly loadvm?: string;
  readonly startedAt: string;
  readonly pid?: number;
  readonly identity?: ProcessIdentity;
  /** `starting` while QEMU spawns, `started` once it runs, `stopped` after a clean stop (the clean-stop marker). */
  readonly state: "starting" | "started" | "stopped";
  readonly stoppedAt?: string;
  /** How the last stop ended: `powerdown`, `quit`, `sigterm`, `sigkill`, `start-failed`, `start-aborted`. */
  readonly stopReason?: string;
}

export interface InstanceStatus {
  readonly state: VmState;
  readonly pid?: number;
  readonly accel?: Accelerator;
  /** Since QEMU started (running, paused, starting). */
  readonly uptimeMs?: number;
  /** QEMU's run state from `query-status` when QMP answered. */
  readonly qmpStatus?: QmpStatus;
  /** Why QMP did not answer, when it did not. */
  readonly qmpError?: string;
  /** When `broken`: what the run state and QEMU's output (qemu.log) say. */
  readonly failure?: VmFailure;
  readonly record?: InstanceRecord;
}

/** Typed progress of start, stop and snapshot operations. */
export type VmInstanceEvent =
  | { readonly type: "lock-acquired"; readonly purpose: string }
  | { readonly type: "stale-cleaned"; readonly files: readonly string[]; readonly reason: string }
  | { readonly type: "ports-checked"; readonly ports: readonly number[] }
  | { readonly type: "overlay-created"; readonly file: string; readonly backingFile: string }
  | { readonly type: "qemu-spawned"; readonly pid: number; readonly binary: string; readonly args: readonly string[] }
  | { readonly type: "qmp-ready"; readonly status: string; readonly elapsedMs: number }
  | { readonly type: "powerdown-requested"; readonly graceMs: number }
  | { readonly type: "stop-escalated"; readonly step: "quit" | "sigterm" | "sigkill"; readonly reason: string }
  | { readonly type: "stopped"; readonly how: string; readonly elapsedMs: number }
  | { readonly type: "snapshot-saved"; readonly name: string; readonly elapsedMs: number }
  | { readonly type: "snapshot-deleted"; readonly name: string };

export interface VmInstanceOptions {
  /** The emulator home (`emulatorHome()`). */
  readonly home: string;
  /** Instance name (directory under `run/`); default `vm`. */
  readonly name?: string;
  /** Runs QEMU and qemu-img; default execa. */
  readonly runner?: CommandRunner;
  /** The qemu-system binary; default `findQemuBinary(spec.arch)`. */
  readonly qemuBinary?: string;
  /** qemu-img wrapper; default one over `runner`. */
  readonly qemuImg?: QemuImg;
}

export interface StartOptions {
  readonly spec: InstanceVmSpec;
  /**
   * The read-only base image. The overlay (`disk.qcow2`) is created on it if
   * missing, and, unless a spec drive already names the overlay, attached as
   * the first drive `{ id: "disk", format: "qcow2", discard: true }`.
   */
  readonly backingImage?: { readonly file: string; readonly format: "qcow2" | "raw" };
  /** Extra host ports to check (the spec's forwards are always checked). */
  readonly ports?: readonly PortRequest[];
  /** Resume from this internal snapshot (`-loadvm`). `SNAPSHOT_NOT_FOUND` if the overlay lacks it. */
  readonly loadvm?: string;
  /**
   * Resume from a state file written by {@link VmInstance.saveStateFile}
   * (`-incoming`): start returns once the state is loaded and the VM runs.
   * `SNAPSHOT_NOT_FOUND` if the file is missing, `STATE_LOAD_FAILED` if QEMU
   * cannot load it. The disk must be exactly as it was when it was saved.
   */
  readonly incomingStateFile?: string;
  /** Stored in instance.json (QEMU version, image digest, ...) for resume decisions. */
  readonly fingerprint?: Readonly<Record<string, unknown>>;
  /** Deadline for QEMU to daemonize and QMP to answer. Default 60000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: VmInstanceEvent) => void;
}

export interface StartResult {
  readonly pid: number;
  readonly accel: Accelerator;
  readonly args: readonly string[];
  readonly qmpStatus: QmpStatus;
  readonly record: InstanceRecord;
  /** True when an earlier run had crashed (and its stale files were cleaned). */
  readonly recoveredFromCrash: boolean;
}

export interface StopOptions {
  /** How long the guest gets after the ACPI power button. Default 30000 ms. 0 skips the button. */
  readonly graceMs?: number;
  /** Wait after QMP `quit`. Default 5000 ms. */
  readonly quitMs?: number;
  /** Wait after SIGTERM. Default 5000 ms. */
  readonly termMs?: number;
  /** Wait after SIGKILL. Default 5000 ms. */
  readonly killMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: VmInstanceEvent) => void;
}

export interface StopResult {
  /** False when nothing was running (a no-op). */
  readonly wasRunning: boolean;
  /** `powerdown`, `quit`, `sigterm`, `sigkill`, or `not-running`. */
  readonly how: string;
  readonly elapsedMs: number;
}

export interface SnapshotOptions {
  /** Deadline for the snapshot job. Default 300000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: VmInstanceEvent) => void;
}

/** Default deadlines of {@link VmInstance.stop}: the worst case is their sum (45 s) plus QMP round trips. */
export const STOP_DEFAULTS = { graceMs: 30_000, quitMs: 5_000, termMs: 5_000, killMs: 5_000 } as const;

const QMP_PROBE_TIMEOUT_MS = 2_000;
const POLL_MS = 100;
/** How long `stop` waits for a guest agent to answer before it relies on the power button alone. */
const GUEST_AGENT_PROBE_TIMEOUT_MS = 3_000;
/** How often a state save or load polls `query-migrate`. */
const INCOMING_POLL_MS = 25;

export class VmInstance {
  readonly name: string;
  readonly home: string;
  /** Every file of this instance. */
  readonly paths: InstancePaths;
  private readonly runner: CommandRunner;
  private readonly img: QemuImg;
  private readonly qemuBinary: string | undefined;
  private client: QmpClient | undefined;

  constructor(options: VmInstanceOptions) {
    if (typeof options?.home !== "string" || options.home === "") {
      throw qemuErrors.create("INVALID_ARGUMENT", "VmInstance needs a home directory", {
        hint: "Pass { home: emulatorHome() }.",
      });
    }
    const name = options.name ?? DEFAULT_INSTANCE;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw qemuErrors.create("INVALID_ARGUMENT", `Invalid instance name ${JSON.stringify(name)}`, {
        hint: "Use letters, digits, dot, dash and underscore (at most 64), starting with a letter or digit.",
      });
    }
    this.name = name;
    // Absolute once: QEMU changes directory when it daemonizes, and the suspend save runs after that.
    this.home = resolve(options.home);
    this.paths = instancePaths(this.home, name);
    this.runner = options.runner ?? execaRunner;
    this.img = options.qemuImg ?? createQemuImg({ runner: this.runner });
    this.qemuBinary = options.qemuBinary;
  }

  // ---------------------------------------------------------------- record

  /** The instance record, or undefined when the instance never started. Throws `INSTANCE_RECORD_INVALID` if unreadable. */
  async readRecord(): Promise<InstanceRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.paths.record, "utf8");
    } catch {
      return undefined;
    }
    try {
      const r = JSON.parse(text) as InstanceRecord;
      if (r.version !== 1 || !Array.isArray(r.args)) throw new Error("unknown record version");
      return r;
    } catch (cause) {
      throw qemuErrors.create("INSTANCE_RECORD_INVALID", `${this.paths.record} is not a valid instance record`, {
        cause,
        details: { file: this.paths.record },
      });
    }
  }

  private async writeRecord(record: InstanceRecord): Promise<void> {
    const tmp = `${this.paths.record}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, this.paths.record);
  }

  // ---------------------------------------------------------------- status

  /**
   * The instance's state, derived now: the process (pid + start time +
   * command line naming this instance's directory), QMP's run state,
   * accelerator and uptime. Cleans stale pid and socket files (never
   * signalling the pid they name).
   */
  async status(): Promise<InstanceStatus> {
    const record = await this.readRecord();
    const owned = await this.findOwnProcess(record);
    if (owned) {
      const base = {
        pid: owned.pid,
        ...(record ? { accel: record.accel, record } : {}),
        uptimeMs: record ? Math.max(0, Date.now() - Date.parse(record.startedAt)) : 0,
      };
      try {
        const client = await this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        const qmpStatus = await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        const failure =
          runStateFailure(qmpStatus.status) === undefined
            ? undefined
            : classifyVmFailure(qmpStatus.status, await tailFile(this.paths.qemuLog, 16_000));
        if (failure !== undefined) return { state: "broken", qmpStatus, failure, ...base };
        return { state: vmStateOf(qmpStatus), qmpStatus, ...base };
      } catch (error) {
        const qmpError = error instanceof Error ? error.message : String(error);
        const starting = record?.state === "starting" || (await this.startInProgress());
        return { state: starting ? "starting" : "running", qmpError, ...base };
      }
    }
    if (await this.startInProgress()) {
      return { state: "starting", ...(record ? { accel: record.accel, record } : {}) };
    }
    await this.cleanStaleFiles();
    if (record && record.state !== "stopped") {
      return { state: "crashed", accel: record.accel, record };
    }
    return { state: "stopped", ...(record ? { accel: record.accel, record } : {}) };
  }

  /** True while another live command holds the lock to start this instance. */
  private async startInProgress(): Promise<boolean> {
    const holder = await readLockHolder(this.paths.lock);
    return holder?.live === true && holder.record.purpose === "start";
  }

  /**
   * The QEMU process of this instance, if alive: the pidfile's (or record's)
   * pid whose command line names this instance directory and whose start
   * time matches the record.
   */
  private async findOwnProcess(record: InstanceRecord | undefined): Promise<ProcessIdentity | undefined> {
    const pids = new Set<number>();
    const fromFile = await readPidFile(this.paths.pidFile);
    if (fromFile !== undefined) pids.add(fromFile);
    if (record?.pid !== undefined) pids.add(record.pid);
    for (const pid of pids) {
      const id = await readProcessIdentity(pid);
      if (id && this.isOwnIdentity(id, record)) return id;
    }
    return undefined;
  }

  private isOwnIdentity(id: ProcessIdentity, record: InstanceRecord | undefined): boolean {
    if (!id.cmdline.some((a) => a.includes(this.paths.dir))) return false;
    if (record?.identity && record.identity.pid === id.pid && record.identity.startTime !== id.startTime) return false;
    return true;
  }

  private async cleanStaleFiles(): Promise<string[]> {
    this.dropClient();
    const removed: string[] = [];
    for (const file of [this.paths.pidFile, this.paths.qmpSocket, this.paths.guestAgentSocket]) {
      try {
        await unlink(file);
        removed.push(file);
      } catch {
        // absent
      }
    }
    return removed;
  }

  // ---------------------------------------------------------------- QMP / QGA

  /**
   * The connected QMP client of this instance (one per instance and process:
   * QMP serves one client at a time). Do not close it; call {@link close}.
   */
  async qmp(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<QmpClient> {
    if (this.client?.connected) return this.client;
    this.client = undefined;
    const client = await QmpClient.connect(this.paths.qmpSocket, options);
    client.onClose(() => {
      if (this.client === client) this.client = undefined;
    });
    this.client = client;
    return client;
  }

  /** A new guest agent client on this instance's qga socket (close it when done). */
  guestAgent(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<GuestAgentClient> {
    return GuestAgentClient.connect(this.paths.guestAgentSocket, options);
  }

  /** Closes this object's QMP connection (the VM keeps running). */
  close(): void {
    this.dropClient();
  }

  /**
   * Watches this instance's running QEMU (see run-state-watch.ts): its run
   * state over short QMP connections (QMP serves one client at a time, so
   * other commands can still talk to it between polls), `qemu.log`, and
   * whether the process still runs. `failure` resolves with the first
   * failure, or undefined after `stop()`.
   */
  watch(options: { pollMs?: number; signal?: AbortSignal; identity?: ProcessIdentity } = {}): QemuRunWatch {
    const identity = options.identity;
    return watchQemuRun({
      pollMs: options.pollMs ?? 1000,
      ...(options.signal ? { signal: options.signal } : {}),
      queryStatus: async () => {
        // This object's own connection when it has one (QMP serves one client at a time), else a short one.
        if (this.client?.connected === true) return this.client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        const client = await QmpClient.connect(this.paths.qmpSocket, { timeoutMs: QMP_PROBE_TIMEOUT_MS });
        try {
          return await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        } finally {
          client.close();
        }
      },
      readOutput: () => tailFile(this.paths.qemuLog, 16_000),
      ...(identity === undefined
        ? {}
        : { isAlive: async () => (await readProcessIdentity(identity.pid))?.startTime === identity.startTime }),
    });
  }

  private dropClient(): void {
    this.client?.close();
    this.client = undefined;
  }

  // ---------------------------------------------------------------- start

  /** Starts QEMU for this instance and resolves once QMP answers. See the module doc. */
  async start(options: StartOptions): Promise<StartResult> {
    const emit = options.onEvent ?? (() => {});
    const signal = options.signal;
    throwIfAborted(signal);
    validateStartOptions(options);
    // Pure first: a malformed spec fails before anything is touched.
    let drives: readonly DriveSpec[] = options.spec.drives ?? [];
    if (options.backingImage && !drives.some((d) => d.file === this.paths.overlay)) {
      drives = [{ id: "disk", file: this.paths.overlay, format: "qcow2", discard: true }, ...drives];
    }
    const spec: VmSpec = {
      ...options.spec,
      name: options.spec.name ?? this.name,
      drives,
      qmpSocket: this.paths.qmpSocket,
      guestAgentSocket: this.paths.guestAgentSocket,
      serial: { file: this.paths.serialLog },
      pidFile: this.paths.pidFile,
      ...(options.loadvm !== undefined ? { loadvm: options.loadvm } : {}),
      ...(options.incomingStateFile !== undefined ? { incoming: stateFileLoadUri(options.incomingStateFile) } : {}),
    };
    const args = buildQemuArgs(spec, { hostArch: hostArchOrUndefined() });
    await ensurePrivateDir(this.home);
    await ensurePrivateDir(this.paths.dir);
    const lock = await acquireInstanceLock(this.paths.lock, { purpose: "start" });
    emit({ type: "lock-acquired", purpose: "start" });
    try {
      const record = await this.readRecord().catch(() => undefined);
      const own = await this.findOwnProcess(record);
      if (own) {
        throw qemuErrors.create(
          "INSTANCE_ALREADY_RUNNING",
          `Instance "${this.name}" is already running (QEMU pid ${own.pid})`,
          { details: { pid: own.pid, dir: this.paths.dir } },
        );
      }
      const recoveredFromCrash = record !== undefined && record.state !== "stopped";
      const stale = await this.cleanStaleFiles();
      if (stale.length > 0) {
        emit({
          type: "stale-cleaned",
          files: stale,
          reason: recoveredFromCrash ? "previous run crashed" : "stale files",
        });
      }

      // Ports: the spec's forwards plus any extra.
      const ports: PortRequest[] = [
        ...(options.spec.network?.forwards ?? []).map((f) => ({
          port: f.hostPort,
          protocol: f.protocol ?? "tcp",
          host: f.hostAddress ?? "127.0.0.1",
        })),
        ...(options.ports ?? []),
      ];
      await checkPortsFree(ports);
      emit({ type: "ports-checked", ports: ports.map((p) => (typeof p === "number" ? p : p.port)) });
      throwIfAborted(signal);

      // Overlay.
      if (options.backingImage && !(await exists(this.paths.overlay))) {
        await this.img.createOverlay({
          file: this.paths.overlay,
          backingFile: options.backingImage.file,
          backingFormat: options.backingImage.format,
          ...(signal ? { signal } : {}),
        });
        emit({ type: "overlay-created", file: this.paths.overlay, backingFile: options.backingImage.file });
      }
      // Guest data is the user's alone: the disk, and the console log QEMU is about to (re)open.
      await makeFilePrivate(this.paths.overlay);
      await ensurePrivateFile(this.paths.serialLog);
      if (options.loadvm !== undefined) await this.assertSnapshotExists(drives, options.loadvm);
      if (options.incomingStateFile !== undefined && !(await exists(options.incomingStateFile))) {
        throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `The saved state ${options.incomingStateFile} does not exist`, {
          details: { file: options.incomingStateFile },
        });
      }

      const binary = this.qemuBinary ?? (await findQemuBinary(spec.arch)).path;
      let rec: InstanceRecord = {
        version: 1,
        name: this.name,
        binary,
        args,
        spec,
        accel: spec.accel,
        ...(options.fingerprint ? { fingerprint: options.fingerprint } : {}),
        ...(options.loadvm !== undefined ? { loadvm: options.loadvm } : {}),
        startedAt: new Date().toISOString(),
        state: "starting",
      };
      await this.writeRecord(rec);
      const started = Date.now();
      const timeoutMs = options.timeoutMs ?? 60_000;

      try {
        // Not -daemonize: a daemonized QEMU sends its stderr to /dev/null, and its stderr is where it reports an
        // accelerator failure (`KVM internal error`). A detached QEMU writes it to qemu.log instead.
        const spawned = await spawnDetachedQemu(binary, args, this.paths.qemuLog);
        const pid = await this.waitForPidFile(spawned, started + timeoutMs, signal);
        if (pid === undefined) {
          if (spawned.exit === undefined && spawned.pid !== undefined) {
            try {
              process.kill(spawned.pid, "SIGKILL"); // our own child, not yet reaped: still the same process
            } catch {
              // already gone
            }
          }
          const output = (await tailFile(this.paths.qemuLog, 4000)).trim();
          const why =
            spawned.error !== undefined
              ? `could not be started (${spawned.error})`
              : spawned.exit !== undefined
                ? spawned.exit.code === null
                  ? `was killed by ${spawned.exit.signal ?? "a signal"}`
                  : `exited with code ${spawned.exit.code}`
                : `did not finish starting within ${timeoutMs} ms`;
          throw qemuErrors.create(
            "VM_START_FAILED",
            `QEMU for instance "${this.name}" ${why}${output ? `:\n${output}` : ""}`,
            {
              ...(options.loadvm !== undefined
                ? { hint: `Resuming snapshot "${options.loadvm}" failed; boot cold (without loadvm) instead.` }
                : {}),
              details: {
                binary,
                args,
                exitCode: spawned.exit?.code ?? null,
                stderr: output,
                qemuLog: this.paths.qemuLog,
                loadvm: options.loadvm,
              },
            },
          );
        }
        const identity = await readProcessIdentity(pid);
        if (!identity || !this.isOwnIdentity(identity, undefined)) {
          throw qemuErrors.create("VM_START_FAILED", `QEMU for instance "${this.name}" exited right after starting`, {
            details: {
              binary,
              args,
              serialLog: this.paths.serialLog,
              stderr: await tailFile(this.paths.qemuLog, 4000),
            },
          });
        }
        rec = { ...rec, pid, identity, state: "started" };
        await this.writeRecord(rec);
        emit({ type: "qemu-spawned", pid, binary, args });

        let qmpStatus = await this.waitForQmp(identity, started + timeoutMs, signal);
        if (options.incomingStateFile !== undefined) {
          qmpStatus = await this.finishIncoming(options.incomingStateFile, identity, started + timeoutMs, signal);
        }
        emit({ type: "qmp-ready", status: qmpStatus.status, elapsedMs: Date.now() - started });
        return { pid, accel: spec.accel, args, qmpStatus, record: rec, recoveredFromCrash };
      } catch (error) {
        // Leave nothing behind: kill whatever QEMU this start spawned.
        await this.killSpawned();
        await this.cleanStaleFiles();
        const aborted = signal?.aborted === true;
        await this.writeRecord({
          ...rec,
          state: "stopped",
          stoppedAt: new Date().toISOString(),
          stopReason: aborted ? "start-aborted" : "start-failed",
        });
        if (aborted) throw abortedError(signal);
        if (options.incomingStateFile !== undefined && qemuErrors.is(error, "VM_START_FAILED")) {
          // QEMU loads the state after it daemonizes: a state it refuses shows as QEMU exiting early.
          throw qemuErrors.create(
            "STATE_LOAD_FAILED",
            `QEMU for instance "${this.name}" could not load ${options.incomingStateFile}: it exited while loading it`,
            { cause: error, details: { file: options.incomingStateFile } },
          );
        }
        throw error;
      }
    } finally {
      await lock.release();
    }
  }

  /** The pid QEMU wrote to its pidfile (it does so once its options are parsed); undefined when it exited first. */
  private async waitForPidFile(
    spawned: SpawnedQemu,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<number | undefined> {
    for (;;) {
      throwIfAborted(signal);
      const pid = await readPidFile(this.paths.pidFile);
      if (pid !== undefined && (await readProcessIdentity(pid))) return pid;
      if (spawned.exit !== undefined || spawned.error !== undefined) return undefined;
      if (Date.now() > deadline) return undefined;
      await sleep(25);
    }
  }

  private async waitForQmp(identity: ProcessIdentity, deadline: number, signal?: AbortSignal): Promise<QmpStatus> {
    let last: unknown;
    for (;;) {
      throwIfAborted(signal);
      try {
        const client = await this.qmp({
          timeoutMs: Math.max(200, Math.min(QMP_PROBE_TIMEOUT_MS, deadline - Date.now())),
          ...(signal ? { signal } : {}),
        });
        return await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
      } catch (error) {
        if (qemuErrors.is(error, "ABORTED")) throw error;
        last = error;
      }
      if (!(await readProcessIdentity(identity.pid))) {
        const tail = await tailFile(this.paths.serialLog, 2000);
        const output = (await tailFile(this.paths.qemuLog, 4000)).trim();
        throw qemuErrors.create(
          "VM_START_FAILED",
          `QEMU for instance "${this.name}" exited before QMP answered${output ? `:\n${output}` : ""}`,
          { details: { pid: identity.pid, serialTail: tail, stderr: output, qemuLog: this.paths.qemuLog } },
        );
      }
      if (Date.now() > deadline) {
        throw qemuErrors.create("VM_START_FAILED", `QMP of instance "${this.name}" did not answer in time`, {
          cause: last,
          details: { pid: identity.pid },
        });
      }
      await sleep(POLL_MS);
    }
  }

  /** Kills the QEMU named by the pidfile if (and only if) it is this instance's. */
  private async killSpawned(): Promise<void> {
    this.dropClient();
    // The daemon writes its pidfile early; give a killed parent's child a moment to show up.
    for (let i = 0; i < 5; i++) {
      const pid = await readPidFile(this.paths.pidFile);
      const id = pid !== undefined ? await readProcessIdentity(pid) : undefined;
      if (id && this.isOwnIdentity(id, undefined)) {
        await signalIfSame(id, "SIGKILL");
        await waitForExit(id, 5_000);
        return;
      }
      await sleep(POLL_MS);
    }
  }

  /** Waits for the `-incoming` state to load, then runs the VM (a state saved paused stays paused until `cont`). */
  private async finishIncoming(
    file: string,
    identity: ProcessIdentity,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<QmpStatus> {
    const failed = (why: string, cause?: unknown) =>
      qemuErrors.create("STATE_LOAD_FAILED", `QEMU for instance "${this.name}" could not load ${file}: ${why}`, {
        ...(cause === undefined ? {} : { cause }),
        details: { file },
      });
    for (;;) {
      throwIfAborted(signal);
      let progress: MigrationProgress | undefined;
      try {
        const client = await this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
        progress = readMigrationProgress(
          await client.execute("query-migrate", undefined, { timeoutMs: QMP_PROBE_TIMEOUT_MS }),
        );
      } catch (error) {
        if (qemuErrors.is(error, "ABORTED")) throw error;
        if (!(await readProcessIdentity(identity.pid))) throw failed("QEMU exited while loading it", error);
      }
      if (progress?.kind === "failed") throw failed(progress.error);
      if (progress?.kind === "completed") {
        const client = await this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
        const status = await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        if (status.status === "running") return status;
        await client.cont({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        return client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      }
      if (Date.now() > deadline) throw failed("it did not finish loading in time");
      await sleep(INCOMING_POLL_MS);
    }
  }

  private async assertSnapshotExists(drives: readonly DriveSpec[], name: string): Promise<void> {
    const primary = primaryDrive(drives);
    if (!primary) {
      throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `Cannot resume "${name}": the VM has no writable qcow2 drive`, {
        hint: "Attach the overlay (backingImage) to resume a snapshot.",
      });
    }
    const snapshots = (await exists(primary.file)) ? await this.img.snapshotList(primary.file) : [];
    if (!snapshots.some((s) => s.name === name)) {
      throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `Snapshot "${name}" is not in ${primary.file}`, {
        details: { name, file: primary.file, available: snapshots.map((s) => s.name) },
      });
    }
  }

  // ---------------------------------------------------------------- stop

  /**
   * Stops the VM: ACPI power button and `graceMs`, then QMP `quit` and
   * `quitMs`, then SIGTERM and `termMs`, then SIGKILL and `killMs` (defaults
   * in {@link STOP_DEFAULTS}). Signals go only to the verified QEMU of this
   * instance. A paused VM skips the power button. Stopping a stopped (or
   * crashed) instance cleans up and is a no-op.
   */
  async stop(options: StopOptions = {}): Promise<StopResult> {
    const emit = options.onEvent ?? (() => {});
    const signal = options.signal;
    const o = { ...STOP_DEFAULTS, ...definedOnly(options) };
    for (const k of ["graceMs", "quitMs", "termMs", "killMs"] as const) {
      if (!Number.isFinite(o[k]) || o[k] < 0) {
        throw qemuErrors.create("INVALID_ARGUMENT", `stop: ${k} must be a number of milliseconds >= 0`, {
          details: { [k]: o[k] },
        });
      }
    }
    throwIfAborted(signal);
    const started = Date.now();
    await mkdir(this.paths.dir, { recursive: true });
    const lock = await acquireInstanceLock(this.paths.lock, { purpose: "stop" });
    emit({ type: "lock-acquired", purpose: "stop" });
    try {
      const record = await this.readRecord().catch(() => undefined);
      const own = await this.findOwnProcess(record);
      if (!own) {
        await this.cleanStaleFiles();
        if (record && record.state !== "stopped") {
          await this.writeRecord({
            ...record,
            state: "stopped",
            stoppedAt: new Date().toISOString(),
            stopReason: "not-running",
          });
        }
        return { wasRunning: false, how: "not-running", elapsedMs: Date.now() - started };
      }
      let how = "";
      let guestShutdown: Promise<void> = Promise.resolve();
      const client = await this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS }).catch(() => undefined);
      const status = await client?.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS }).catch(() => undefined);
      if (client && status?.running && o.graceMs > 0) {
        // Beside the power button: a minimal guest may ignore it, and its agent runs the guest's own shutdown.
        guestShutdown = this.requestGuestShutdown(o.graceMs);
        try {
          await client.systemPowerdown({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
          emit({ type: "powerdown-requested", graceMs: o.graceMs });
          if (await waitForExit(own, o.graceMs, signal)) how = "powerdown";
        } catch (error) {
          if (qemuErrors.is(error, "ABORTED")) throw error;
        }
      }
      if (!how) {
        const reason = !client
          ? "QMP did not answer"
          : !status?.running
            ? `the VM is ${status?.status ?? "not running"}: the guest cannot handle the power button`
            : `the guest did not power off within ${o.graceMs} ms`;
        emit({ type: "stop-escalated", step: "quit", reason });
        if (client) {
          await client.quit({ timeoutMs: Math.max(500, Math.min(o.quitMs, QMP_PROBE_TIMEOUT_MS)) }).catch(() => {});
          if (await waitForExit(own, o.quitMs, signal)) how = "quit";
        }
      }
      if (!how) {
        emit({ type: "stop-escalated", step: "sigterm", reason: `QEMU did not quit within ${o.quitMs} ms` });
        if (await signalIfSame(own, "SIGTERM")) {
          if (await waitForExit(own, o.termMs, signal)) how = "sigterm";
        } else how = "sigterm";
      }
      if (!how) {
        emit({ type: "stop-escalated", step: "sigkill", reason: `QEMU ignored SIGTERM for ${o.termMs} ms` });
        if (await signalIfSame(own, "SIGKILL")) {
          if (await waitForExit(own, o.killMs, signal)) how = "sigkill";
        } else how = "sigkill";
      }
      if (!how) {
        throw qemuErrors.create("VM_STOP_FAILED", `QEMU pid ${own.pid} of instance "${this.name}" survived SIGKILL`, {
          hint: `Check the process by hand: ps -p ${own.pid}.`,
          details: { pid: own.pid },
        });
      }
      this.dropClient();
      await guestShutdown; // QEMU is gone: its agent connection has closed
      await this.cleanStaleFiles();
      if (record) {
        await this.writeRecord({ ...record, state: "stopped", stoppedAt: new Date().toISOString(), stopReason: how });
      }
      emit({ type: "stopped", how, elapsedMs: Date.now() - started });
      return { wasRunning: true, how, elapsedMs: Date.now() - started };
    } finally {
      await lock.release();
    }
  }

  /**
   * Asks the guest agent, if the guest runs one, to shut the guest down
   * (`guest-shutdown`), and keeps the connection open until the guest is gone,
   * the agent answers with an error, or `waitMs` passes: closing it at once
   * was seen to leave the guest running. Best effort; never throws.
   */
  private async requestGuestShutdown(waitMs: number): Promise<void> {
    let agent: GuestAgentClient | undefined;
    try {
      agent = await this.guestAgent({ timeoutMs: GUEST_AGENT_PROBE_TIMEOUT_MS });
      await agent.shutdown("powerdown", { waitMs });
    } catch {
      // No agent, or it refused: the power button and the rest of the ladder still apply.
    } finally {
      agent?.close();
    }
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * Saves an internal snapshot `name` of the running (or paused) VM: RAM and
   * device state into the primary drive, disk state of every writable qcow2
   * drive (QMP `snapshot-save`). An existing snapshot of that name is
   * replaced. A writable non-qcow2 drive gives `SNAPSHOT_FAILED`.
   */
  async saveSnapshot(name: string, options: SnapshotOptions = {}): Promise<void> {
    validateSnapshotName(name);
    const lock = await acquireInstanceLock(this.paths.lock, { purpose: "snapshot" });
    try {
      const client = await this.runningClient();
      const { devices, vmstate } = await writableQcow2Nodes(client);
      const started = Date.now();
      const jobOpts = {
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      };
      try {
        await client.snapshotDelete(name, { devices, ...jobOpts });
        await client.snapshotSave(name, { devices, vmstate, ...jobOpts });
      } catch (error) {
        throw wrapSnapshotError(error, `save snapshot "${name}"`);
      }
      options.onEvent?.({ type: "snapshot-saved", name, elapsedMs: Date.now() - started });
    } finally {
      await lock.release();
    }
  }

  /**
   * Deletes snapshot `name` from every writable qcow2 drive (QMP when running,
   * qemu-img when stopped). Resolves `false` when no drive had it.
   */
  async deleteSnapshot(name: string, options: SnapshotOptions = {}): Promise<boolean> {
    validateSnapshotName(name);
    const lock = await acquireInstanceLock(this.paths.lock, { purpose: "snapshot" });
    try {
      const had = (await this.listSnapshotsUnlocked()).some((s) => s.name === name);
      if (!had) return false;
      const record = await this.readRecord().catch(() => undefined);
      if (await this.findOwnProcess(record)) {
        const client = await this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        const { devices } = await writableQcow2Nodes(client);
        try {
          await client.snapshotDelete(name, {
            devices,
            ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          });
        } catch (error) {
          throw wrapSnapshotError(error, `delete snapshot "${name}"`);
        }
      } else {
        for (const d of this.snapshotDrives(record)) {
          if (!(await exists(d.file))) continue;
          const list = await this.img.snapshotList(d.file);
          if (list.some((s) => s.name === name)) {
            await this.img.snapshotDelete(d.file, name, options.signal ? { signal: options.signal } : {});
          }
        }
      }
      options.onEvent?.({ type: "snapshot-deleted", name });
      return true;
    } finally {
      await lock.release();
    }
  }

  /**
   * Saves the VM's RAM and device state to `file` through QEMU's migration
   * stream (see state-file-migration.ts): pauses the VM, streams to a temp
   * file beside `file`, then renames it. The disk is not copied: the file
   * fits the disk only as it is now, so the caller quits QEMU (or keeps the
   * disk unchanged) before the file is resumed. The VM is left paused
   * (`cont` runs it again). A failure removes the temp file and throws
   * `STATE_SAVE_FAILED`.
   */
  async saveStateFile(file: string, options: SnapshotOptions = {}): Promise<{ bytes: number; elapsedMs: number }> {
    const lock = await acquireInstanceLock(this.paths.lock, { purpose: "snapshot" });
    const tmp = `${file}.${process.pid}.tmp`;
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 10 * 60_000;
    try {
      const client = await this.runningClient();
      await client.stop({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      try {
        await client.execute("migrate-set-parameters", { "max-bandwidth": STATE_FILE_MAX_BANDWIDTH_BYTES_PER_S });
        await ensurePrivateFile(tmp); // `cat >` keeps the mode: the RAM dump is never readable by others
        await client.execute("migrate", { uri: stateFileSaveUri(tmp) });
        for (;;) {
          if (options.signal?.aborted) {
            await client.execute("migrate_cancel").catch(() => {});
            throw abortedError(options.signal);
          }
          const progress = readMigrationProgress(await client.execute("query-migrate"));
          if (progress.kind === "completed") break;
          if (progress.kind === "failed") throw new Error(progress.error);
          if (Date.now() - started > timeoutMs) {
            await client.execute("migrate_cancel").catch(() => {});
            throw new Error(`not finished within ${timeoutMs} ms`);
          }
          await sleep(INCOMING_POLL_MS);
        }
        const { size } = await stat(tmp);
        await rename(tmp, file);
        options.onEvent?.({ type: "snapshot-saved", name: basename(file), elapsedMs: Date.now() - started });
        return { bytes: size, elapsedMs: Date.now() - started };
      } catch (error) {
        await rm(tmp, { force: true });
        if (qemuErrors.is(error, "ABORTED")) throw error;
        throw qemuErrors.create(
          "STATE_SAVE_FAILED",
          `Saving the state of instance "${this.name}" to ${file} failed: ${error instanceof Error ? error.message : String(error)}`,
          {
            cause: error,
            details: { file },
          },
        );
      }
    } finally {
      await lock.release();
    }
  }

  /** Snapshots of the primary drive (the overlay): over QMP when running, qemu-img when stopped. */
  async listSnapshots(): Promise<readonly QemuImgSnapshot[]> {
    return this.listSnapshotsUnlocked();
  }

  private async listSnapshotsUnlocked(): Promise<readonly QemuImgSnapshot[]> {
    const record = await this.readRecord().catch(() => undefined);
    if (await this.findOwnProcess(record)) {
      const client = await this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      const blocks = await client.execute<QmpBlockInfo[]>("query-block");
      const { vmstateDevice } = pickWritableQcow2(blocks);
      const image = blocks.find((b) => b.device === vmstateDevice)?.inserted?.image;
      return image ? parseQemuImgInfo(image).snapshots : [];
    }
    const primary = this.snapshotDrives(record)[0];
    if (!primary || !(await exists(primary.file))) return [];
    return this.img.snapshotList(primary.file);
  }

  /** Writable qcow2 drives of the recorded spec, primary first (the overlay when no record). */
  private snapshotDrives(record: InstanceRecord | undefined): DriveSpec[] {
    const drives = record?.spec.drives ?? [{ id: "disk", file: this.paths.overlay, format: "qcow2" as const }];
    const writable = drives.filter((d) => d.format === "qcow2" && d.readOnly !== true);
    const primary = primaryDrive(writable);
    return primary ? [primary, ...writable.filter((d) => d !== primary)] : [];
  }

  private async runningClient(): Promise<QmpClient> {
    const record = await this.readRecord().catch(() => undefined);
    if (!(await this.findOwnProcess(record))) {
      throw qemuErrors.create("INSTANCE_NOT_RUNNING", `Instance "${this.name}" is not running`);
    }
    return this.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
  }
}

// ------------------------------------------------------------------ helpers

interface QmpBlockInfo {
  device: string;
  inserted?: { "node-name": string; drv: string; ro: boolean; image?: Record<string, unknown> };
}

function pickWritableQcow2(blocks: readonly QmpBlockInfo[]): {
  devices: string[];
  vmstate?: string;
  vmstateDevice?: string;
} {
  const writable = blocks.filter((b) => b.inserted && !b.inserted.ro);
  const bad = writable.filter((b) => b.inserted?.drv !== "qcow2");
  if (bad.length > 0) {
    throw qemuErrors.create(
      "SNAPSHOT_FAILED",
      `Cannot snapshot: writable drive(s) ${bad.map((b) => `${b.device} (${b.inserted?.drv})`).join(", ")} are not qcow2`,
      { hint: "Make every writable drive qcow2 (UEFI variables included), or mark it read-only." },
    );
  }
  const primary = writable.find((b) => b.device === "disk") ?? writable[0];
  return {
    devices: writable.map((b) => b.inserted!["node-name"]),
    ...(primary ? { vmstate: primary.inserted!["node-name"], vmstateDevice: primary.device } : {}),
  };
}

async function writableQcow2Nodes(client: QmpClient): Promise<{ devices: string[]; vmstate: string }> {
  const blocks = await client.execute<QmpBlockInfo[]>("query-block");
  const picked = pickWritableQcow2(blocks);
  if (picked.vmstate === undefined) {
    throw qemuErrors.create(
      "SNAPSHOT_FAILED",
      "Cannot snapshot: the VM has no writable qcow2 drive to hold its state",
      {
        hint: "Attach a writable qcow2 drive (the overlay).",
      },
    );
  }
  return { devices: picked.devices, vmstate: picked.vmstate };
}

function primaryDrive(drives: readonly DriveSpec[]): DriveSpec | undefined {
  const writable = drives.filter((d) => d.format === "qcow2" && d.readOnly !== true);
  return writable.find((d) => d.id === "disk") ?? writable[0];
}

function wrapSnapshotError(error: unknown, what: string): unknown {
  if (qemuErrors.is(error, "QMP_COMMAND_FAILED")) {
    return qemuErrors.create("SNAPSHOT_FAILED", `Could not ${what}: ${String(error.details.desc ?? error.message)}`, {
      cause: error,
    });
  }
  return error;
}

function validateSnapshotName(name: string): void {
  if (typeof name !== "string" || name === "" || name.length > 127 || /^\d+$/.test(name)) {
    throw qemuErrors.create("INVALID_ARGUMENT", `Invalid snapshot name ${JSON.stringify(name)}`, {
      hint: "Use a non-empty name of at most 127 characters that is not all digits (QEMU reads digits as a snapshot id).",
    });
  }
}

function validateStartOptions(o: StartOptions): void {
  if (typeof o !== "object" || o === null || typeof o.spec !== "object" || o.spec === null) {
    throw qemuErrors.create("INVALID_ARGUMENT", "start needs { spec }", { hint: "Pass the VM spec to start." });
  }
  if (o.loadvm !== undefined) validateSnapshotName(o.loadvm);
  if (o.backingImage && (typeof o.backingImage.file !== "string" || o.backingImage.file === "")) {
    throw qemuErrors.create("INVALID_ARGUMENT", "backingImage.file must be a path", {
      hint: "Pass the base image's path, e.g. imagePaths(home, arch).image.",
    });
  }
  if (o.backingImage && o.backingImage.format !== "qcow2" && o.backingImage.format !== "raw") {
    throw qemuErrors.create(
      "INVALID_ARGUMENT",
      `backingImage.format must be qcow2 or raw, got ${JSON.stringify(o.backingImage.format)}`,
    );
  }
}

function vmStateOf(s: QmpStatus): VmState {
  if (s.status === "running") return "running";
  if (s.status === "inmigrate" || s.status === "restore-vm" || s.status === "prelaunch") return "starting";
  return "paused";
}

interface SpawnedQemu {
  readonly pid: number | undefined;
  /** Set once the process exited (the spawning process saw it). */
  exit?: { code: number | null; signal: string | null };
  /** Set when it could not be spawned at all. */
  error?: string;
}

/**
 * Spawns QEMU in its own session (it outlives this process), stdout and
 * stderr appended to `logFile` (truncated first: the log is this run's).
 */
async function spawnDetachedQemu(binary: string, args: readonly string[], logFile: string): Promise<SpawnedQemu> {
  const log = await open(logFile, "w", 0o600);
  try {
    const child = spawn(binary, [...args], { detached: true, stdio: ["ignore", log.fd, log.fd] });
    const spawned: SpawnedQemu = { pid: child.pid };
    child.on("exit", (code, sig) => {
      spawned.exit = { code, signal: sig };
    });
    child.on("error", (error) => {
      spawned.error = (error as NodeJS.ErrnoException).code ?? error.message;
    });
    child.unref();
    return spawned;
  } finally {
    await log.close();
  }
}

async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Sends `sig` to the process only if it is still the very same one. True if sent. */
async function signalIfSame(id: ProcessIdentity, sig: NodeJS.Signals): Promise<boolean> {
  const now = await readProcessIdentity(id.pid);
  if (!now || now.startTime !== id.startTime || now.cmdline.join("\0") !== id.cmdline.join("\0")) return false;
  try {
    process.kill(id.pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the process is gone (or is no longer that process). True if it went within `ms`. */
async function waitForExit(id: ProcessIdentity, ms: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const now = await readProcessIdentity(id.pid);
    if (!now || now.startTime !== id.startTime) return true;
    if (Date.now() >= deadline) return false;
    throwIfAborted(signal);
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function tailFile(file: string, bytes: number): Promise<string> {
  try {
    const text = await readFile(file, "utf8");
    return text.slice(-bytes);
  } catch {
    return "";
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function hostArchOrUndefined() {
  try {
    return detectHost().arch;
  } catch {
    return undefined;
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Removes an instance's whole directory (overlay included). The instance must be stopped. */
export async function removeInstanceDir(instance: VmInstance): Promise<void> {
  const s = await instance.status();
  if (s.state === "running" || s.state === "paused" || s.state === "broken" || s.state === "starting") {
    throw qemuErrors.create("INSTANCE_ALREADY_RUNNING", `Instance "${instance.name}" is ${s.state}; stop it first`);
  }
  await rm(instance.paths.dir, { recursive: true, force: true });
}
