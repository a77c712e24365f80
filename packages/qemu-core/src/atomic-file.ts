/** Writing a file by temp name + rename in the same directory: readers see the old or the new bytes, never a mix. */
import { randomBytes } from "node:crypto";
import { link, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temp names start with `.` and end with this suffix; listings hide them. */
export const TEMP_FILE_SUFFIX = ".hexclave-tmp";

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}${TEMP_FILE_SUFFIX}`);
}

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644, subject to the umask). */
  readonly mode?: number;
  /**
   * false: rename without flushing the new bytes to disk first, for a file remade at every use (a runtime file a
   * start writes for the process it starts). Readers still see the old or the new bytes; after a host crash the
   * file may be empty. A flush waits for the file system's journal, which, on ext4 while hundreds of MiB written
   * moments before (a suspend's memory) go to disk, took 0.26-0.4 s. Default true.
   */
  readonly durable?: boolean;
}

/**
 * Writes `content` to a fresh temp file beside `target` (created exclusively),
 * flushes it (unless `durable: false`), then renames it over `target`. On any
 * failure the temp file is removed and `target` is untouched. `target`'s
 * directory must exist.
 */
export async function writeFileAtomic(
  target: string,
  content: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(content);
      if (options.mode !== undefined) await handle.chmod(options.mode);
      if (options.durable !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Writes `content` under `target` only if no file has that name: temp file,
 * then `link` (which fails with EEXIST atomically), then the temp is removed.
 * Returns false when `target` already exists.
 */
export async function writeFileExclusive(
  target: string,
  content: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<boolean> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o644);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    return true;
  } finally {
    await rm(temp, { force: true });
  }
}
