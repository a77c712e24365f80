/**
 * Fetches a small text file of a release (a channel pointer, a SHA256SUMS)
 * from an HTTP(S) URL or a local path: retries on 5xx, timeouts and cut
 * connections; a 404 (or a missing file) is RELEASE_NOT_FOUND.
 */
import { readFile } from "node:fs/promises";
import got, { HTTPError } from "got";
import type { RetryBackoff } from "../download/download-verified.js";
import { type TransportOptions, transportFor } from "../download/proxy.js";
import { imageBuilderErrors } from "../errors-data.js";

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

/** The text at `location` (`what` names it in errors: "the channel pointer"). */
export async function fetchSmallText(location: string, what: string, options: FetchSmallOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX;
  if (!/^https?:\/\//i.test(location)) {
    try {
      const data = await readFile(location, options.signal === undefined ? {} : { signal: options.signal });
      if (data.length > maxBytes)
        throw imageBuilderErrors.create("RELEASE_INVALID", `${location} is larger than ${maxBytes} bytes`);
      return data.toString("utf8");
    } catch (cause) {
      if (imageBuilderErrors.is(cause)) throw cause;
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
        throw imageBuilderErrors.create("RELEASE_NOT_FOUND", `There is no ${what} at ${location}`, {
          cause,
          details: { location },
        });
      }
      if (options.signal?.aborted) throw imageBuilderErrors.create("ABORTED", `Reading ${location} aborted`, { cause });
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
  const minMs = backoff.minMs ?? 1000;
  try {
    const response = await got(location, {
      ...(await transportFor(location, options)),
      headers: { "accept-encoding": "identity", ...options.headers },
      responseType: "buffer",
      timeout: { request: options.timeoutMs ?? 60_000 },
      retry: {
        limit: options.retries ?? 5,
        methods: ["GET"],
        statusCodes: [408, 429, 500, 502, 503, 504, 521, 522, 524],
        calculateDelay: ({ attemptCount, computedValue }) =>
          computedValue === 0
            ? 0
            : Math.min(backoff.maxMs ?? 30_000, minMs * (backoff.factor ?? 2) ** (attemptCount - 1)),
      },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (response.body.length > maxBytes) {
      throw imageBuilderErrors.create("RELEASE_INVALID", `${location} is larger than ${maxBytes} bytes`, {
        details: { location },
      });
    }
    return response.body.toString("utf8");
  } catch (cause) {
    if (imageBuilderErrors.is(cause)) throw cause;
    if (options.signal?.aborted) throw imageBuilderErrors.create("ABORTED", `Fetching ${location} aborted`, { cause });
    if (cause instanceof HTTPError && (cause.response.statusCode === 404 || cause.response.statusCode === 410)) {
      throw imageBuilderErrors.create(
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
