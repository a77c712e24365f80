import { statfs } from "node:fs/promises";

/** Bytes available to this (unprivileged) user on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir, { bigint: true });
  return Number(stats.bavail * stats.bsize);
}
