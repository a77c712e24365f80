/**
 * `VmInstance`: one VM's directory under `<home>/run/<name>` (the layout of
 * `instancePaths`), and everything that starts, inspects, stops and
 * snapshots the QEMU process behind it. A facade: each use case is a module
 * of its own beside this one.
 *
 * - start.ts: lock, ports, overlay, record, spawn, QMP, `-incoming`
 *   (the composed spec: instance-vm-spec.ts, pure).
 * - status.ts: the state, derived every time (a damaged record is `broken`).
 * - stop.ts: power button, `quit`, SIGTERM, SIGKILL, each with a deadline.
 * - snapshots.ts: internal qcow2 snapshots, with RAM or disk-only.
 * - state-file.ts: RAM and device state in a file (migration stream).
 * - record.ts (`instance.json`), connection.ts (QMP, guest agent),
 *   process-control.ts (finding and signalling our QEMU), events.ts.
 */
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { type CommandRunner, execaRunner } from "../command-runner.js";
import { qemuErrors } from "../errors-data.js";
import type { GuestAgentClient, GuestAgentConnectOptions } from "../guest-agent-client.js";
import { type InstancePaths, instancePaths } from "../instance-layout.js";
import type { ProcessIdentity } from "../process-identity.js";
import { readProcessIdentity } from "../process-identity.js";
import { createQemuImg, type QemuImg } from "../qemu-img.js";
import type { QemuImgSnapshot } from "../qemu-img-info.js";
import { QmpClient } from "../qmp-client.js";
import { type QemuRunWatch, watchQemuRun } from "../run-state-watch.js";
import type { DriveSpec } from "../vm-spec.js";
import { InstanceConnection, QMP_PROBE_TIMEOUT_MS } from "./connection.js";
import type { InstanceContext } from "./context.js";
import { tailFile } from "./file-probes.js";
import { type InstanceRecord, readRecord } from "./record.js";
import {
  deleteSnapshot,
  listSnapshots,
  revertDiskSnapshot,
  runningClient,
  type SnapshotOptions,
  saveDiskSnapshot,
  saveSnapshot,
} from "./snapshots.js";
import { type StartOptions, type StartResult, startInstance } from "./start.js";
import { type StateFileSaveOptions, saveStateFile } from "./state-file.js";
import { type InstanceStatus, instanceStatus } from "./status.js";
import { type StopOptions, type StopResult, stopInstance } from "./stop.js";

export interface VmInstanceOptions {
  /** The root directory of the caller's instances (made private, 0700): this one lives in `<home>/run/<name>/`. */
  readonly home: string;
  /** Instance name (its directory under `run/`); the caller names its instances, there is no default. */
  readonly name: string;
  /** Runs QEMU and qemu-img; default execa. */
  readonly runner?: CommandRunner;
  /** The qemu-system binary; default `findQemuBinary(spec.arch)`. */
  readonly qemuBinary?: string;
  /** qemu-img wrapper; default one over `runner`. */
  readonly qemuImg?: QemuImg;
}

export class VmInstance {
  readonly name: string;
  readonly home: string;
  /** Every file of this instance. */
  readonly paths: InstancePaths;
  private readonly ctx: InstanceContext;

  constructor(options: VmInstanceOptions) {
    if (typeof options?.home !== "string" || options.home === "") {
      throw qemuErrors.create("INVALID_ARGUMENT", "VmInstance needs a home directory", {
        hint: "Pass { home, name }: home is the directory that holds run/<name>/.",
      });
    }
    const name = options.name;
    if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
      throw qemuErrors.create("INVALID_ARGUMENT", `Invalid instance name ${JSON.stringify(name)}`, {
        hint: "Use letters, digits, dot, dash and underscore (at most 64), starting with a letter or digit.",
      });
    }
    this.name = name;
    // Absolute once: QEMU changes directory when it daemonizes, and the suspend save runs after that.
    this.home = resolve(options.home);
    this.paths = instancePaths(this.home, name);
    const runner = options.runner ?? execaRunner;
    this.ctx = {
      name,
      home: this.home,
      paths: this.paths,
      runner,
      img: options.qemuImg ?? createQemuImg({ runner }),
      qemuBinary: options.qemuBinary,
      connection: new InstanceConnection(this.paths),
    };
  }

  /** The instance record, or undefined when the instance never started. Throws `INSTANCE_RECORD_INVALID` if unreadable. */
  readRecord(): Promise<InstanceRecord | undefined> {
    return readRecord(this.paths);
  }

  /** The instance's state, derived now (see status.ts). Never throws for a damaged record: `broken` with `errors`. */
  status(): Promise<InstanceStatus> {
    return instanceStatus(this.ctx);
  }

  /**
   * The connected QMP client of this instance (one per instance and process:
   * QMP serves one client at a time). Do not close it; call {@link close}.
   */
  qmp(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<QmpClient> {
    return this.ctx.connection.qmp(options);
  }

  /** A new guest agent client on this instance's qga socket (close it when done). */
  guestAgent(options: GuestAgentConnectOptions = {}): Promise<GuestAgentClient> {
    return this.ctx.connection.guestAgent(options);
  }

  /** Closes this object's QMP connection (the VM keeps running). */
  close(): void {
    this.ctx.connection.drop();
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
    const connection = this.ctx.connection;
    return watchQemuRun({
      pollMs: options.pollMs ?? 1000,
      ...(options.signal ? { signal: options.signal } : {}),
      queryStatus: async () => {
        // This object's own connection when it has one (QMP serves one client at a time), else a short one.
        const current = connection.current;
        if (current !== undefined) return current.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
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

  /** Starts QEMU for this instance and resolves once QMP answers (see start.ts). */
  start(options: StartOptions): Promise<StartResult> {
    return startInstance(this.ctx, options);
  }

  /** Stops the VM through the deadlines of {@link STOP_DEFAULTS} (see stop.ts). */
  stop(options: StopOptions = {}): Promise<StopResult> {
    return stopInstance(this.ctx, options);
  }

  /** Saves internal snapshot `name` (RAM, devices and disks) of the running VM (see snapshots.ts). */
  saveSnapshot(name: string, options: SnapshotOptions = {}): Promise<void> {
    return saveSnapshot(this.ctx, name, options);
  }

  /** Deletes snapshot `name` from every writable qcow2 drive; `false` when none had it. */
  deleteSnapshot(name: string, options: SnapshotOptions = {}): Promise<boolean> {
    return deleteSnapshot(this.ctx, name, options);
  }

  /** Snapshots of the primary drive (the overlay): over QMP when running, qemu-img when stopped. */
  listSnapshots(): Promise<readonly QemuImgSnapshot[]> {
    return listSnapshots(this.ctx);
  }

  /**
   * Saves the VM's RAM and device state to `file` (see state-file.ts); the VM
   * is left paused. With `diskSnapshot`, first takes a disk-only snapshot of
   * that name of every writable qcow2 drive at the same paused instant: the
   * pair (disks at the snapshot, the file) resumes later with
   * {@link revertDiskSnapshot} then `start({ incomingStateFile })`.
   */
  async saveStateFile(
    file: string,
    options: StateFileSaveOptions & { readonly diskSnapshot?: string } = {},
  ): Promise<{ bytes: number; elapsedMs: number; memoryBytes?: number }> {
    if (options.diskSnapshot !== undefined) {
      const client = await runningClient(this.ctx);
      await client.stop({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      await saveDiskSnapshot(client, options.diskSnapshot);
    }
    return saveStateFile(this.ctx, file, options);
  }

  /**
   * Reverts the stopped instance's writable qcow2 drives (the recorded spec's,
   * else the overlay) to disk snapshot `name` (`qemu-img snapshot -a`).
   */
  async revertDiskSnapshot(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const record = await readRecord(this.paths).catch(() => undefined);
    const drives: readonly DriveSpec[] = record?.spec.drives ?? [
      { id: "disk", file: this.paths.overlay, format: "qcow2" },
    ];
    return revertDiskSnapshot(this.ctx, name, drives, options);
  }
}

/** Removes an instance's whole directory (overlay included). The instance must be stopped. */
export async function removeInstanceDir(instance: VmInstance): Promise<void> {
  const s = await instance.status();
  const runs = s.state === "running" || s.state === "paused" || s.state === "starting";
  if (runs || (s.state === "broken" && s.pid !== undefined)) {
    throw qemuErrors.create("INSTANCE_ALREADY_RUNNING", `Instance "${instance.name}" is ${s.state}; stop it first`);
  }
  await rm(instance.paths.dir, { recursive: true, force: true });
}
