/**
 * Pure decisions of the resumable downloader: which Range/If-Range headers to
 * send for a partial file, and what to do with the server's answer.
 */

/** What identifies one version of a remote file, remembered beside the `.part` file. */
export interface ResourceValidator {
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
}

/**
 * The `If-Range` value for a validator: a strong ETag first (weak ETags are not
 * allowed in If-Range), else Last-Modified, else nothing (no safe resume).
 */
export function ifRangeValue(validator: ResourceValidator | undefined): string | undefined {
  const etag = validator?.etag?.trim();
  if (etag !== undefined && etag !== "" && !etag.startsWith("W/")) return etag;
  const lastModified = validator?.lastModified?.trim();
  if (lastModified !== undefined && lastModified !== "") return lastModified;
  return undefined;
}

export interface RangeRequest {
  /** Headers to add to the GET; empty for a download from zero. */
  readonly headers: Readonly<Record<string, string>>;
  /** The offset the request asks for (0 = whole file). */
  readonly from: number;
}

/**
 * Headers for the next attempt. A partial file is resumed only when we know
 * which version of the resource it holds; otherwise it is downloaded again
 * from zero (the caller truncates it).
 */
export function rangeRequest(partSize: number, validator: ResourceValidator | undefined): RangeRequest {
  const ifRange = ifRangeValue(validator);
  if (partSize <= 0 || ifRange === undefined) return { headers: {}, from: 0 };
  return { headers: { range: `bytes=${partSize}-`, "if-range": ifRange }, from: partSize };
}

export interface ContentRange {
  readonly start: number;
  readonly end: number;
  readonly total: number | undefined;
}

/** Parses `bytes START-END/TOTAL` (TOTAL may be `*`); undefined when malformed. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value ?? "");
  if (match === null) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === "*" ? undefined : Number(match[3]);
  if (end < start || (total !== undefined && end >= total)) return undefined;
  return { start, end, total };
}

/** Parses the `bytes \*\/TOTAL` Content-Range of a 416 answer. */
export function parseUnsatisfiedRangeTotal(value: string | undefined): number | undefined {
  const match = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value ?? "");
  return match === null ? undefined : Number(match[1]);
}

export type ResponseDecision =
  /** Write the body after the existing `from` bytes. */
  | { readonly action: "append"; readonly from: number; readonly total: number | undefined }
  /** Write the body from zero (a fresh download, or the resource changed). */
  | { readonly action: "from-zero"; readonly total: number | undefined; readonly restartReason?: string }
  /** The partial file already holds the whole resource: verify it. */
  | { readonly action: "complete"; readonly total: number }
  /** Drop the partial file and try again. */
  | { readonly action: "discard-and-retry"; readonly reason: string }
  /** Transient failure: try again with the same partial file. */
  | { readonly action: "retry"; readonly reason: string }
  /** Permanent failure: do not retry. */
  | { readonly action: "fail"; readonly reason: string };

export interface ResponseFacts {
  /** The offset the request asked for (0 = no Range header sent). */
  readonly requestedFrom: number;
  readonly status: number;
  readonly contentRange?: string | undefined;
  readonly contentLength?: number | undefined;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Decides what a response means for the partial file. */
export function decideResponse(facts: ResponseFacts): ResponseDecision {
  const { requestedFrom, status, contentLength } = facts;
  if (status === 200) {
    if (requestedFrom > 0) {
      return {
        action: "from-zero",
        total: contentLength,
        restartReason: "the server sent the whole file (the resource changed, or it ignores Range)",
      };
    }
    return { action: "from-zero", total: contentLength };
  }
  if (status === 206) {
    const range = parseContentRange(facts.contentRange);
    if (range === undefined) return { action: "discard-and-retry", reason: "206 with a malformed Content-Range" };
    if (range.start !== requestedFrom) {
      return {
        action: "discard-and-retry",
        reason: `206 starting at byte ${range.start}, but byte ${requestedFrom} was asked for`,
      };
    }
    return { action: "append", from: range.start, total: range.total };
  }
  if (status === 416 && requestedFrom > 0) {
    const total = parseUnsatisfiedRangeTotal(facts.contentRange);
    if (total === requestedFrom) return { action: "complete", total };
    return { action: "discard-and-retry", reason: "416: the partial file is larger than the resource" };
  }
  if (RETRYABLE_STATUS.has(status) || status >= 500) return { action: "retry", reason: `HTTP ${status}` };
  return { action: "fail", reason: `HTTP ${status}` };
}
