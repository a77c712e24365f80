/**
 * What the guest may write through the file bridge (pure; no file system).
 *
 * By default nothing under the project directory is writable: the guest reads
 * the project, and writes only the `--config-file` (through `/v1/config`,
 * written back by `stop`). The user grants more with `--bridge-writable PATH`
 * (a file or a directory, relative to the project directory or absolute inside
 * it; `.` grants the whole project). Even inside a grant, a protected path is
 * never writable: version-control metadata, hooks and tool directories whose
 * contents the host runs or trusts ({@link isProtectedPath}). The check runs on
 * the requested path and again on its canonical (symlink-resolved) path, so a
 * symlink inside the project cannot lead a write into `.git`.
 */
import { isAbsolute, relative, sep } from "node:path";

/** Directory names never written at any depth (compared case-insensitively: macOS volumes are). */
export const PROTECTED_DIRECTORY_NAMES: readonly string[] = [
  ".git",
  ".hg",
  ".svn",
  ".bzr",
  "_darcs",
  ".jj",
  ".husky",
  ".githooks",
  ".vscode",
  ".idea",
  ".devcontainer",
  ".direnv",
];

/** File names never written at any depth: files that tools on the host execute or obey when they read them. */
export const PROTECTED_FILE_NAMES: readonly string[] = [
  ".envrc",
  ".gitmodules",
  ".gitattributes",
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  ".pnpmfile.cjs",
  ".pnpmfile.mjs",
];

/** `node_modules/.bin` (at any depth): the executables package scripts run. */
const TOOL_DIRECTORY_PAIRS: readonly (readonly [string, string])[] = [["node_modules", ".bin"]];

/** True when the path (relative segments) is or lies in a protected directory, or names a protected file. */
export function isProtectedPath(segments: readonly string[]): boolean {
  const lower = segments.map((s) => s.toLowerCase());
  for (let i = 0; i < lower.length; i++) {
    const name = lower[i] as string;
    if (PROTECTED_DIRECTORY_NAMES.includes(name)) return true;
    if (i === lower.length - 1 && PROTECTED_FILE_NAMES.includes(name)) return true;
    for (const [parent, child] of TOOL_DIRECTORY_PAIRS) {
      if (name === parent && lower[i + 1] === child) return true;
    }
  }
  return false;
}

/** The writable grants of one bridge: each a list of relative segments (an empty list is the whole project). */
export type WritableGrants = readonly (readonly string[])[];

export type WriteDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: "read-only" | "protected-path" };

/** May the guest write (create, replace, delete) the file at `segments`? */
export function decideWrite(grants: WritableGrants, segments: readonly string[]): WriteDecision {
  if (isProtectedPath(segments)) return { allowed: false, reason: "protected-path" };
  const granted = grants.some(
    (grant) => grant.length <= segments.length && grant.every((part, i) => part === segments[i]),
  );
  return granted ? { allowed: true } : { allowed: false, reason: "read-only" };
}

export type GrantParseResult =
  | { readonly ok: true; readonly segments: readonly string[] }
  | { readonly ok: false; readonly message: string };

/**
 * Turns one `--bridge-writable` value into segments relative to the project's
 * real root. `realRoot` and `realPath` are real paths (the caller resolves the
 * grant's existing part with `realpath`); a grant outside the project or on a
 * protected path is refused with a message naming it.
 */
export function grantSegments(realRoot: string, realPath: string, given: string): GrantParseResult {
  const rel = relative(realRoot, realPath);
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    return {
      ok: false,
      message: `--bridge-writable ${given} is outside the project directory ${realRoot}; name a path inside it`,
    };
  }
  const segments = rel === "" ? [] : rel.split(sep);
  if (isProtectedPath(segments)) {
    return {
      ok: false,
      message: `--bridge-writable ${given} is a protected path (version-control metadata, hooks or tool directories are never writable by the guest)`,
    };
  }
  return { ok: true, segments };
}

/** The grants as the user reads them: `.` for the whole project, else relative paths with `/`. */
export function describeGrants(grants: WritableGrants): string[] {
  return grants.map((g) => (g.length === 0 ? "." : g.join("/")));
}

/** Mode of a file the guest writes: 0644 when new; a replaced file keeps only its read/write bits (never setuid, setgid, sticky or execute). */
export function guestWriteMode(previousMode: number | undefined): number {
  return previousMode === undefined ? 0o644 : previousMode & 0o666;
}
