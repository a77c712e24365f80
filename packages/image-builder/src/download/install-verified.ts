/**
 * The last step of every verified download or copy: the `.part` file is moved
 * to a private name (no writer that opens the `.part` path afterwards can
 * reach it), that very file is hashed and flushed to disk (fsync), the lock
 * is checked to be still ours, and only then is it renamed to `dest` (and the
 * directory flushed). The digest checked is the digest of the file installed,
 * not of the bytes streamed.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { imageBuilderErrors } from "../errors-data.js";
import type { ExpectedDigest } from "./events.js";
import { digestFile } from "./hash-file.js";

export interface InstallVerifiedOptions {
  readonly part: string;
  readonly dest: string;
  readonly expected: ExpectedDigest;
  /** Named in a digest mismatch. */
  readonly source: string;
  /** Checked just before the rename (the lock that guards `dest`). */
  readonly lock?: { assertHeld(): Promise<void> } | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Flushes a file's (or a directory's) data to disk. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Installs `part` as `dest` when its digest matches; returns the size. Throws DOWNLOAD_DIGEST_MISMATCH (part removed). */
export async function installVerified(options: InstallVerifiedOptions): Promise<number> {
  const { part, dest, expected, signal } = options;
  const verifying = `${dest}.verify-${randomBytes(4).toString("hex")}`;
  await rename(part, verifying);
  try {
    const handle = await open(verifying, "r");
    let size: number;
    try {
      await handle.sync();
      size = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    const actual = await digestFile(verifying, expected.algorithm, signal);
    if (actual !== expected.hex.toLowerCase()) {
      throw imageBuilderErrors.create(
        "DOWNLOAD_DIGEST_MISMATCH",
        `${options.source} has ${expected.algorithm} ${actual}, but ${expected.hex} was expected`,
        { details: { url: options.source, algorithm: expected.algorithm, expected: expected.hex, actual } },
      );
    }
    await options.lock?.assertHeld();
    await rename(verifying, dest);
    await fsyncPath(dirname(dest)).catch(() => undefined); // not every platform syncs a directory
    return size;
  } finally {
    await rm(verifying, { force: true });
  }
}
