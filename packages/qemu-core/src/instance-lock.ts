/**
 * An exclusive, OS-level lock on an instance: the file `<instance>/lock`,
 * created atomically (written to a temp name, then hard-linked into place,
 * which fails if it exists) and holding the owner's pid and identity.
 *
 * A lock whose owner is dead, or whose pid now belongs to a different process
 * (start time or command line changed), is stale and is taken over. A live
 * owner gives `INSTANCE_LOCKED` naming its pid and command line.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { qemuErrors } from "./errors-data.js";
import { isSameProcess, type ProcessIdentity, readProcessIdentity } from "./process-identity.js";

/** What the lock file holds. */
export interface LockRecord {
  readonly pid: number;
  readonly identity?: ProcessIdentity;
  /** What the owner is doing (`start`, `stop`, `snapshot`). */
  readonly purpose: string;
  readonly acquiredAt: string;
}

export interface InstanceLock {
  readonly path: string;
  readonly record: LockRecord;
  /** Removes the lock if it is still ours. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the lock at `path` or throws `INSTANCE_LOCKED` naming the holder.
 * The lock is held until {@link InstanceLock.release}; it is not re-entrant
 * (a second acquire in the same process is refused too).
 */
export async function acquireInstanceLock(path: string, options: { purpose?: string } = {}): Promise<InstanceLock> {
  await mkdir(dirname(path), { recursive: true });
  const identity = await readProcessIdentity(process.pid);
  const record: LockRecord = {
    pid: process.pid,
    ...(identity ? { identity } : {}),
    purpose: options.purpose ?? "change",
    acquiredAt: new Date().toISOString(),
  };
  const body = `${JSON.stringify(record)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}`);
    await writeFile(tmp, body, { mode: 0o644 });
    try {
      await link(tmp, path);
      await rm(tmp, { force: true });
      return makeLock(path, body, record);
    } catch (error) {
      await rm(tmp, { force: true });
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = await readLockHolder(path);
    if (holder === undefined) continue; // vanished between link and read: retry
    if (holder.live) {
      const cmd = holder.identity?.cmdline.join(" ") ?? "unknown command";
      throw qemuErrors.create(
        "INSTANCE_LOCKED",
        `The instance at ${dirname(path)} is locked by pid ${holder.record.pid} (${holder.record.purpose} since ${holder.record.acquiredAt}), running: ${cmd}`,
        {
          hint: `Another command (pid ${holder.record.pid}) is changing this instance; wait for it to finish, or stop that process.`,
          details: { lock: path, pid: holder.record.pid, command: cmd, purpose: holder.record.purpose },
        },
      );
    }
    // Stale: move it aside, then check that what we moved is still the stale lock.
    const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
    try {
      await rename(path, aside);
    } catch {
      continue;
    }
    const moved = await readFile(aside, "utf8").catch(() => "");
    if (moved !== holder.text) {
      // Someone took the lock over between our read and rename: give it back.
      await link(aside, path).catch(() => {});
    }
    await rm(aside, { force: true });
  }
  throw qemuErrors.create("INSTANCE_LOCKED", `Could not take the lock ${path}: it keeps changing hands`, {
    details: { lock: path },
  });
}

/** The current holder of a lock file, and whether it is still alive. `undefined` when there is no lock. */
export async function readLockHolder(
  path: string,
): Promise<{ record: LockRecord; live: boolean; identity?: ProcessIdentity; text: string } | undefined> {
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
  const current = await readProcessIdentity(record.pid);
  let live = current !== undefined;
  if (live && record.identity) live = await isSameProcess(record.identity, record.pid);
  return { record, live, ...(live && current ? { identity: current } : {}), text };
}

function makeLock(path: string, body: string, record: LockRecord): InstanceLock {
  let released = false;
  return {
    path,
    record,
    async release() {
      if (released) return;
      released = true;
      const text = await readFile(path, "utf8").catch(() => undefined);
      if (text === body) await rm(path, { force: true });
    },
  };
}
