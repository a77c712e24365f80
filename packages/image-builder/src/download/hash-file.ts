import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { DigestAlgorithm } from "./events.js";

/** Feeds a file into a new hash; returns the hash (not finalised) and the bytes read. */
export async function hashFileInto(
  path: string,
  algorithm: DigestAlgorithm,
  signal?: AbortSignal,
): Promise<{ hash: Hash; bytes: number }> {
  const hash = createHash(algorithm);
  let bytes = 0;
  const stream = createReadStream(path, signal === undefined ? {} : { signal });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash, bytes };
}

/** The hex digest of a whole file. */
export async function digestFile(path: string, algorithm: DigestAlgorithm, signal?: AbortSignal): Promise<string> {
  const { hash } = await hashFileInto(path, algorithm, signal);
  return hash.digest("hex");
}
