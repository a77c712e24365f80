/**
 * The local-directory counterpart of `downloadVerified` (for `--from DIR`):
 * copies to `<dest>.part` while hashing, renames to `dest` only when the
 * sha256 matches, deletes the part otherwise.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { DownloadEvent } from "@hexclave/image-builder/download";
import { digestFile, installVerified, partPaths } from "@hexclave/image-builder/download";
import { imageBuilderErrors } from "@hexclave/image-builder/image";
import { emulatorErrors } from "../errors-data.js";

export interface CopyVerifiedOptions {
  readonly src: string;
  readonly dest: string;
  readonly sha256: string;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: DownloadEvent) => void) | undefined;
  readonly progressIntervalMs?: number;
}

export async function copyVerified(options: CopyVerifiedOptions): Promise<{ size: number; reused: boolean }> {
  const { src, dest, signal, onEvent } = options;
  const expected = options.sha256.toLowerCase();
  const existing = await stat(dest).catch(() => undefined);
  if (existing?.isFile() && (await digestFile(dest, "sha256", signal)) === expected) {
    onEvent?.({ type: "download-done", path: dest, size: existing.size, reused: true });
    return { size: existing.size, reused: true };
  }
  let total: number;
  try {
    total = (await stat(src)).size;
  } catch (cause) {
    throw emulatorErrors.create("RELEASE_NOT_FOUND", `The release file ${src} does not exist`, {
      cause,
      details: { file: src },
    });
  }
  const { part } = partPaths(dest);
  const hash = createHash("sha256");
  const started = Date.now();
  const interval = options.progressIntervalMs ?? 250;
  let copied = 0;
  let last = 0;
  const progress = (final: boolean) => {
    const now = Date.now();
    if (!final && now - last < interval) return;
    last = now;
    const bytesPerSecond = Math.round(copied / (Math.max(1, now - started) / 1000));
    onEvent?.({
      type: "download-progress",
      transferred: copied,
      total,
      bytesPerSecond,
      etaSeconds: bytesPerSecond === 0 ? undefined : Math.round((total - copied) / bytesPerSecond),
    });
  };
  onEvent?.({ type: "download-started", url: src, from: 0, total });
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      hash.update(chunk);
      copied += chunk.length;
      progress(false);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(src, signal === undefined ? {} : { signal }),
      meter,
      createWriteStream(part, { flags: "w" }),
    );
  } catch (cause) {
    await rm(part, { force: true });
    if (signal?.aborted) throw emulatorErrors.create("ABORTED", `Copying ${src} aborted`, { cause });
    const code = (cause as NodeJS.ErrnoException).code;
    const message = `Copying ${src} to ${part} failed: ${(cause as Error).message}`;
    const options = { cause, details: { src, dest } };
    throw code === "ENOSPC"
      ? emulatorErrors.create("PULL_NO_SPACE", message, options)
      : imageBuilderErrors.create("DOWNLOAD_FAILED", message, options);
  }
  progress(true);
  const actual = hash.digest("hex");
  if (actual !== expected) {
    await rm(part, { force: true });
    throw imageBuilderErrors.create(
      "DOWNLOAD_DIGEST_MISMATCH",
      `${src} has sha256 ${actual}, but ${expected} was expected`,
      {
        details: { url: src, algorithm: "sha256", expected, actual },
      },
    );
  }
  // The copied file itself is hashed and flushed again as it is renamed into place.
  await installVerified({ part, dest, expected: { algorithm: "sha256", hex: expected }, source: src, signal });
  onEvent?.({ type: "download-done", path: dest, size: copied, reused: false });
  return { size: copied, reused: false };
}
