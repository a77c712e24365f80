/**
 * `qemu-system-* --version` remembered per binary file: a start that finds the
 * same binary unchanged does not run it again (55-75 ms on every start).
 *
 * The key is the file's identity as `stat` (through symlinks) reports it:
 * path, device, inode, size, modification and change times. A package upgrade
 * writes a new file (a new inode, new times), so it is run again; a binary
 * edited in place changes its times. The entry lives in a directory of the
 * caller's (`qemu-version-<hash>.json`, temp file then rename); an entry that
 * is missing, unreadable or for another identity is a miss, and an entry that
 * cannot be written is not an error.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-file.js";
import type { QemuVersion } from "./qemu-binary.js";

const FORMAT = 1;

/** What makes a binary "the same file": pure data, compared whole. */
export interface BinaryIdentity {
  readonly format: number;
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
}

/** The identity of `path` now; undefined when it cannot be read (then nothing is cached). */
export async function binaryIdentity(path: string): Promise<BinaryIdentity | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return {
      format: FORMAT,
      path,
      dev: Number(s.dev),
      ino: Number(s.ino),
      size: Number(s.size),
      mtimeNs: s.mtimeNs.toString(),
      ctimeNs: s.ctimeNs.toString(),
    };
  } catch {
    return undefined;
  }
}

/** The cache file of one binary path in `dir` (one entry per path: a changed binary replaces its entry). */
export function versionCacheFile(dir: string, path: string): string {
  return join(dir, `qemu-version-${createHash("sha256").update(path).digest("hex").slice(0, 16)}.json`);
}

/** The version cached for exactly this identity, else undefined. */
export async function readCachedVersion(dir: string, identity: BinaryIdentity): Promise<QemuVersion | undefined> {
  try {
    const data = JSON.parse(await readFile(versionCacheFile(dir, identity.path), "utf8")) as {
      identity?: unknown;
      version?: QemuVersion;
    };
    if (JSON.stringify(data.identity) !== JSON.stringify(identity)) return undefined;
    const v = data.version;
    if (v === undefined || typeof v.version !== "string" || typeof v.major !== "number") return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** Remembers `version` for `identity` (temp file, then rename); a failure to write is ignored. */
export async function writeCachedVersion(dir: string, identity: BinaryIdentity, version: QemuVersion): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(
      versionCacheFile(dir, identity.path),
      new TextEncoder().encode(`${JSON.stringify({ identity, version }, null, 2)}\n`),
    );
  } catch {
    // The next start runs --version again.
  }
}
