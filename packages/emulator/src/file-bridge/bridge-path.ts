/**
 * Pure parsing of the path part of a file-bridge URL into confined relative
 * segments. No file system access here: symlinks are checked later by
 * `confined-path.ts` against the real root.
 *
 * Rules, applied AFTER percent-decoding (done exactly once):
 * - the path is relative: no leading `/` or `\`, no drive letter (`C:`), no UNC prefix;
 * - no `..` or `.` segment, no empty segment (`a//b`), no NUL, no backslash
 *   (a separator on Windows hosts) and no control characters;
 * - at most {@link MAX_PATH_SEGMENTS} segments and {@link MAX_SEGMENT_BYTES} bytes a segment.
 */

export const MAX_PATH_SEGMENTS = 64;
export const MAX_SEGMENT_BYTES = 255;

/** Why a path was refused; `status` is the HTTP status the bridge answers with. */
export type BridgePathRefusal =
  | { readonly status: 400; readonly reason: "bad-encoding" | "bad-character" | "empty-segment" | "too-long" }
  | { readonly status: 403; readonly reason: "traversal" | "absolute" };

export type BridgePathResult =
  | { readonly ok: true; readonly segments: readonly string[] }
  | ({ readonly ok: false } & BridgePathRefusal);

export interface ParseBridgePathOptions {
  /** Accept the empty path (the root itself), as `GET /v1/list/` does. */
  readonly allowRoot?: boolean;
}

/**
 * Parses the still-encoded rest of a request path (what follows `/v1/files/`),
 * without its query string.
 */
export function parseBridgePath(encoded: string, options: ParseBridgePathOptions = {}): BridgePathResult {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return { ok: false, status: 400, reason: "bad-encoding" };
  }
  if (decoded === "") {
    return options.allowRoot === true
      ? { ok: true, segments: [] }
      : { ok: false, status: 400, reason: "empty-segment" };
  }
  // Absolute forms first, so `/etc/passwd` reads as "absolute", not "empty segment".
  if (decoded.startsWith("/") || decoded.startsWith("\\") || /^[A-Za-z]:/.test(decoded)) {
    return { ok: false, status: 403, reason: "absolute" };
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return { ok: false, status: 400, reason: "bad-character" };
  const trimmed = options.allowRoot === true && decoded.endsWith("/") ? decoded.slice(0, -1) : decoded;
  const segments = trimmed.split("/");
  // `..` is checked on every segment before any other segment rule, so a
  // traversal always reads as one, whatever else is wrong with the path.
  if (segments.some((s) => s === ".." || s === "." || s.split("\\").includes(".."))) {
    return { ok: false, status: 403, reason: "traversal" };
  }
  if (decoded.includes("\\")) return { ok: false, status: 400, reason: "bad-character" };
  if (segments.some((s) => s === "")) return { ok: false, status: 400, reason: "empty-segment" };
  if (segments.length > MAX_PATH_SEGMENTS || segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) {
    return { ok: false, status: 400, reason: "too-long" };
  }
  return { ok: true, segments };
}

/** Encodes relative segments for a bridge URL (the inverse of {@link parseBridgePath}). */
export function encodeBridgePath(relativePath: string): string {
  return relativePath.split("/").map(encodeURIComponent).join("/");
}
