/**
 * Giving an imported image the platform it holds. `docker import` (Docker
 * 20.10, the engine Debian ships) records the engine's own architecture
 * whatever `--platform` says, so an arm64 root filesystem imported on an
 * amd64 host claims to be amd64; the classic builder then looks for an arm64
 * `FROM` image, finds none locally and tries to pull it. The cure is to
 * rewrite the image's config (`architecture`, `variant`) and load it back:
 * `docker save` the image, rewrite its config and `manifest.json`, `docker
 * load` the result under the wanted tag. The layer is untouched.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Arch } from "@hexclave/qemu-core";
import type Dockerode from "dockerode";
import { extract, pack } from "tar-fs";

/** The OCI platform of a Debian arch, as Docker records it in an image config. */
export function imagePlatformOf(arch: Arch): { architecture: string; variant?: string } {
  return arch === "arm64" ? { architecture: "arm64", variant: "v8" } : { architecture: "amd64" };
}

/** An image config with the platform of `arch` (other fields kept). Pure. */
export function withImagePlatform(config: Record<string, unknown>, arch: Arch): Record<string, unknown> {
  const { variant: _dropped, ...rest } = config;
  return { ...rest, os: "linux", ...imagePlatformOf(arch) };
}

/** One entry of a `docker save` archive's `manifest.json`. */
export interface SaveManifestEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[] | null;
  readonly Layers: readonly string[];
}

/**
 * Rewrites a `docker save` archive's manifest for a new config file and tag.
 * Throws when the archive holds more than one image (nothing here saves more). Pure.
 */
export function rewriteSaveManifest(
  manifest: readonly SaveManifestEntry[],
  configFile: string,
  repoTag: string,
): SaveManifestEntry[] {
  const [only, ...others] = manifest;
  if (only === undefined || others.length > 0)
    throw new Error(`expected one image in the saved archive, found ${manifest.length}`);
  return [{ ...only, Config: configFile, RepoTags: [repoTag] }];
}

/** Waits for a Docker engine progress stream (import, load) to end; an `error` item in it rejects. */
export function followDockerProgress(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: Array<{ error?: string }>) => {
      if (error) return reject(error);
      const failed = output.find((o) => typeof o.error === "string");
      if (failed) return reject(new Error(failed.error));
      resolve();
    });
  });
}

/**
 * Saves `sourceRef`, marks its config with the platform of `arch` and loads
 * it back as `targetRef` (`repo:tag`). Works in a temporary directory
 * (`workRoot`, default the system's), removed whatever happens. Throws plain
 * errors: the caller wraps them in its own catalogue's code.
 */
export async function loadWithPlatform(options: {
  readonly docker: Dockerode;
  readonly sourceRef: string;
  readonly targetRef: string;
  readonly arch: Arch;
  readonly workRoot?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}): Promise<void> {
  const { docker, signal } = options;
  const dir = await mkdtemp(join(options.workRoot ?? tmpdir(), "hexclave-platform-"));
  try {
    const saved = (await docker.getImage(options.sourceRef).get()) as unknown as Readable;
    await pipeline(saved, extract(dir), ...(signal ? [{ signal }] : []));
    const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as SaveManifestEntry[];
    const oldConfig = manifest[0]?.Config;
    if (oldConfig === undefined) throw new Error(`docker save of ${options.sourceRef} wrote no manifest entry`);
    const config = JSON.parse(await readFile(join(dir, oldConfig), "utf8")) as Record<string, unknown>;
    const text = JSON.stringify(withImagePlatform(config, options.arch));
    const configFile = `${createHash("sha256").update(text).digest("hex")}.json`;
    await rm(join(dir, oldConfig));
    await writeFile(join(dir, configFile), text);
    await writeFile(
      join(dir, "manifest.json"),
      JSON.stringify(rewriteSaveManifest(manifest, configFile, options.targetRef)),
    );
    // The legacy `repositories` file would tag the old image ID.
    await rm(join(dir, "repositories"), { force: true });
    signal?.throwIfAborted();
    const response = await docker.loadImage(pack(dir), { quiet: true, ...(signal ? { abortSignal: signal } : {}) });
    await followDockerProgress(docker, response);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
