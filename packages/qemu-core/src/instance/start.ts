/**
 * Starting an instance's QEMU: takes the instance lock, refuses a running
 * instance, binds each forwarded host port to check it is free (naming the
 * holder), creates the overlay on the base image if missing, records the
 * exact QEMU arguments in `instance.json` (temp + rename), spawns QEMU
 * detached in its own session with `-pidfile` (stdout and stderr in
 * `qemu.log`: not `-daemonize`, which discards QEMU's error reports), and
 * returns once QMP answers (and an `-incoming` state has loaded).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { qemuErrors } from "../errors-data.js";
import { detectHost } from "../host.js";
import { checkPortsFree, type PortRequest } from "../host-ports.js";
import { acquireInstanceLock } from "../instance-lock.js";
import { ensurePrivateDir, ensurePrivateFile, makeFilePrivate } from "../private-files.js";
import { type ProcessIdentity, readProcessIdentity } from "../process-identity.js";
import { buildQemuArgs } from "../qemu-args.js";
import { findQemuBinary } from "../qemu-binary.js";
import { abortedError, type QmpStatus, throwIfAborted } from "../qmp-client.js";
import type { Accelerator } from "../vm-spec.js";
import { POLL_MS, QMP_PROBE_TIMEOUT_MS } from "./connection.js";
import type { InstanceContext } from "./context.js";
import { emitter, type VmInstanceEvent } from "./events.js";
import { exists, tailFile } from "./file-probes.js";
import { type InstanceVmSpec, instanceVmSpec } from "./instance-vm-spec.js";
import { memoryFilePlan, prepareMemoryFile } from "./memory-file.js";
import {
  findOwnProcess,
  isOwnIdentity,
  readPidFile,
  type SpawnedQemu,
  signalIfSame,
  spawnDetachedQemu,
  waitForExit,
} from "./process-control.js";
import { type InstanceRecord, readRecordLenient, writeRecord } from "./record.js";
import { assertSnapshotExists, validateSnapshotName } from "./snapshots.js";
import { finishIncoming, INCOMING_DEFERRED } from "./state-file.js";
import { cleanStaleFiles } from "./status.js";

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
   * Resume from a state file written by `VmInstance.saveStateFile`
   * (`-incoming`): start returns once the state is loaded and the VM runs.
   * `SNAPSHOT_NOT_FOUND` if the file is missing, `STATE_LOAD_FAILED` if QEMU
   * cannot load it. The disk must be exactly as it was when it was saved.
   */
  readonly incomingStateFile?: string;
  /**
   * With `incomingStateFile`, for a spec with a `memoryFile`: copy this saved memory (`saveStateFile`'s
   * `memoryImage`) into the memory file first. Without it the memory file is resumed as it is.
   */
  readonly incomingMemoryImage?: string;
  /** Stored in instance.json (QEMU version, image digest, ...) for resume decisions. */
  readonly fingerprint?: Readonly<Record<string, unknown>>;
  /**
   * The QEMU binary to run, as the caller already found it (`findQemuBinary`, or the accelerator probe's
   * `qemuBinary`): no second search and `--version` run. Default: the instance's `qemuBinary`, else found on PATH.
   */
  readonly qemuBinary?: string;
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
  /**
   * When QEMU was spawned (ms since the epoch), after the preparation (overlay, memory file, record): a caller's
   * "since QEMU's spawn" timings start here.
   */
  readonly spawnedAt: number;
}

/** Starts QEMU for the instance and resolves once QMP answers. See the module doc. */
export async function startInstance(ctx: InstanceContext, options: StartOptions): Promise<StartResult> {
  const { paths, name } = ctx;
  const emit = emitter(options.onEvent);
  const signal = options.signal;
  throwIfAborted(signal);
  validateStartOptions(options);
  // Pure first: a malformed spec fails before anything is touched.
  const spec = instanceVmSpec(paths, options.spec, {
    instanceName: name,
    overlay: options.backingImage !== undefined,
    ...(options.loadvm !== undefined ? { loadvm: options.loadvm } : {}),
    ...(options.incomingStateFile !== undefined ? { incomingStateFile: options.incomingStateFile } : {}),
  });
  const args = buildQemuArgs(spec, { hostArch: hostArchOrUndefined() });
  await ensurePrivateDir(ctx.home);
  await ensurePrivateDir(paths.dir);
  const lock = await acquireInstanceLock(paths.lock, { purpose: "start" });
  emit({ type: "lock-acquired", purpose: "start" });
  try {
    const record = await readRecordLenient(paths);
    const own = await findOwnProcess(paths, record);
    if (own) {
      throw qemuErrors.create(
        "INSTANCE_ALREADY_RUNNING",
        `Instance "${name}" is already running (QEMU pid ${own.pid})`,
        {
          details: { pid: own.pid, dir: paths.dir },
        },
      );
    }
    const recoveredFromCrash = record !== undefined && record.state !== "stopped";
    const stale = await cleanStaleFiles(ctx);
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
    if (options.backingImage && !(await exists(paths.overlay))) {
      await ctx.img.createOverlay({
        file: paths.overlay,
        backingFile: options.backingImage.file,
        backingFormat: options.backingImage.format,
        ...(signal ? { signal } : {}),
      });
      emit({ type: "overlay-created", file: paths.overlay, backingFile: options.backingImage.file });
    }
    // Guest data is the user's alone: the disk, and the console log QEMU is about to (re)open.
    await makeFilePrivate(paths.overlay);
    await ensurePrivateFile(paths.serialLog);
    if (options.loadvm !== undefined) await assertSnapshotExists(ctx, spec.drives, options.loadvm);
    if (options.incomingStateFile !== undefined && !(await exists(options.incomingStateFile))) {
      throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `The saved state ${options.incomingStateFile} does not exist`, {
        details: { file: options.incomingStateFile },
      });
    }
    if (spec.memoryFile !== undefined) {
      const plan = memoryFilePlan({
        incoming: options.incomingStateFile !== undefined,
        incomingMemoryImage: options.incomingMemoryImage,
      });
      await prepareMemoryFile(ctx.runner, spec.memoryFile, plan);
      emit({ type: "memory-file-prepared", file: spec.memoryFile, plan: plan.kind });
    }

    const binary = options.qemuBinary ?? ctx.qemuBinary ?? (await findQemuBinary(spec.arch)).path;
    let rec: InstanceRecord = {
      version: 1,
      name,
      binary,
      args,
      spec,
      accel: spec.accel,
      ...(options.fingerprint ? { fingerprint: options.fingerprint } : {}),
      ...(options.loadvm !== undefined ? { loadvm: options.loadvm } : {}),
      startedAt: new Date().toISOString(),
      state: "starting",
    };
    await writeRecord(paths, rec);
    const started = Date.now();
    const timeoutMs = options.timeoutMs ?? 60_000;

    try {
      // Not -daemonize: a daemonized QEMU sends its stderr to /dev/null, and its stderr is where it reports an
      // accelerator failure (`KVM internal error`). A detached QEMU writes it to qemu.log instead.
      const spawned = await spawnDetachedQemu(binary, args, paths.qemuLog);
      const pid = await waitForPidFile(ctx, spawned, started + timeoutMs, signal);
      if (pid === undefined) {
        if (spawned.exit === undefined && spawned.pid !== undefined) {
          try {
            process.kill(spawned.pid, "SIGKILL"); // our own child, not yet reaped: still the same process
          } catch {
            // already gone
          }
        }
        const output = (await tailFile(paths.qemuLog, 4000)).trim();
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
          `QEMU for instance "${name}" ${why}${output ? `:\n${output}` : ""}`,
          {
            ...(options.loadvm !== undefined
              ? { hint: `Resuming snapshot "${options.loadvm}" failed; boot cold (without loadvm) instead.` }
              : {}),
            details: {
              binary,
              args,
              exitCode: spawned.exit?.code ?? null,
              stderr: output,
              qemuLog: paths.qemuLog,
              loadvm: options.loadvm,
            },
          },
        );
      }
      const identity = await readProcessIdentity(pid);
      if (!identity || !isOwnIdentity(paths, identity, undefined)) {
        throw qemuErrors.create("VM_START_FAILED", `QEMU for instance "${name}" exited right after starting`, {
          details: { binary, args, serialLog: paths.serialLog, stderr: await tailFile(paths.qemuLog, 4000) },
        });
      }
      rec = { ...rec, pid, identity, state: "started" };
      await writeRecord(paths, rec);
      emit({ type: "qemu-spawned", pid, binary, args });

      let qmpStatus = await waitForQmp(ctx, identity, started + timeoutMs, signal);
      if (options.incomingStateFile !== undefined) {
        qmpStatus = await finishIncoming(ctx, options.incomingStateFile, identity, started + timeoutMs, signal, {
          deferred: spec.incoming === INCOMING_DEFERRED,
        });
      }
      emit({ type: "qmp-ready", status: qmpStatus.status, elapsedMs: Date.now() - started });
      return { pid, accel: spec.accel, args, qmpStatus, record: rec, recoveredFromCrash, spawnedAt: started };
    } catch (error) {
      // Leave nothing behind: kill whatever QEMU this start spawned.
      await killSpawned(ctx);
      await cleanStaleFiles(ctx);
      const aborted = signal?.aborted === true;
      await writeRecord(paths, {
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
          `QEMU for instance "${name}" could not load ${options.incomingStateFile}: it exited while loading it`,
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
async function waitForPidFile(
  ctx: InstanceContext,
  spawned: SpawnedQemu,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<number | undefined> {
  for (;;) {
    throwIfAborted(signal);
    const pid = await readPidFile(ctx.paths.pidFile);
    if (pid !== undefined && (await readProcessIdentity(pid))) return pid;
    if (spawned.exit !== undefined || spawned.error !== undefined) return undefined;
    if (Date.now() > deadline) return undefined;
    await sleep(25);
  }
}

async function waitForQmp(
  ctx: InstanceContext,
  identity: ProcessIdentity,
  deadline: number,
  signal?: AbortSignal,
): Promise<QmpStatus> {
  let last: unknown;
  for (;;) {
    throwIfAborted(signal);
    try {
      const client = await ctx.connection.qmp({
        timeoutMs: Math.max(200, Math.min(QMP_PROBE_TIMEOUT_MS, deadline - Date.now())),
        ...(signal ? { signal } : {}),
      });
      return await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    } catch (error) {
      if (qemuErrors.is(error, "ABORTED")) throw error;
      last = error;
    }
    if (!(await readProcessIdentity(identity.pid))) {
      const tail = await tailFile(ctx.paths.serialLog, 2000);
      const output = (await tailFile(ctx.paths.qemuLog, 4000)).trim();
      throw qemuErrors.create(
        "VM_START_FAILED",
        `QEMU for instance "${ctx.name}" exited before QMP answered${output ? `:\n${output}` : ""}`,
        { details: { pid: identity.pid, serialTail: tail, stderr: output, qemuLog: ctx.paths.qemuLog } },
      );
    }
    if (Date.now() > deadline) {
      throw qemuErrors.create("VM_START_FAILED", `QMP of instance "${ctx.name}" did not answer in time`, {
        cause: last,
        details: { pid: identity.pid },
      });
    }
    await sleep(POLL_MS);
  }
}

/** Kills the QEMU named by the pidfile if (and only if) it is this instance's. */
async function killSpawned(ctx: InstanceContext): Promise<void> {
  ctx.connection.drop();
  // The daemon writes its pidfile early; give a killed parent's child a moment to show up.
  for (let i = 0; i < 5; i++) {
    const pid = await readPidFile(ctx.paths.pidFile);
    const id = pid !== undefined ? await readProcessIdentity(pid) : undefined;
    if (id && isOwnIdentity(ctx.paths, id, undefined)) {
      await signalIfSame(id, "SIGKILL");
      await waitForExit(id, 5_000);
      return;
    }
    await sleep(POLL_MS);
  }
}

/** Checks the options' shape (pure): `INVALID_ARGUMENT` naming what is wrong. */
export function validateStartOptions(o: StartOptions): void {
  if (typeof o !== "object" || o === null || typeof o.spec !== "object" || o.spec === null) {
    throw qemuErrors.create("INVALID_ARGUMENT", "start needs { spec }", { hint: "Pass the VM spec to start." });
  }
  if (o.loadvm !== undefined) validateSnapshotName(o.loadvm);
  if (o.incomingMemoryImage !== undefined && (o.incomingStateFile === undefined || o.spec.memoryFile === undefined)) {
    throw qemuErrors.create("INVALID_ARGUMENT", "incomingMemoryImage needs incomingStateFile and a spec.memoryFile", {
      hint: "Pass the saved memory only when resuming a state file of a VM whose RAM is a memory file.",
    });
  }
  if (o.backingImage && (typeof o.backingImage.file !== "string" || o.backingImage.file === "")) {
    throw qemuErrors.create("INVALID_ARGUMENT", "backingImage.file must be a path", {
      hint: "Pass the base image's path.",
    });
  }
  if (o.backingImage && o.backingImage.format !== "qcow2" && o.backingImage.format !== "raw") {
    throw qemuErrors.create(
      "INVALID_ARGUMENT",
      `backingImage.format must be qcow2 or raw, got ${JSON.stringify(o.backingImage.format)}`,
    );
  }
}

function hostArchOrUndefined() {
  try {
    return detectHost().arch;
  } catch {
    return undefined;
  }
}
