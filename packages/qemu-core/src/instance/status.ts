/**
 * An instance's state, derived every time, never stored: the process (pid +
 * start time + command line naming this instance's directory), QMP's run
 * state, accelerator and uptime. Never throws for a damaged record: that is
 * state `broken` with `errors`.
 */
import { unlink } from "node:fs/promises";
import type { InstancePaths } from "../instance-layout.js";
import { readLockHolder } from "../instance-lock.js";
import type { QmpStatus } from "../qmp-client.js";
import { classifyVmFailure, runStateFailure, type VmFailure } from "../run-state-watch.js";
import type { Accelerator } from "../vm-spec.js";
import { QMP_PROBE_TIMEOUT_MS } from "./connection.js";
import type { InstanceContext } from "./context.js";
import { tailFile } from "./file-probes.js";
import { findOwnProcess } from "./process-control.js";
import { type InstanceRecord, readRecord } from "./record.js";

/**
 * `broken`: QEMU runs but holds the VM in an error state (`internal-error`, `guest-panicked`, `io-error`,
 * `shutdown`), or the instance's record cannot be read (see `errors`).
 */
export type VmState = "stopped" | "starting" | "running" | "paused" | "broken" | "crashed";

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
  /** When `broken` by QEMU: what the run state and QEMU's output (qemu.log) say. */
  readonly failure?: VmFailure;
  /** When `broken` by the instance's own files: what could not be read (e.g. a damaged instance.json). */
  readonly errors?: readonly string[];
  readonly record?: InstanceRecord;
}

export async function instanceStatus(ctx: InstanceContext): Promise<InstanceStatus> {
  let record: InstanceRecord | undefined;
  try {
    record = await readRecord(ctx.paths);
  } catch (error) {
    // A damaged record: report it, with the process when one still runs (the pidfile still names it).
    const owned = await findOwnProcess(ctx.paths, undefined);
    return { state: "broken", errors: [errorMessage(error)], ...(owned ? { pid: owned.pid } : {}) };
  }
  const owned = await findOwnProcess(ctx.paths, record);
  if (owned) {
    const base = {
      pid: owned.pid,
      ...(record ? { accel: record.accel, record } : {}),
      uptimeMs: record ? Math.max(0, Date.now() - Date.parse(record.startedAt)) : 0,
    };
    try {
      const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      const qmpStatus = await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      const failure =
        runStateFailure(qmpStatus.status) === undefined
          ? undefined
          : classifyVmFailure(qmpStatus.status, await tailFile(ctx.paths.qemuLog, 16_000));
      if (failure !== undefined) return { state: "broken", qmpStatus, failure, ...base };
      return { state: vmStateOf(qmpStatus), qmpStatus, ...base };
    } catch (error) {
      const qmpError = errorMessage(error);
      const starting = record?.state === "starting" || (await startInProgress(ctx.paths));
      return { state: starting ? "starting" : "running", qmpError, ...base };
    }
  }
  if (await startInProgress(ctx.paths)) {
    return { state: "starting", ...(record ? { accel: record.accel, record } : {}) };
  }
  await cleanStaleFiles(ctx);
  if (record && record.state !== "stopped") {
    return { state: "crashed", accel: record.accel, record };
  }
  return { state: "stopped", ...(record ? { accel: record.accel, record } : {}) };
}

/** True while another live command holds the lock to start this instance. */
export async function startInProgress(paths: InstancePaths): Promise<boolean> {
  const holder = await readLockHolder(paths.lock);
  return holder?.live === true && holder.record.purpose === "start";
}

/** Removes the pid and socket files of a QEMU that is gone (never signalling the pid they name). */
export async function cleanStaleFiles(ctx: InstanceContext): Promise<string[]> {
  ctx.connection.drop();
  const removed: string[] = [];
  for (const file of [ctx.paths.pidFile, ctx.paths.qmpSocket, ctx.paths.guestAgentSocket]) {
    try {
      await unlink(file);
      removed.push(file);
    } catch {
      // absent
    }
  }
  return removed;
}

/** The state a QMP run state means, for a VM QEMU does not hold in an error state (pure). */
export function vmStateOf(s: Pick<QmpStatus, "status">): VmState {
  if (s.status === "running") return "running";
  if (s.status === "inmigrate" || s.status === "restore-vm" || s.status === "prelaunch") return "starting";
  return "paused";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
