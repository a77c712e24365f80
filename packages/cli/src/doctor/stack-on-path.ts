/**
 * Which `stack` a shell would run: the first executable named `stack` on
 * `PATH`, and whether it is this CLI (the same file, a symlink to it, or a
 * package manager's shim that launches `@hexclave/cli`) or another program.
 * Reads files; runs nothing.
 */
import { constants } from "node:fs";
import { access, open, realpath, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";

export interface StackOnPath {
  /** The first `stack` on PATH, or null when there is none. */
  readonly first: string | null;
  readonly firstIsOurs: boolean;
  /** The first `stack` on PATH that is this CLI, or null. */
  readonly ours: string | null;
}

const COMMAND = "stack";
/** What a launcher of @hexclave/cli contains: npm's and pnpm's shims name the package directory. */
const OUR_MARKERS = ["@hexclave/cli", "@hexclave+cli"];

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first 8 KiB of a file as text (a shim is small; a native program's bytes do not contain our markers). */
async function head(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(8192);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString("latin1");
  } finally {
    await handle.close();
  }
}

async function isOurs(candidate: string, self: string | undefined): Promise<boolean> {
  const real = await realpath(candidate).catch(() => candidate);
  if (self !== undefined && real === (await realpath(self).catch(() => self))) return true;
  if (OUR_MARKERS.some((marker) => real.includes(marker))) return true;
  const text = await head(real).catch(() => "");
  return OUR_MARKERS.some((marker) => text.includes(marker));
}

/** `pathValue` is `$PATH`; `self` is the script this process runs (`process.argv[1]`), when known. */
export async function findStackOnPath(pathValue: string | undefined, self: string | undefined): Promise<StackOnPath> {
  let first: string | null = null;
  let firstIsOurs = false;
  let ours: string | null = null;
  const seen = new Set<string>();
  for (const dir of (pathValue ?? "").split(delimiter)) {
    if (dir === "" || !isAbsolute(dir) || seen.has(dir)) continue;
    seen.add(dir);
    const candidate = join(dir, COMMAND);
    if (!(await isExecutableFile(candidate))) continue;
    const candidateIsOurs = await isOurs(candidate, self);
    if (first === null) {
      first = candidate;
      firstIsOurs = candidateIsOurs;
    }
    if (candidateIsOurs) {
      ours = candidate;
      break;
    }
  }
  return { first, firstIsOurs, ours };
}
