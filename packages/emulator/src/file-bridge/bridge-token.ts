/** The per-start bearer token of the file bridge: generation and constant-time checking. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 32 random bytes as 64 hex characters. */
export function generateBridgeToken(): string {
  return randomBytes(32).toString("hex");
}

/** Tokens are 32 to 512 characters of `A-Z a-z 0-9 . _ ~ + / = -` (they travel in a header and a fw_cfg string). */
export function isValidBridgeToken(token: string): boolean {
  return /^[A-Za-z0-9._~+/=-]{32,512}$/.test(token);
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/**
 * True when the `Authorization` header is `Bearer <token>`. The comparison is
 * on SHA-256 digests with `timingSafeEqual`, so its time depends neither on
 * where the strings differ nor on their lengths.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  const presented = match?.[1] ?? "";
  // Always compare, even on a malformed header, to keep the timing flat.
  const equal = timingSafeEqual(digest(presented), digest(token));
  return match !== null && equal;
}
