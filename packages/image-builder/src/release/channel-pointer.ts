/**
 * The channel pointer `emulator-<channel>.json`: which immutable release a
 * channel (`main`, `dev`) currently names, with every file of every arch
 * (URL, size, sha256). CI writes it only after every asset of the release is
 * uploaded; `pull` reads it. Building and parsing are pure.
 *
 * ```json
 * {
 *   "formatVersion": 1,
 *   "channel": "main",
 *   "version": "emulator-main-20250101-0123abcd",
 *   "publishedAt": "2025-01-01T12:00:00.000Z",
 *   "arches": {
 *     "amd64": {
 *       "manifestFormatVersion": 1,
 *       "manifest": { "name": "stack-emulator-amd64.json", "url": "...", "size": 1234, "sha256": "..." },
 *       "files": [
 *         { "role": "image", "name": "stack-emulator-amd64.qcow2", "url": "...", "size": 1, "sha256": "..." },
 *         { "role": "kernel", "name": "stack-emulator-amd64.vmlinuz", "url": "...", "size": 1, "sha256": "..." },
 *         { "role": "initrd", "name": "stack-emulator-amd64.initrd", "url": "...", "size": 1, "sha256": "..." }
 *       ]
 *     }
 *   }
 * }
 * ```
 */
import { ARCHES, type Arch } from "@hexclave/qemu-core";
import { parseChecksumFile } from "../download/checksum-file.js";
import { imageBuilderErrors } from "../errors-data.js";
import { type Manifest, parseManifest } from "../image/manifest.js";

/** The pointer format this code writes and reads. A newer one is refused with POINTER_FORMAT_UNSUPPORTED. */
export const CHANNEL_POINTER_FORMAT_VERSION = 1;
export const CHANNELS = ["main", "dev"] as const;
export type Channel = (typeof CHANNELS)[number];

/** `emulator-<channel>.json` */
export const channelPointerFileName = (channel: Channel): string => `emulator-${channel}.json`;
/** The checksum file of every release. */
export const SHA256SUMS_FILE = "SHA256SUMS";
/** The GitHub release that holds the channel pointers. */
export const CHANNELS_RELEASE_TAG = "emulator-channels";

export type ReleaseFileRole = "image" | "kernel" | "initrd";

export interface ReleaseFile {
  readonly name: string;
  /** Absolute URL (resolved against the pointer's location when relative). */
  readonly url: string;
  readonly size: number;
  readonly sha256: string;
}

export interface RoleFile extends ReleaseFile {
  readonly role: ReleaseFileRole;
}

export interface ChannelPointerArch {
  /** The image manifest's `formatVersion`. */
  readonly manifestFormatVersion: number;
  readonly manifest: ReleaseFile;
  /** Image first, then kernel and initrd when the image boots its kernel directly. */
  readonly files: readonly RoleFile[];
}

export interface ChannelPointer {
  readonly formatVersion: typeof CHANNEL_POINTER_FORMAT_VERSION;
  readonly channel: Channel;
  readonly version: string;
  readonly publishedAt: string;
  readonly arches: Readonly<Partial<Record<Arch, ChannelPointerArch>>>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isSha256 = (v: unknown): v is string => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True for a release version usable as a path segment (`emulator-main-20250101-0123abcd`). */
export function isReleaseVersion(value: string): boolean {
  return VERSION_PATTERN.test(value) && !value.includes("..");
}

/** A release file name: one plain path segment of safe characters (no `/`, `\\`, `..`, leading dot). */
const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/**
 * True for a name a release may give a file (`stack-emulator-amd64.qcow2`):
 * a plain file name that stays in the directory it is joined to. Every name
 * read from a pointer, a manifest or SHA256SUMS must pass. Pure.
 */
export function isReleaseFileName(value: string): boolean {
  return FILE_NAME_PATTERN.test(value) && !value.includes("..");
}

// ------------------------------------------------------------------ SHA256SUMS

/** `sha256sum` output to a map name -> lowercase hex. Throws RELEASE_INVALID naming bad lines. Pure. */
export function parseSha256Sums(text: string, source = SHA256SUMS_FILE): Map<string, string> {
  return parseChecksumFile(text, {
    algorithm: "sha256",
    source,
    errorCode: "RELEASE_INVALID",
    isValidName: isReleaseFileName,
  });
}

// ------------------------------------------------------------------ release files of one arch

/** The files a manifest names (image, then kernel and initrd for a kernel boot), with their digests. Pure. */
export function manifestFiles(manifest: Manifest): { role: ReleaseFileRole; name: string; sha256: string }[] {
  return manifestFileEntries(manifest);
}

/**
 * {@link manifestFiles}, refusing (RELEASE_INVALID) a name that is not a plain
 * file name: a release's manifest names the files `pull` writes. Pure.
 */
export function releaseManifestFiles(
  manifest: Manifest,
  manifestName: string,
): { role: ReleaseFileRole; name: string; sha256: string }[] {
  const files = manifestFileEntries(manifest);
  const bad = files.filter((f) => !isReleaseFileName(f.name));
  if (bad.length > 0) {
    releaseInvalid(
      `${manifestName} names files that are not plain file names: ${bad.map((f) => `${f.role} ${JSON.stringify(f.name)}`).join(", ")}`,
      { files: bad },
    );
  }
  return files;
}

function manifestFileEntries(manifest: Manifest): { role: ReleaseFileRole; name: string; sha256: string }[] {
  const files: { role: ReleaseFileRole; name: string; sha256: string }[] = [
    { role: "image", name: manifest.image.file, sha256: manifest.image.sha256 },
  ];
  if (manifest.boot.kind === "kernel") {
    files.push({ role: "kernel", name: manifest.boot.kernel.file, sha256: manifest.boot.kernel.sha256 });
    files.push({ role: "initrd", name: manifest.boot.initrd.file, sha256: manifest.boot.initrd.sha256 });
  }
  return files;
}

function releaseInvalid(message: string, details: Json = {}): never {
  throw imageBuilderErrors.create("RELEASE_INVALID", message, { details });
}

/** Checks that a manifest's files agree with SHA256SUMS; returns them with their digests. Pure. */
export function checkManifestAgainstSums(
  manifest: Manifest,
  sums: ReadonlyMap<string, string>,
  manifestName: string,
): { role: ReleaseFileRole; name: string; sha256: string }[] {
  const files = releaseManifestFiles(manifest, manifestName);
  for (const f of files) {
    const listed = sums.get(f.name);
    if (listed === undefined) releaseInvalid(`${SHA256SUMS_FILE} does not list ${f.name} (named by ${manifestName})`);
    if (listed !== f.sha256) {
      releaseInvalid(`${manifestName} gives ${f.name} sha256 ${f.sha256}, but ${SHA256SUMS_FILE} says ${listed}`, {
        file: f.name,
        manifest: f.sha256,
        sums: listed,
      });
    }
  }
  return files;
}

// ------------------------------------------------------------------ build

/** What {@link buildChannelPointer} needs of a release directory (read by `channelPointerFromDir`). */
export interface ReleaseListing {
  readonly channel: Channel;
  readonly version: string;
  /** Where the release's files are downloaded from: `<baseUrl>/<name>`. */
  readonly baseUrl: string;
  readonly publishedAt: string;
  /** The text of SHA256SUMS. */
  readonly sha256sums: string;
  /** Size of every file in the release. */
  readonly sizes: ReadonlyMap<string, number>;
  /** Manifest texts by file name (`stack-emulator-<arch>.json`). */
  readonly manifests: ReadonlyMap<string, string>;
}

function joinUrl(base: string, name: string): string {
  return `${base.replace(/\/+$/, "")}/${encodeURIComponent(name)}`;
}

/**
 * The channel pointer for a release: every manifest cross-checked against
 * SHA256SUMS, sizes from the listing. Throws RELEASE_INVALID. Pure.
 */
export function buildChannelPointer(listing: ReleaseListing): ChannelPointer {
  if (!(CHANNELS as readonly string[]).includes(listing.channel)) {
    releaseInvalid(`Unknown channel ${JSON.stringify(listing.channel)}: expected main or dev`);
  }
  if (!isReleaseVersion(listing.version)) releaseInvalid(`Invalid release version ${JSON.stringify(listing.version)}`);
  if (!/^https?:\/\//.test(listing.baseUrl)) releaseInvalid(`The base URL must be http(s)://, got ${listing.baseUrl}`);
  const sums = parseSha256Sums(listing.sha256sums);
  const arches: Partial<Record<Arch, ChannelPointerArch>> = {};
  const sizeOf = (name: string): number => {
    const size = listing.sizes.get(name);
    if (size === undefined) releaseInvalid(`The release lacks ${name}`, { file: name });
    return size;
  };
  for (const [name, text] of listing.manifests) {
    const manifest = parseManifest(text, name);
    if (arches[manifest.arch] !== undefined) releaseInvalid(`Two manifests describe ${manifest.arch}`);
    const manifestSha = sums.get(name);
    if (manifestSha === undefined) releaseInvalid(`${SHA256SUMS_FILE} does not list the manifest ${name}`);
    const files = checkManifestAgainstSums(manifest, sums, name);
    const image = files[0];
    if (image !== undefined && sizeOf(image.name) !== manifest.image.size) {
      releaseInvalid(`${image.name} is ${sizeOf(image.name)} bytes, but ${name} says ${manifest.image.size}`);
    }
    arches[manifest.arch] = {
      manifestFormatVersion: manifest.formatVersion,
      manifest: { name, url: joinUrl(listing.baseUrl, name), size: sizeOf(name), sha256: manifestSha },
      files: files.map((f) => ({ ...f, url: joinUrl(listing.baseUrl, f.name), size: sizeOf(f.name) })),
    };
  }
  if (Object.keys(arches).length === 0)
    releaseInvalid("The release holds no image manifest (stack-emulator-<arch>.json)");
  return {
    formatVersion: CHANNEL_POINTER_FORMAT_VERSION,
    channel: listing.channel,
    version: listing.version,
    publishedAt: listing.publishedAt,
    arches,
  };
}

// ------------------------------------------------------------------ parse

function pointerInvalid(source: string, problems: string[]): never {
  throw imageBuilderErrors.create("POINTER_INVALID", `${source} is invalid: ${problems.join("; ")}`, {
    details: { pointer: source, problems },
  });
}

/**
 * Validates a channel pointer's text. Relative file URLs are resolved against
 * `baseUrl` (the pointer's own URL) when given. A format version other than
 * {@link CHANNEL_POINTER_FORMAT_VERSION} gives POINTER_FORMAT_UNSUPPORTED
 * asking to upgrade the CLI; anything else wrong gives POINTER_INVALID. Pure.
 */
export function parseChannelPointer(text: string, source = "channel pointer", baseUrl?: string): ChannelPointer {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw imageBuilderErrors.create("POINTER_INVALID", `${source} is not JSON: ${(cause as Error).message}`, {
      cause,
      details: { pointer: source },
    });
  }
  if (!isObject(data)) pointerInvalid(source, ["not a JSON object"]);
  if (data.formatVersion !== CHANNEL_POINTER_FORMAT_VERSION) {
    const newer = typeof data.formatVersion === "number" && data.formatVersion > CHANNEL_POINTER_FORMAT_VERSION;
    throw imageBuilderErrors.create(
      "POINTER_FORMAT_UNSUPPORTED",
      `${source} has format version ${JSON.stringify(data.formatVersion)}, but this CLI reads version ${CHANNEL_POINTER_FORMAT_VERSION} only${newer ? ": the releases are newer than this CLI" : ""}`,
      { details: { pointer: source, formatVersion: data.formatVersion, supported: [CHANNEL_POINTER_FORMAT_VERSION] } },
    );
  }
  const problems: string[] = [];
  const need = (ok: boolean, problem: string) => {
    if (!ok) problems.push(problem);
  };
  need((CHANNELS as readonly unknown[]).includes(data.channel), "channel: must be main or dev");
  need(typeof data.version === "string" && isReleaseVersion(data.version), "version: must be a release version");
  need(
    typeof data.publishedAt === "string" && !Number.isNaN(Date.parse(data.publishedAt)),
    "publishedAt: must be an ISO date",
  );
  const resolve = (url: unknown, where: string): string => {
    if (typeof url !== "string" || url === "") {
      problems.push(`${where}.url: must be a URL`);
      return "";
    }
    try {
      return new URL(url, baseUrl).href;
    } catch {
      problems.push(`${where}.url: ${JSON.stringify(url)} is not a URL`);
      return "";
    }
  };
  const file = (value: unknown, where: string): ReleaseFile => {
    const f = isObject(value) ? value : {};
    need(
      typeof f.name === "string" && isReleaseFileName(f.name),
      `${where}.name: must be a plain file name (letters, digits, ._+-), got ${JSON.stringify(f.name)}`,
    );
    need(isCount(f.size), `${where}.size: must be a byte count`);
    need(isSha256(f.sha256), `${where}.sha256: must be 64 lowercase hex digits`);
    return { name: String(f.name), url: resolve(f.url, where), size: Number(f.size), sha256: String(f.sha256) };
  };
  const arches: Partial<Record<Arch, ChannelPointerArch>> = {};
  if (!isObject(data.arches) || Object.keys(data.arches).length === 0)
    problems.push("arches: must name at least one arch");
  else
    for (const [arch, value] of Object.entries(data.arches)) {
      if (!(ARCHES as readonly string[]).includes(arch)) continue; // an arch this CLI does not know: not ours to pull
      const entry = isObject(value) ? value : {};
      need(Number.isInteger(entry.manifestFormatVersion), `arches.${arch}.manifestFormatVersion: must be an integer`);
      const manifest = file(entry.manifest, `arches.${arch}.manifest`);
      const files: RoleFile[] = [];
      if (!Array.isArray(entry.files) || entry.files.length === 0)
        problems.push(`arches.${arch}.files: must be a non-empty list`);
      else
        entry.files.forEach((f: unknown, i) => {
          const role = isObject(f) ? f.role : undefined;
          need(
            role === "image" || role === "kernel" || role === "initrd",
            `arches.${arch}.files[${i}].role: must be image, kernel or initrd`,
          );
          files.push({ role: role as ReleaseFileRole, ...file(f, `arches.${arch}.files[${i}]`) });
        });
      need(files.filter((f) => f.role === "image").length === 1, `arches.${arch}.files: must hold exactly one image`);
      arches[arch as Arch] = { manifestFormatVersion: Number(entry.manifestFormatVersion), manifest, files };
    }
  if (problems.length > 0) pointerInvalid(source, problems);
  return { ...(data as unknown as ChannelPointer), arches };
}
