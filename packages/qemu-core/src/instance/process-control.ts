/**
 * The QEMU process of an instance: spawning it detached, finding it again
 * (pid + start time + a command line naming the instance directory), and
 * signalling it only while it is still that very process.
 */
import { spawn } from "node:child_process";
import { open, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { InstancePaths } from "../instance-layout.js";
import { type ProcessIdentity, readProcessIdentity } from "../process-identity.js";
import { throwIfAborted } from "../qmp-client.js";
import { POLL_MS } from "./connection.js";
import { type InstanceRecord, readRecordLenient } from "./record.js";

export interface SpawnedQemu {
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
export async function spawnDetachedQemu(
  binary: string,
  args: readonly string[],
  logFile: string,
): Promise<SpawnedQemu> {
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

export async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(file, "utf8")).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True when `id` is this instance's QEMU: its command line names the instance directory, and the start time fits the record. */
export function isOwnIdentity(paths: InstancePaths, id: ProcessIdentity, record: InstanceRecord | undefined): boolean {
  if (!id.cmdline.some((a) => a.includes(paths.dir))) return false;
  if (record?.identity && record.identity.pid === id.pid && record.identity.startTime !== id.startTime) return false;
  return true;
}

/**
 * The QEMU process of this instance, if alive: the pidfile's (or record's)
 * pid whose command line names this instance directory and whose start
 * time matches the record.
 */
export async function findOwnProcess(
  paths: InstancePaths,
  record: InstanceRecord | undefined,
): Promise<ProcessIdentity | undefined> {
  const pids = new Set<number>();
  const fromFile = await readPidFile(paths.pidFile);
  if (fromFile !== undefined) pids.add(fromFile);
  if (record?.pid !== undefined) pids.add(record.pid);
  for (const pid of pids) {
    const id = await readProcessIdentity(pid);
    if (id && isOwnIdentity(paths, id, record)) return id;
  }
  return undefined;
}

/** The record (undefined when missing or unreadable) and the instance's live QEMU process, if any. */
export async function recordAndProcess(
  paths: InstancePaths,
): Promise<{ record: InstanceRecord | undefined; own: ProcessIdentity | undefined }> {
  const record = await readRecordLenient(paths);
  return { record, own: await findOwnProcess(paths, record) };
}

/** Sends `sig` to the process only if it is still the very same one. True if sent. */
export async function signalIfSame(id: ProcessIdentity, sig: NodeJS.Signals): Promise<boolean> {
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
export async function waitForExit(id: ProcessIdentity, ms: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const now = await readProcessIdentity(id.pid);
    if (!now || now.startTime !== id.startTime) return true;
    if (Date.now() >= deadline) return false;
    throwIfAborted(signal);
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
  }
}
