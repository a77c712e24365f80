/**
 * Where the image builder keeps big reusable things (bootstrap bases,
 * payload tarballs): `HEXCLAVE_CACHE_DIR`, else `<checkout>/.cache/image-builder`
 * when run from a checkout, else `~/.cache/hexclave/image-builder`.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const CACHE_DIR_ENV = "HEXCLAVE_CACHE_DIR";

/** The checkout's root (the directory holding pnpm-workspace.yaml) above this module, if any. */
export function checkoutRoot(start: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[CACHE_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const root = checkoutRoot();
  return root !== undefined
    ? join(root, ".cache", "image-builder")
    : join(homedir(), ".cache", "hexclave", "image-builder");
}
