/**
 * The lock on an instance (`<instance>/lock`): the project's one lock
 * protocol ({@link acquireLock} in file-lock.ts), refusing at once with
 * `INSTANCE_LOCKED` naming the live holder's pid and command line.
 */
import { dirname } from "node:path";
import { qemuErrors } from "./errors-data.js";
import { acquireLock, describeLockHolder, type HeldLock, readLockHolder } from "./file-lock.js";

export type { LockHolder, LockRecord } from "./file-lock.js";
export { readLockHolder };

export type InstanceLock = HeldLock;

/**
 * Takes the lock at `path` or throws `INSTANCE_LOCKED` naming the holder.
 * The lock is held until {@link InstanceLock.release}; it is not re-entrant
 * (a second acquire in the same process is refused too).
 */
export async function acquireInstanceLock(path: string, options: { purpose?: string } = {}): Promise<InstanceLock> {
  try {
    return await acquireLock(path, { purpose: options.purpose ?? "change" });
  } catch (error) {
    if (!qemuErrors.is(error, "LOCK_HELD")) throw error;
    const holder = await readLockHolder(path);
    const pid = holder?.record.pid;
    const cmd = holder?.identity?.cmdline.join(" ") ?? "unknown command";
    throw qemuErrors.create(
      "INSTANCE_LOCKED",
      holder === undefined
        ? `The instance at ${dirname(path)} is locked: ${error.message}`
        : `The instance at ${dirname(path)} is locked by ${describeLockHolder(holder)}`,
      {
        cause: error,
        hint: `Another command${pid === undefined ? "" : ` (pid ${pid})`} is changing this instance; wait for it to finish, or stop that process.`,
        details: { lock: path, pid, command: cmd, purpose: holder?.record.purpose },
      },
    );
  }
}
