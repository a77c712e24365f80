/**
 * Removing a large file off a command's path. Unlinking a file of hundreds of
 * MiB written moments before (a suspend's memory copy) held the caller for
 * 0.2-2.4 s on this project's ext4 hosts: the unlink releases its extents and
 * its pages not yet written back. {@link discardFile} renames the file into
 * the instance's discard directory (instant, and the name is free at once),
 * then removes it in a detached `rm` that outlives the process; each discard
 * also removes what an earlier one left (a host that stopped mid-removal).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rename } from "node:fs/promises";
import { basename, join } from "node:path";
import { DISCARD_DIR } from "../layout.js";

/** The instance's discard directory. */
export function discardDir(instanceDir: string): string {
  return join(instanceDir, DISCARD_DIR);
}

/**
 * Moves `file` (in `instanceDir`, the same file system) out of its name at once and removes it in the background.
 * A missing file is nothing to do. Resolves once the name is free; the removal itself is not waited for.
 */
export async function discardFile(instanceDir: string, file: string): Promise<void> {
  const dir = discardDir(instanceDir);
  try {
    await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await rename(file, join(dir, `${basename(file)}.${randomBytes(4).toString("hex")}`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // removed meanwhile
    throw error;
  }
  const doomed = (await readdir(dir)).map((name) => join(dir, name));
  // Detached, with no stdio: it neither holds this process open nor dies with it.
  const rm = spawn("rm", ["-f", "--", ...doomed], { detached: true, stdio: "ignore" });
  rm.on("error", () => {}); // no `rm` (not a POSIX host): the next discard tries again
  rm.unref();
}
