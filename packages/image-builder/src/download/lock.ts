/**
 * The download and pull lock: the project's one lock protocol (qemu-core's
 * `acquireLock`), waiting while the holder lives. A holder that is merely
 * stopped or asleep is waited for, never taken over; only a dead holder's
 * lock is, and that takeover is exclusive.
 */
import { acquireLock, describeLockHolder, type HeldLock, qemuErrors } from "@hexclave/qemu-core";
import { imageBuilderErrors } from "../errors-data.js";

export interface FileLockOptions {
  readonly signal?: AbortSignal | undefined;
  /** Give up waiting after this long (default: wait as long as the holder lives). */
  readonly timeoutMs?: number | undefined;
  readonly pollMs?: number | undefined;
  /** What the holder does, recorded in the lock (default `download`). */
  readonly purpose?: string | undefined;
  /** Called once when the lock is held by someone else and we start waiting. */
  readonly onWait?: ((holder: string) => void) | undefined;
}

export type FileLock = HeldLock;

export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<FileLock> {
  try {
    return await acquireLock(path, {
      purpose: options.purpose ?? "download",
      waitMs: options.timeoutMs ?? Number.POSITIVE_INFINITY,
      signal: options.signal,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      onWait: (holder) => options.onWait?.(describeLockHolder(holder)),
    });
  } catch (error) {
    if (qemuErrors.is(error, "ABORTED")) {
      throw imageBuilderErrors.create("ABORTED", error.message, { cause: error });
    }
    if (!qemuErrors.is(error, "LOCK_HELD")) throw error;
    throw imageBuilderErrors.create("DOWNLOAD_LOCK_TIMEOUT", error.message, {
      cause: error,
      details: { lockPath: path, holder: (error.details as { holder?: unknown } | undefined)?.holder },
    });
  }
}
