/**
 * Resolves parsed bridge segments against the real (symlink-free) root and
 * refuses anything whose real location leaves it.
 *
 * The real path of the deepest existing ancestor is taken with `realpath`, so
 * a symlink anywhere on the way (a parent directory or the final component)
 * is followed and checked; the result is a canonical path with no symlink in
 * it, and every operation of the bridge works on that canonical path. A
 * dangling symlink on the way is refused: its target cannot be checked.
 *
 * Races: the bridge itself never creates symlinks, so only a host process can
 * swap a directory for a link between this check and the operation; reads open
 * the canonical path with O_NOFOLLOW and writes check the parent's real path
 * again after creating it.
 */
import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

export type ConfinedPath =
  | {
      readonly kind: "inside";
      /** Real path with no symlink in it (the existing prefix resolved, the rest appended). */
      readonly canonical: string;
      /** The whole path exists (after following symlinks). */
      readonly exists: boolean;
    }
  | { readonly kind: "escape"; readonly reason: "symlink-escape" | "symlink-dangling" };

/** True when `candidate` is `root` or below it (both absolute, real paths). */
export function isInsideRoot(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * @param realRoot the root's own `realpath`
 * @param segments relative segments already checked by `parseBridgePath`
 */
export async function resolveConfined(realRoot: string, segments: readonly string[]): Promise<ConfinedPath> {
  for (let depth = segments.length; depth >= 0; depth--) {
    const candidate = join(realRoot, ...segments.slice(0, depth));
    let real: string;
    try {
      real = await realpath(candidate);
    } catch (error) {
      if (isMissing(error)) continue;
      throw error;
    }
    if (!isInsideRoot(realRoot, real)) return { kind: "escape", reason: "symlink-escape" };
    if (depth < segments.length) {
      // The first missing component may still be a dangling symlink: refuse it.
      const next = join(real, segments[depth] as string);
      const link = await lstat(next).catch((error: unknown) => {
        if (isMissing(error)) return undefined;
        throw error;
      });
      if (link !== undefined) return { kind: "escape", reason: "symlink-dangling" };
    }
    return { kind: "inside", canonical: join(real, ...segments.slice(depth)), exists: depth === segments.length };
  }
  // Not even the root resolves: it was removed after the bridge started.
  return { kind: "escape", reason: "symlink-dangling" };
}
