/**
 * The `<dest>.part.json` sidecar: which URL, expected digest and resource
 * version (ETag / Last-Modified) the `<dest>.part` file holds, so a later run
 * (or process) can resume it safely with If-Range.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import type { ExpectedDigest } from "./events.js";
import type { ResourceValidator } from "./resume.js";

export interface PartState {
  readonly version: 1;
  readonly url: string;
  readonly algorithm: ExpectedDigest["algorithm"];
  readonly expectedHex: string;
  readonly validator: ResourceValidator;
}

export function partPaths(dest: string): { part: string; state: string; lock: string } {
  return { part: `${dest}.part`, state: `${dest}.part.json`, lock: `${dest}.lock` };
}

export async function readPartState(path: string): Promise<PartState | undefined> {
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as Partial<PartState>;
    if (value.version !== 1 || typeof value.url !== "string" || typeof value.expectedHex !== "string") return undefined;
    return value as PartState;
  } catch {
    return undefined;
  }
}

/** Writes the sidecar atomically (temp + rename). */
export async function writePartState(path: string, state: PartState): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(state)}\n`);
  await rename(temp, path);
}

/** True when the sidecar describes the same download (URL and expected digest). */
export function partStateMatches(state: PartState | undefined, url: string, digest: ExpectedDigest): boolean {
  return (
    state !== undefined &&
    state.url === url &&
    state.algorithm === digest.algorithm &&
    state.expectedHex === digest.hex.toLowerCase()
  );
}

export async function removePart(dest: string): Promise<void> {
  const paths = partPaths(dest);
  await rm(paths.part, { force: true });
  await rm(paths.state, { force: true });
}
