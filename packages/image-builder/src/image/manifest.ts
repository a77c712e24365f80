/**
 * The image manifest, `stack-emulator-<arch>.json` beside the image: what was
 * built, from what, how it boots, and what it serves. The emulator runtime
 * and `pull` read it; `parseManifest` is pure and reports every problem.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Arch } from "@hexclave/qemu-core";
import type { Compression } from "../compaction.js";
import { imageBuilderErrors } from "../errors-data.js";
import type { ExposedService, ProfileName } from "../profiles.js";

export const MANIFEST_FORMAT_VERSION = 1;

export interface FileDigest {
  /** File name beside the manifest. */
  readonly file: string;
  readonly sha256: string;
}

export type ManifestBoot =
  | {
      readonly kind: "kernel";
      readonly kernel: FileDigest;
      readonly initrd: FileDigest;
      /** The kernel command line. */
      readonly append: string;
    }
  | { readonly kind: "firmware" };

export type ManifestBase =
  | {
      readonly kind: "bootstrap";
      readonly recipeHash: string;
      readonly suite: string;
      readonly mirror: string;
      readonly kernelVersion: string;
      readonly packages: readonly { readonly name: string; readonly version: string; readonly arch: string }[];
    }
  | { readonly kind: "cloud"; readonly file: string; readonly sha512: string; readonly url?: string };

export interface Manifest {
  readonly formatVersion: 1;
  readonly arch: Arch;
  readonly profile: ProfileName;
  readonly image: {
    readonly file: string;
    readonly size: number;
    readonly virtualSize: number;
    readonly sha256: string;
    readonly compression: Compression;
  };
  readonly boot: ManifestBoot;
  readonly base: ManifestBase;
  readonly payload: { readonly imageId: string; readonly tag: string; readonly size?: number };
  /** The endpoints forwarded to the host (services.json `exposed`). */
  readonly services: readonly ExposedService[];
  readonly qemuVersion: string;
  /** The accelerator the warm boot ran under. */
  readonly buildAccel: string;
  readonly builtAt: string;
  /** Milliseconds per build stage (payload, base, warm-boot and its guest stages, compaction). */
  readonly durations: Readonly<Record<string, number>>;
  /** Where the image came from when pulled (written by `pull`, see image-store). */
  readonly source?: ImageSource;
}

/** Where a pulled image came from: recorded in the installed manifest by `pullImage`. */
export interface ImageSource {
  /** `github`: the default releases; `url`: an HTTP(S) mirror (`--from URL`); `directory`: a local directory (`--from DIR`). */
  readonly kind: "github" | "url" | "directory";
  /** The base URL or directory pulled from (for GitHub, `https://github.com/<repo>/releases`). */
  readonly url: string;
  /** The channel followed (absent when a version was asked for). */
  readonly channel?: "main" | "dev";
  /** The release version, e.g. `emulator-main-20250101-0123abcd`. */
  readonly version: string;
  /** ISO time of the pull. */
  readonly pulledAt: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isSha256 = (v: unknown) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;

/** Validates a manifest's text; throws MANIFEST_INVALID listing every problem. Pure. */
export function parseManifest(text: string, source = "manifest"): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw imageBuilderErrors.create("MANIFEST_INVALID", `${source} is not JSON: ${(cause as Error).message}`, {
      cause,
      details: { manifest: source },
    });
  }
  const problems: string[] = [];
  const need = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  if (!isObject(data)) throw imageBuilderErrors.create("MANIFEST_INVALID", `${source} is not a JSON object`);
  if (data.formatVersion !== MANIFEST_FORMAT_VERSION) {
    throw imageBuilderErrors.create(
      "MANIFEST_INVALID",
      `${source} has format version ${JSON.stringify(data.formatVersion)}; this tool reads version ${MANIFEST_FORMAT_VERSION}`,
      {
        hint: "Upgrade the Hexclave CLI if the version is newer, or build or pull the image again.",
        details: { manifest: source, formatVersion: data.formatVersion },
      },
    );
  }
  need(data.arch === "amd64" || data.arch === "arm64", "arch: must be amd64 or arm64");
  need(data.profile === "hexclave" || data.profile === "selftest", "profile: must be hexclave or selftest");
  const image = isObject(data.image) ? data.image : {};
  need(typeof image.file === "string" && image.file !== "", "image.file: must be a file name");
  need(isCount(image.size), "image.size: must be a byte count");
  need(isCount(image.virtualSize), "image.virtualSize: must be a byte count");
  need(isSha256(image.sha256), "image.sha256: must be 64 lowercase hex digits");
  need(["zstd", "zlib", "none"].includes(image.compression as string), "image.compression: must be zstd, zlib or none");
  const boot = isObject(data.boot) ? data.boot : {};
  if (boot.kind === "kernel") {
    for (const key of ["kernel", "initrd"] as const) {
      const f = isObject(boot[key]) ? (boot[key] as Json) : {};
      need(typeof f.file === "string" && f.file !== "", `boot.${key}.file: must be a file name`);
      need(isSha256(f.sha256), `boot.${key}.sha256: must be 64 lowercase hex digits`);
    }
    need(typeof boot.append === "string", "boot.append: must be the kernel command line");
  } else need(boot.kind === "firmware", 'boot.kind: must be "kernel" or "firmware"');
  const base = isObject(data.base) ? data.base : {};
  if (base.kind === "bootstrap") {
    need(typeof base.recipeHash === "string", "base.recipeHash: must be a string");
    need(Array.isArray(base.packages), "base.packages: must be a list");
  } else if (base.kind === "cloud") {
    need(typeof base.sha512 === "string", "base.sha512: must be a string");
  } else problems.push('base.kind: must be "bootstrap" or "cloud"');
  const payload = isObject(data.payload) ? data.payload : {};
  need(typeof payload.imageId === "string", "payload.imageId: must be a string");
  need(typeof payload.tag === "string", "payload.tag: must be a string");
  if (!Array.isArray(data.services) || data.services.length === 0) problems.push("services: must be a non-empty list");
  else
    data.services.forEach((s: unknown, i) => {
      const ok =
        isObject(s) &&
        typeof s.service === "string" &&
        Number.isInteger(s.guestPort) &&
        Number.isInteger(s.hostPort) &&
        isObject(s.health) &&
        typeof s.health.path === "string";
      need(ok, `services[${i}]: must have service, guestPort, hostPort and health.path`);
    });
  need(typeof data.qemuVersion === "string", "qemuVersion: must be a string");
  need(typeof data.builtAt === "string" && !Number.isNaN(Date.parse(data.builtAt)), "builtAt: must be an ISO date");
  need(isObject(data.durations), "durations: must be an object");
  if (data.source !== undefined) {
    const src = isObject(data.source) ? data.source : {};
    need(
      ["github", "url", "directory"].includes(src.kind as string) &&
        typeof src.url === "string" &&
        typeof src.version === "string" &&
        typeof src.pulledAt === "string",
      "source: must have kind (github, url or directory), url, version and pulledAt",
    );
  }
  if (problems.length > 0)
    throw imageBuilderErrors.create("MANIFEST_INVALID", `${source} is invalid: ${problems.join("; ")}`, {
      details: { manifest: source, problems },
    });
  return data as unknown as Manifest;
}

/** Reads and validates a manifest file. */
export async function readManifest(path: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw imageBuilderErrors.create(
      "MANIFEST_INVALID",
      `Cannot read the manifest ${path}: ${(cause as Error).message}`,
      {
        cause,
        hint: "Build or pull the image first; the manifest is written beside it.",
        details: { manifest: path },
      },
    );
  }
  return parseManifest(text, path);
}

/** Writes a manifest atomically (temp file in the same directory, then rename). Validates first. */
export async function writeManifest(path: string, manifest: Manifest): Promise<void> {
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  parseManifest(text, path);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}
