/**
 * The one cross-process lock protocol of the project (instance locks, pull
 * and download locks, test caches).
 *
 * - Acquire: write the record to a temp file, then hard-link it to the lock
 *   path (fails if the path exists), so the lock file is always complete.
 * - Liveness: a holder on this host is live while its pid runs with the
 *   recorded start time and command line. A stopped (SIGSTOP, Ctrl-Z) or
 *   sleeping holder is live: it is never taken over. A holder on another host
 *   cannot be checked and counts as live (its lock is named in the error).
 * - Takeover of a stale lock is itself exclusive: the breaker must first
 *   create `<lock>.takeover-<digest of the stale text>` (the same link
 *   protocol). Only the holder of that marker removes the lock, and only
 *   while the lock still holds that exact text (each record carries a random
 *   token, so one text is one generation and never comes back). A marker
 *   whose own holder died is taken over the same way, one level deeper.
 *   Afterwards every breaker competes for the free lock by link again.
 * - Ownership: {@link HeldLock.assertHeld} re-reads the lock before a step that
 *   must only happen under it (an install rename); release removes the lock
 *   only while it is still ours.
 */
import { createHash, randomBytes } from "node:crypto";
import { link, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { qemuErrors } from "./errors-data.js";
import { isSameProcess, type ProcessIdentity, readProcessIdentity } from "./process-identity.js";

/** What a lock file holds. */
export interface LockRecord {
  readonly pid: number;
  readonly identity?: ProcessIdentity;
  /** The host the holder runs on (absent in records of older versions: this host). */
  readonly hostname?: string;
  /** What the owner is doing (`start`, `stop`, `pull`, `download`). */
  readonly purpose: string;
  readonly acquiredAt: string;
  /** Random: makes every record (every generation of the lock) unique. */
  readonly token?: string;
}

export interface LockHolder {
  readonly record: LockRecord;
  /** False only when the holder is known to be gone (dead pid, reused pid, unreadable junk). */
  readonly live: boolean;
  /** The holder's current identity when it is live on this host. */
  readonly identity?: ProcessIdentity;
  /** The exact text of the lock file. */
  readonly text: string;
}

export interface HeldLock {
  readonly path: string;
  readonly record: LockRecord;
  /** Throws `LOCK_LOST` unless the lock file still holds this lock's record. */
  assertHeld(): Promise<void>;
  /** Removes the lock if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

export interface AcquireLockOptions {
  /** Recorded in the lock (default `change`). */
  readonly purpose?: string | undefined;
  /**
   * How long to wait for a live holder: 0 (default) refuses at once with
   * `LOCK_HELD`; `Infinity` waits as long as the holder lives.
   */
  readonly waitMs?: number | undefined;
  /** Poll interval while waiting (default 200 ms). */
  readonly pollMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called once, when a live holder makes us wait. */
  readonly onWait?: ((holder: LockHolder) => void) | undefined;
}

const TAKEOVER_INFIX = ".takeover-";
/** Markers of markers: deeper than this, a crashed breaker's marker is left for the next acquire. */
const MAX_TAKEOVER_DEPTH = 3;
/** How long a takeover by another process may keep us looking before we give up. */
const TAKEOVER_GRACE_MS = 5_000;

/** One line describing a holder, for messages: `pid 123 (pull since ...) running: stack emulator pull`. */
export function describeLockHolder(holder: LockHolder): string {
  const { record } = holder;
  const where = record.hostname !== undefined && record.hostname !== hostname() ? ` on host ${record.hostname}` : "";
  const cmd = holder.identity?.cmdline.join(" ");
  // Records of older versions (the download lock's) lack purpose and acquiredAt.
  const since = `${record.purpose ?? "lock"} since ${record.acquiredAt ?? (record as { createdAt?: string }).createdAt ?? "an unknown time"}`;
  return `pid ${record.pid}${where} (${since})${cmd === undefined ? "" : `, running: ${cmd}`}`;
}

/**
 * Takes the lock at `path`. A live holder makes it throw `LOCK_HELD` (at once,
 * or after `waitMs`); a stale one is taken over exclusively (see the module
 * comment). Not re-entrant: a second acquire in the same process is refused too.
 */
export async function acquireLock(path: string, options: AcquireLockOptions = {}): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  const identity = await readProcessIdentity(process.pid);
  const record: LockRecord = {
    pid: process.pid,
    ...(identity ? { identity } : {}),
    hostname: hostname(),
    purpose: options.purpose ?? "change",
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  const body = `${JSON.stringify(record)}\n`;
  const waitMs = options.waitMs ?? 0;
  const deadline = Date.now() + waitMs;
  const pollMs = options.pollMs ?? 200;
  let waited = false;
  for (;;) {
    if (options.signal?.aborted) {
      throw qemuErrors.create("ABORTED", `Aborted while waiting for the lock ${path}`, {
        cause: options.signal.reason,
      });
    }
    if (await createExclusive(path, body)) {
      await removeOldMarkers(path, body);
      return makeLock(path, body, record);
    }
    const holder = await readLockHolder(path);
    if (holder === undefined) continue; // released between our link and our read: try again
    if (!holder.live) {
      if ((await takeOver(path, holder.text, 0)) === "removed") continue;
      // Another breaker is taking this stale lock over (a matter of milliseconds): look again shortly,
      // but not forever (that breaker may itself be stopped).
      if (Date.now() >= deadline + TAKEOVER_GRACE_MS) {
        throw qemuErrors.create("LOCK_HELD", `The stale lock ${path} is being taken over by another process`, {
          details: { lock: path, holder: holder.record },
        });
      }
      await sleep(5 + Math.random() * 20);
      continue;
    }
    if (Date.now() >= deadline) {
      throw qemuErrors.create("LOCK_HELD", `The lock ${path} is held by ${describeLockHolder(holder)}`, {
        details: { lock: path, pid: holder.record.pid, purpose: holder.record.purpose, holder: holder.record },
      });
    }
    if (!waited) {
      waited = true;
      options.onWait?.(holder);
    }
    await sleep(
      Math.min(pollMs, Math.max(1, deadline - Date.now())),
      undefined,
      options.signal ? { signal: options.signal } : {},
    ).catch(() => undefined);
  }
}

/** The current holder of a lock file, and whether it is still alive. `undefined` when there is no lock. */
export async function readLockHolder(path: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  let record: LockRecord;
  try {
    record = JSON.parse(text) as LockRecord;
    if (!Number.isInteger(record.pid)) throw new Error("no pid");
  } catch {
    // Unreadable: a crash mid-write cannot happen (link of a complete file), so it is foreign junk: stale.
    return { record: { pid: 0, purpose: "unknown", acquiredAt: "" }, live: false, text };
  }
  if (record.hostname !== undefined && record.hostname !== hostname()) return { record, live: true, text };
  const current = await readProcessIdentity(record.pid);
  let live = current !== undefined;
  if (live && record.identity) live = await isSameProcess(record.identity, record.pid);
  return { record, live, ...(live && current ? { identity: current } : {}), text };
}

/** Writes `body` to a temp file and links it to `path`; false when `path` exists. */
async function createExclusive(path: string, body: string): Promise<boolean> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(tmp, body, { mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  } finally {
    await rm(tmp, { force: true });
  }
}

const markerPath = (path: string, text: string): string =>
  `${path}${TAKEOVER_INFIX}${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;

/**
 * Removes the stale lock at `path` if it still holds `staleText`, exclusively.
 * `removed`: this call removed it (or it was already gone); `busy`: another
 * breaker holds the marker; the caller looks again either way.
 */
async function takeOver(path: string, staleText: string, depth: number): Promise<"removed" | "busy"> {
  const marker = markerPath(path, staleText);
  const identity = await readProcessIdentity(process.pid);
  const record: LockRecord = {
    pid: process.pid,
    ...(identity ? { identity } : {}),
    hostname: hostname(),
    purpose: "takeover",
    acquiredAt: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  const body = `${JSON.stringify(record)}\n`;
  if (!(await createExclusive(marker, body))) {
    const other = await readLockHolder(marker);
    if (other !== undefined && !other.live && depth < MAX_TAKEOVER_DEPTH) await takeOver(marker, other.text, depth + 1);
    return "busy";
  }
  try {
    const now = await readFile(path, "utf8").catch(() => undefined);
    // Only the marker's holder removes this generation, so it cannot change between the read and the rm.
    if (now === staleText) await rm(path, { force: true });
    return "removed";
  } finally {
    const mine = await readFile(marker, "utf8").catch(() => undefined);
    if (mine === body) await rm(marker, { force: true });
  }
}

/**
 * Markers left by breakers that crashed mid-takeover. Once we hold the lock,
 * every marker names a generation that can never be at `path` again, so they
 * are only litter.
 */
async function removeOldMarkers(path: string, body: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `${basename(path)}${TAKEOVER_INFIX}`;
  const ours = basename(markerPath(path, body));
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (name.startsWith(prefix) && !name.startsWith(ours)) await rm(join(dir, name), { force: true });
  }
}

function makeLock(path: string, body: string, record: LockRecord): HeldLock {
  let released = false;
  return {
    path,
    record,
    async assertHeld() {
      const text = await readFile(path, "utf8").catch(() => undefined);
      if (released || text !== body) {
        throw qemuErrors.create("LOCK_LOST", `The lock ${path} is no longer held by this process (pid ${record.pid})`, {
          details: { lock: path, pid: record.pid },
        });
      }
    },
    async release() {
      if (released) return;
      released = true;
      const text = await readFile(path, "utf8").catch(() => undefined);
      if (text === body) await rm(path, { force: true });
    },
  };
}
