/**
 * Fetches a small text file of a release (a channel pointer, a SHA256SUMS)
 * from an HTTP(S) URL or a local path: retries on 5xx, timeouts and cut
 * connections; a 404 (or a missing file) is RELEASE_NOT_FOUND. The answer
 * is capped while it streams, before and after decompression (default 4 MiB).
 */
import { open } from "node:fs/promises";
import type { RetryBackoff } from "@hexclave/image-builder/download";
import { type TransportOptions, transportFor } from "@hexclave/image-builder/download";
import { imageBuilderErrors } from "@hexclave/image-builder/image";
import got, { HTTPError } from "got";
import pRetry, { AbortError } from "p-retry";
import { emulatorErrors, isCataloguedError } from "../errors-data.js";

export interface FetchSmallOptions extends TransportOptions {
  readonly signal?: AbortSignal | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  /** Retries after the first attempt (default 5). */
  readonly retries?: number | undefined;
  readonly backoff?: RetryBackoff | undefined;
  /** Whole-request deadline per attempt (default 60 s). */
  readonly timeoutMs?: number | undefined;
  /** Refuse a larger answer (default 4 MiB). */
  readonly maxBytes?: number | undefined;
}

const DEFAULT_MAX = 4 * 1024 * 1024;
/** Answers worth another attempt. */
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504, 521, 522, 524]);

/** The text at `location` (`what` names it in errors: "the channel pointer"). */
export async function fetchSmallText(location: string, what: string, options: FetchSmallOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX;
  if (!/^https?:\/\//i.test(location)) {
    try {
      // At most maxBytes + 1 bytes are read: a huge file or a device (/dev/zero) is refused, not slurped.
      const handle = await open(location, "r");
      let data: Buffer;
      try {
        const buffer = Buffer.alloc(maxBytes + 1);
        let length = 0;
        for (;;) {
          const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
          length += bytesRead;
          if (bytesRead === 0 || length === buffer.length) break;
        }
        data = buffer.subarray(0, length);
      } finally {
        await handle.close();
      }
      if (data.length > maxBytes)
        throw imageBuilderErrors.create("RELEASE_INVALID", `${location} is larger than ${maxBytes} bytes`);
      return data.toString("utf8");
    } catch (cause) {
      if (isCataloguedError(cause)) throw cause;
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
        throw emulatorErrors.create("RELEASE_NOT_FOUND", `There is no ${what} at ${location}`, {
          cause,
          details: { location },
        });
      }
      if (options.signal?.aborted) throw emulatorErrors.create("ABORTED", `Reading ${location} aborted`, { cause });
      throw imageBuilderErrors.create(
        "DOWNLOAD_FAILED",
        `Cannot read ${what} ${location}: ${(cause as Error).message}`,
        {
          cause,
          details: { location },
        },
      );
    }
  }
  const backoff = options.backoff ?? {};
  const transport = await transportFor(location, options);
  const tooLarge = (what: string) =>
    imageBuilderErrors.create("RELEASE_INVALID", `${location} is larger than ${maxBytes} bytes${what}`, {
      hint: "A pointer or checksum file is a few KiB; the mirror serves something else. Check the --from URL.",
      details: { location, maxBytes },
    });
  try {
    return await pRetry(
      async () => {
        // Streamed and counted after got's gzip/deflate/br inflation, chunk by chunk: neither a long answer
        // nor a compression bomb is ever held in memory beyond the cap.
        const stream = got.stream(location, {
          ...transport,
          headers: { "accept-encoding": "identity", ...options.headers },
          timeout: { request: options.timeoutMs ?? 60_000 },
          retry: { limit: 0 },
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        let failure: Error | undefined;
        const chunks: Buffer[] = [];
        let inflated = 0;
        try {
          for await (const chunk of stream) {
            inflated += (chunk as Buffer).length;
            if (inflated > maxBytes) {
              failure = tooLarge(" (counted as it arrives, after any decompression)");
              stream.destroy();
              break;
            }
            chunks.push(chunk as Buffer);
          }
        } catch (cause) {
          if (failure !== undefined) throw new AbortError(failure);
          if (cause instanceof HTTPError && !RETRY_STATUS.has(cause.response.statusCode)) throw new AbortError(cause);
          throw cause;
        }
        if (failure !== undefined) throw new AbortError(failure);
        return Buffer.concat(chunks).toString("utf8");
      },
      {
        retries: options.retries ?? 5,
        minTimeout: backoff.minMs ?? 1000,
        maxTimeout: backoff.maxMs ?? 30_000,
        factor: backoff.factor ?? 2,
        randomize: false,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    );
  } catch (cause) {
    if (isCataloguedError(cause)) throw cause;
    if (options.signal?.aborted) throw emulatorErrors.create("ABORTED", `Fetching ${location} aborted`, { cause });
    if (cause instanceof HTTPError && (cause.response.statusCode === 404 || cause.response.statusCode === 410)) {
      throw emulatorErrors.create(
        "RELEASE_NOT_FOUND",
        `There is no ${what} at ${location} (HTTP ${cause.response.statusCode})`,
        {
          cause,
          details: { location, status: cause.response.statusCode },
        },
      );
    }
    const status = cause instanceof HTTPError ? ` (HTTP ${cause.response.statusCode})` : "";
    throw imageBuilderErrors.create(
      "DOWNLOAD_FAILED",
      `Fetching ${what} ${location} failed${status}: ${(cause as Error).message}`,
      {
        cause,
        details: { location },
      },
    );
  }
}
