/**
 * Removing a large file off a command's path. Unlinking a file of hundreds of
 * MiB written moments before (a suspend's memory copy) held the caller for
 * 0.2-2.4 s on this project's ext4 hosts: the unlink releases its extents and
 * its pages not yet written back. {@link setAside} renames the file into the
 * instance's discard directory (instant, and the name is free at once);
 * {@link purgeDiscarded} removes everything there in a detached `rm` that
 * outlives the process (so each purge also removes what an earlier one left:
 * a host that stopped mid-removal). {@link discardFile} does both.
 *
 * A resume sets the consumed memory copy aside and purges only once the guest
 * is ready: run beside the just-resumed guest, the removal's work on a 2-core
 * host made its services answer about 90 ms later.
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
 * Moves `file` (in `instanceDir`, the same file system) into the discard directory: its name is free at once.
 * Resolves true when it did, false for a missing file (nothing to do; no directory is made for it).
 */
export async function setAside(instanceDir: string, file: string): Promise<boolean> {
  try {
    await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
  const dir = discardDir(instanceDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await rename(file, join(dir, `${basename(file)}.${randomBytes(4).toString("hex")}`));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false; // removed meanwhile
    throw error;
  }
  return true;
}

/**
 * Removes everything in the discard directory in the background: a detached `rm` with no stdio, which neither holds
 * this process open nor dies with it. Not waited for; an empty or missing directory starts nothing.
 */
export async function purgeDiscarded(instanceDir: string): Promise<void> {
  const dir = discardDir(instanceDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (names.length === 0) return;
  const rm = spawn("rm", ["-f", "--", ...names.map((name) => join(dir, name))], { detached: true, stdio: "ignore" });
  rm.on("error", () => {}); // no `rm` (not a POSIX host): the next purge tries again
  rm.unref();
}

/** Frees `file`'s name at once ({@link setAside}) and removes it in the background ({@link purgeDiscarded}). */
export async function discardFile(instanceDir: string, file: string): Promise<void> {
  if (await setAside(instanceDir, file)) await purgeDiscarded(instanceDir);
}
