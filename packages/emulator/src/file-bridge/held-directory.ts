/**
 * Opening files under the bridge's root through held directory descriptors,
 * so a directory swapped for a symlink while a request runs cannot lead the
 * request out of the root (issue 15, finding 7).
 *
 * Node has no `openat`. On Linux `/proc/self/fd/<fd>` names the directory a
 * descriptor holds, whatever happens to its path afterwards, so
 * `/proc/self/fd/<fd>/<name>` is `openat(fd, name)`. The walk from the held
 * root opens every segment of the (already checked, symlink-free) canonical
 * path with `O_DIRECTORY | O_NOFOLLOW`: a segment that became a symlink fails
 * with ELOOP or ENOTDIR, which the bridge answers with a refusal.
 *
 * Elsewhere (macOS) the walk uses plain paths, and callers re-check after the
 * open: the opened file's device and inode must be those of a real path
 * inside the root ({@link verifyInsideRoot}).
 */
import { constants, existsSync } from "node:fs";
import { type FileHandle, mkdir, open, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { isInsideRoot } from "./confined-path.js";

/** True where `/proc/self/fd/<fd>/<name>` works as `openat` (Linux). */
export const HELD_DESCRIPTORS = process.platform === "linux" && existsSync("/proc/self/fd");

const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | (constants.O_NOFOLLOW ?? 0);

/** An open directory: `path` names it for path-taking calls (its held descriptor on Linux). */
export interface HeldDirectory {
  readonly path: string;
  /** The canonical path it was opened at (for messages and the non-Linux re-check). */
  readonly canonical: string;
  close(): Promise<void>;
}

async function hold(openPath: string, canonical: string): Promise<HeldDirectory> {
  const handle: FileHandle = await open(openPath, DIRECTORY_FLAGS);
  return {
    path: HELD_DESCRIPTORS ? `/proc/self/fd/${handle.fd}` : canonical,
    canonical,
    close: () => handle.close(),
  };
}

/** Opens the root itself (held for the bridge's life). */
export function holdRoot(realRoot: string): Promise<HeldDirectory> {
  return hold(realRoot, realRoot);
}

/**
 * Walks `segments` (relative, canonical: no symlink expected) from `root`,
 * opening each directory without following symlinks. With `create`, missing
 * directories are made (0755). The caller closes the result; `root` stays open.
 */
export async function openDirectoryUnder(
  root: HeldDirectory,
  segments: readonly string[],
  options: { readonly create?: boolean } = {},
): Promise<HeldDirectory> {
  let current = root;
  try {
    for (const segment of segments) {
      const next = join(current.path, segment);
      const canonical = join(current.canonical, segment);
      if (options.create === true) await mkdir(next, { mode: 0o755 }).catch(ignoreExists);
      const opened = await hold(next, canonical);
      if (current !== root) await current.close();
      current = opened;
    }
  } catch (error) {
    if (current !== root) await current.close();
    throw error;
  }
  if (current !== root) return current;
  // The caller closes what it gets: hand back a second descriptor of the root (`/.`: the held descriptor's
  // magic link itself would be refused by O_NOFOLLOW).
  return hold(`${root.path}/.`, root.canonical);
}

function ignoreExists(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
}

/**
 * The re-check after an open where no held descriptor exists: the opened
 * file's device and inode are those of its path's real location, inside the
 * root. A file reached through a swapped symlink fails one of the two.
 */
export async function verifyInsideRoot(realRoot: string, handle: FileHandle, path: string): Promise<boolean> {
  if (HELD_DESCRIPTORS) return true;
  const [opened, real] = await Promise.all([handle.stat(), realpath(path).catch(() => undefined)]);
  if (real === undefined || !isInsideRoot(realRoot, real)) return false;
  const now = await stat(real).catch(() => undefined);
  return now !== undefined && now.dev === opened.dev && now.ino === opened.ino;
}
