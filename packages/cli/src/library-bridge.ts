/**
 * The image-builder functions the CLI calls that other engineers are landing
 * in parallel. Each is looked up by name on the package's exports, typed here
 * with the signature the CLI relies on; a missing one yields `undefined` so
 * the CLI builds and says plainly what is not available yet. Once they all
 * exist, these lookups can become plain imports.
 */
import type { CreateEmulatorRuntime } from "./emulator-runtime.js";

/** image-builder exports the CLI uses. */
export interface ImageBuilderApi {
  createEmulatorRuntime: CreateEmulatorRuntime;
  readManifest(path: string): Promise<unknown>;
}

function lookup<T>(module: object, name: string): T | undefined {
  const value = (module as Record<string, unknown>)[name];
  return typeof value === "function" ? (value as T) : undefined;
}

/** image-builder is loaded on first use: it is large, and `--help` or usage errors should not wait for it. */
export async function imageBuilderExport<K extends keyof ImageBuilderApi>(
  name: K,
): Promise<ImageBuilderApi[K] | undefined> {
  return lookup<ImageBuilderApi[K]>(await import("@hexclave/image-builder"), name);
}
