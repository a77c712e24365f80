/**
 * A resumable, verified HTTP download: `<dest>.part` plus a `<dest>.part.json`
 * sidecar, resume with Range + If-Range, the digest computed while streaming,
 * retries with backoff, a cross-process lock, a free-space check, and an
 * atomic rename to `dest` only when the digest matches.
 */
import { createHash, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, stat, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { formatBytes, HexclaveError } from "@hexclave/qemu-core";
import got, { type Request } from "got";
import pRetry, { AbortError } from "p-retry";
import { imageBuilderErrors } from "../errors-data.js";
import type { DownloadEvent, ExpectedDigest } from "./events.js";
import { freeBytes } from "./free-space.js";
import { digestFile, hashFileInto } from "./hash-file.js";
import { installVerified } from "./install-verified.js";
import { acquireFileLock, type FileLock } from "./lock.js";
import { partPaths, partStateMatches, readPartState, removePart, writePartState } from "./part-state.js";
import { type TransportOptions, transportFor } from "./proxy.js";
import { decideResponse, type ResourceValidator, rangeRequest } from "./resume.js";

export interface DownloadTimeouts {
  /** TCP (and TLS) connect (default 15 s). */
  readonly connectMs?: number;
  /** From request sent to response headers (default 30 s): a server that never answers. */
  readonly responseMs?: number;
  /** Longest silence on the socket, headers or body (default 60 s): a server that stalls mid-body. */
  readonly idleMs?: number;
}

export interface RetryBackoff {
  readonly minMs?: number;
  readonly maxMs?: number;
  readonly factor?: number;
}

export interface DownloadVerifiedOptions extends TransportOptions {
  readonly url: string;
  readonly dest: string;
  readonly expectedDigest: ExpectedDigest;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: DownloadEvent) => void) | undefined;
  /** Retries after the first attempt (default 5). */
  readonly retries?: number;
  readonly backoff?: RetryBackoff;
  readonly timeouts?: DownloadTimeouts;
  /** Extra request headers (for example `authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Refuse a resource larger than this many bytes. */
  readonly maxBytes?: number | undefined;
  /**
   * Check free space against Content-Length before writing (default true). A
   * function returns the free bytes for a directory (for tests and quotas).
   */
  readonly checkFreeSpace?: boolean | ((dir: string) => Promise<number>);
  /** How long to wait for another process's download of the same file (default: as long as it lives). */
  readonly lockTimeoutMs?: number | undefined;
  /** Minimum interval between progress events (default 250 ms). */
  readonly progressIntervalMs?: number;
}

export interface DownloadResult {
  readonly path: string;
  readonly size: number;
  readonly digest: ExpectedDigest;
  /** True when `dest` already held the verified file (for example downloaded by another process). */
  readonly reused: boolean;
  /** HTTP attempts made (0 when reused). */
  readonly attempts: number;
}

/** A transient failure worth retrying; carries a reason for the retry event. */
class RetryableDownloadError extends Error {
  override readonly name = "RetryableDownloadError";
}

interface HashState {
  hash: Hash;
  bytes: number;
}

function abortedError(url: string, signal: AbortSignal | undefined): HexclaveError {
  return imageBuilderErrors.create("ABORTED", `Download of ${url} aborted; the partial file is kept for a resume`, {
    cause: signal?.reason,
  });
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function describeError(error: unknown): string {
  const e = error as { code?: string; message?: string; event?: string };
  if (e.code === "ETIMEDOUT" && e.event !== undefined) return `timed out (${e.event})`;
  return e.code !== undefined ? `${e.code}: ${e.message ?? ""}`.trim() : String(e.message ?? error);
}

/** Downloads `url` to `dest`, verified against `expectedDigest`. See the module comment. */
export async function downloadVerified(options: DownloadVerifiedOptions): Promise<DownloadResult> {
  const { url, dest, signal, onEvent } = options;
  const expected: ExpectedDigest = {
    algorithm: options.expectedDigest.algorithm,
    hex: options.expectedDigest.hex.toLowerCase(),
  };
  if (!/^[0-9a-f]+$/.test(expected.hex) || expected.hex.length !== (expected.algorithm === "sha256" ? 64 : 128)) {
    throw imageBuilderErrors.create(
      "DOWNLOAD_FAILED",
      `The expected ${expected.algorithm} digest for ${url} is not valid hex: ${options.expectedDigest.hex}`,
      { hint: "Pass the digest as published (64 hex digits for sha256, 128 for sha512)." },
    );
  }
  const paths = partPaths(dest);
  await mkdir(dirname(dest), { recursive: true });
  if (signal?.aborted) throw abortedError(url, signal);

  const lock = await acquireFileLock(paths.lock, {
    signal,
    timeoutMs: options.lockTimeoutMs,
    onWait: (holder) => onEvent?.({ type: "download-lock-wait", lockPath: paths.lock, holder }),
  });
  try {
    // Someone (maybe the process we waited for) may have finished this file already.
    if ((await sizeOf(dest)) > 0 && (await digestFile(dest, expected.algorithm, signal)) === expected.hex) {
      const size = await sizeOf(dest);
      onEvent?.({ type: "download-done", path: dest, size, reused: true });
      return { path: dest, size, digest: expected, reused: true, attempts: 0 };
    }
    return await transfer(options, expected, paths, lock);
  } catch (error) {
    if (signal?.aborted && !imageBuilderErrors.is(error, "ABORTED")) throw abortedError(url, signal);
    throw error;
  } finally {
    await lock.release();
  }
}

async function transfer(
  options: DownloadVerifiedOptions,
  expected: ExpectedDigest,
  paths: ReturnType<typeof partPaths>,
  lock: FileLock,
): Promise<DownloadResult> {
  const { url, dest, signal, onEvent } = options;
  const transport = await transportFor(url, options);
  const checkFreeSpace = options.checkFreeSpace ?? true;
  const progressIntervalMs = options.progressIntervalMs ?? 250;

  let state = await readPartState(paths.state);
  if (!partStateMatches(state, url, expected)) {
    await removePart(dest);
    state = undefined;
  }
  let validator: ResourceValidator | undefined = state?.validator;
  let hashState: HashState | undefined;
  let attempts = 0;

  const attempt = async (): Promise<number> => {
    attempts++;
    if (signal?.aborted) throw new AbortError(abortedError(url, signal));
    let partSize = await sizeOf(paths.part);
    const request = rangeRequest(partSize, validator);
    if (request.from === 0 && partSize > 0) {
      await truncate(paths.part, 0);
      partSize = 0;
    }
    const stream: Request = got.stream(url, {
      headers: { "accept-encoding": "identity", ...options.headers, ...request.headers },
      timeout: {
        connect: options.timeouts?.connectMs ?? 15_000,
        secureConnect: options.timeouts?.connectMs ?? 15_000,
        response: options.timeouts?.responseMs ?? 30_000,
        socket: options.timeouts?.idleMs ?? 60_000,
      },
      retry: { limit: 0 },
      throwHttpErrors: false,
      decompress: false,
      ...(signal === undefined ? {} : { signal }),
      ...transport,
    });
    try {
      const response = await new Promise<import("got").PlainResponse>((resolve, reject) => {
        stream.once("response", resolve);
        stream.once("error", reject);
      });
      // The body goes through a PassThrough from the first moment, ended (not destroyed) when the connection
      // fails: the bytes that did arrive are written, and the next attempt resumes after them.
      let sourceError: unknown;
      const body = new PassThrough();
      stream.on("error", (error) => {
        sourceError = error;
        body.end();
      });
      stream.pipe(body);
      const contentLengthHeader = headerValue(response.headers["content-length"]);
      const decision = decideResponse({
        requestedFrom: request.from,
        status: response.statusCode,
        contentRange: headerValue(response.headers["content-range"]),
        contentLength: contentLengthHeader === undefined ? undefined : Number(contentLengthHeader),
      });
      switch (decision.action) {
        case "retry":
          throw new RetryableDownloadError(decision.reason);
        case "fail":
          throw new AbortError(
            imageBuilderErrors.create("DOWNLOAD_HTTP_ERROR", `GET ${url} answered ${decision.reason}`, {
              details: { url, status: response.statusCode },
            }),
          );
        case "discard-and-retry":
          await removePart(dest);
          hashState = undefined;
          validator = undefined;
          throw new RetryableDownloadError(decision.reason);
        case "complete":
          stream.destroy();
          break;
        case "from-zero":
        case "append":
          break;
      }
      let from = decision.action === "append" ? decision.from : decision.action === "complete" ? partSize : 0;
      if (decision.action === "from-zero") {
        if (decision.restartReason !== undefined)
          onEvent?.({ type: "download-restarted", reason: decision.restartReason });
        if (partSize > 0) await truncate(paths.part, 0);
        hashState = { hash: createHash(expected.algorithm), bytes: 0 };
        from = 0;
      } else if (hashState === undefined || hashState.bytes !== from) {
        // Resuming a part this call has not hashed (or not fully written): hash what is on disk.
        hashState = await hashFileInto(paths.part, expected.algorithm, signal);
        if (hashState.bytes !== from) throw new RetryableDownloadError("the partial file changed while resuming");
      }
      const total = decision.total;

      if (decision.action !== "complete") {
        validator = {
          etag: headerValue(response.headers.etag),
          lastModified: headerValue(response.headers["last-modified"]),
        };
        await writePartState(paths.state, {
          version: 1,
          url,
          algorithm: expected.algorithm,
          expectedHex: expected.hex,
          validator,
        });
        if (total !== undefined && options.maxBytes !== undefined && total > options.maxBytes) {
          await removePart(dest);
          throw new AbortError(
            imageBuilderErrors.create(
              "DOWNLOAD_TOO_LARGE",
              `${url} is ${formatBytes(total)}, more than the limit of ${formatBytes(options.maxBytes)}`,
              { details: { url, size: total, maxBytes: options.maxBytes } },
            ),
          );
        }
        if (total !== undefined && checkFreeSpace !== false) {
          const dir = dirname(dest);
          const free = typeof checkFreeSpace === "function" ? await checkFreeSpace(dir) : await freeBytes(dir);
          const needed = total - from;
          if (free < needed) {
            throw new AbortError(
              imageBuilderErrors.create(
                "DOWNLOAD_NO_SPACE",
                `Downloading ${url} needs ${formatBytes(needed)} in ${dir}, but only ${formatBytes(free)} is free`,
                { details: { url, dir, needed, free } },
              ),
            );
          }
        }
        onEvent?.({ type: "download-started", url, from, total });
        if (from > 0) onEvent?.({ type: "download-resumed", from });

        const hs = hashState;
        const started = Date.now();
        let received = 0;
        let lastEvent = 0;
        const progress = (final: boolean) => {
          const now = Date.now();
          if (!final && now - lastEvent < progressIntervalMs) return;
          lastEvent = now;
          const elapsed = Math.max(1, now - started) / 1000;
          const bytesPerSecond = Math.round(received / elapsed);
          const transferred = from + received;
          onEvent?.({
            type: "download-progress",
            transferred,
            total,
            bytesPerSecond,
            etaSeconds:
              total === undefined || bytesPerSecond === 0
                ? undefined
                : Math.max(0, Math.round((total - transferred) / bytesPerSecond)),
          });
        };
        const maxBytes = options.maxBytes;
        const meter = new Transform({
          transform(chunk: Buffer, _encoding, callback: TransformCallback) {
            if (maxBytes !== undefined && from + received + chunk.length > maxBytes) {
              callback(
                new AbortError(
                  imageBuilderErrors.create(
                    "DOWNLOAD_TOO_LARGE",
                    `${url} sent more than the limit of ${formatBytes(maxBytes)}`,
                    { details: { url, maxBytes } },
                  ),
                ),
              );
              return;
            }
            hs.hash.update(chunk);
            hs.bytes += chunk.length;
            received += chunk.length;
            progress(false);
            callback(null, chunk);
          },
        });
        try {
          await pipeline(body, meter, createWriteStream(paths.part, { flags: from > 0 ? "a" : "w" }));
          if (sourceError !== undefined) throw sourceError;
        } catch (error) {
          if (error instanceof AbortError) {
            await removePart(dest);
            throw error;
          }
          throw error;
        }
        progress(true);
        if (total !== undefined && from + received !== total) {
          throw new RetryableDownloadError(`connection closed after ${from + received} of ${total} bytes`);
        }
      }
      return attempts;
    } catch (error) {
      stream.destroy();
      if (error instanceof AbortError || error instanceof RetryableDownloadError) throw error;
      if (signal?.aborted) throw new AbortError(abortedError(url, signal));
      if (HexclaveError.is(error)) throw new AbortError(error);
      throw new RetryableDownloadError(describeError(error), { cause: error });
    }
  };

  try {
    await pRetry(attempt, {
      retries: options.retries ?? 5,
      minTimeout: options.backoff?.minMs ?? 1000,
      maxTimeout: options.backoff?.maxMs ?? 30_000,
      factor: options.backoff?.factor ?? 2,
      randomize: true,
      ...(signal === undefined ? {} : { signal }),
      onFailedAttempt: (error) => {
        if (error.retriesLeft > 0) {
          onEvent?.({ type: "download-retry", attempt: error.attemptNumber, reason: error.message });
        }
      },
    });
  } catch (error) {
    if (HexclaveError.is(error)) throw error;
    if (signal?.aborted) throw abortedError(url, signal);
    throw imageBuilderErrors.create(
      "DOWNLOAD_FAILED",
      `Downloading ${url} failed after ${attempts} attempt(s): ${(error as Error).message}`,
      { cause: error, details: { url, attempts } },
    );
  }

  // The streamed bytes' digest fails fast; the file renamed into place is hashed again (installVerified).
  const streamed = hashState?.hash.digest("hex");
  if (streamed !== undefined && streamed !== expected.hex) {
    await removePart(dest);
    throw imageBuilderErrors.create(
      "DOWNLOAD_DIGEST_MISMATCH",
      `${url} has ${expected.algorithm} ${streamed}, but ${expected.hex} was expected`,
      { details: { url, algorithm: expected.algorithm, expected: expected.hex, actual: streamed } },
    );
  }
  let size: number;
  try {
    size = await installVerified({ part: paths.part, dest, expected, source: url, lock, signal });
  } finally {
    await removePart(dest);
  }
  onEvent?.({ type: "download-done", path: dest, size, reused: false });
  return { path: dest, size, digest: expected, reused: false, attempts };
}
