/**
 * Reads a release directory as CI assembles it (`stack-emulator-<arch>.*`
 * plus `SHA256SUMS`, flat) into a {@link ReleaseListing}, and builds its
 * channel pointer. `scripts/release/channel-pointer.mjs` is a thin wrapper.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { imageBuilderErrors } from "../errors-data.js";
import { buildChannelPointer, type Channel, type ChannelPointer, SHA256SUMS_FILE } from "./channel-pointer.js";

/** Image manifests in a release: `stack-emulator-<arch>.json`. */
const MANIFEST_NAME = /^stack-emulator-[a-z0-9]+\.json$/;

export interface ChannelPointerFromDirOptions {
  readonly channel: Channel;
  readonly version: string;
  /** Download URL of the release's files: `<baseUrl>/<name>`. */
  readonly baseUrl: string;
  /** The release directory (flat). */
  readonly dir: string;
  /** Default: now. */
  readonly publishedAt?: string;
}

/** Reads `dir` and returns its channel pointer; RELEASE_INVALID when the directory is not a consistent release. */
export async function channelPointerFromDir(options: ChannelPointerFromDirOptions): Promise<ChannelPointer> {
  let names: string[];
  try {
    names = (await readdir(options.dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (cause) {
    throw imageBuilderErrors.create("RELEASE_INVALID", `Cannot read the release directory ${options.dir}`, { cause });
  }
  if (!names.includes(SHA256SUMS_FILE)) {
    throw imageBuilderErrors.create("RELEASE_INVALID", `${options.dir} has no ${SHA256SUMS_FILE}`, {
      hint: "Write it first: (cd release && sha256sum -- * > SHA256SUMS).",
    });
  }
  const sizes = new Map<string, number>();
  for (const name of names) sizes.set(name, (await stat(join(options.dir, name))).size);
  const manifests = new Map<string, string>();
  for (const name of names.filter((n) => MANIFEST_NAME.test(n)).sort()) {
    manifests.set(name, await readFile(join(options.dir, name), "utf8"));
  }
  return buildChannelPointer({
    channel: options.channel,
    version: options.version,
    baseUrl: options.baseUrl,
    publishedAt: options.publishedAt ?? new Date().toISOString(),
    sha256sums: await readFile(join(options.dir, SHA256SUMS_FILE), "utf8"),
    sizes,
    manifests,
  });
}
