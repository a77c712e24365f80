/**
 * The installed image as the CLI sees it: is it there, what does its
 * manifest say, does the file match the manifest's sha256.
 *
 * Manifests are read and validated by image-builder's `readManifest` (loaded
 * lazily, like every image-builder import of the CLI).
 */
import { stat } from "node:fs/promises";
import { imagePaths } from "@hexclave/emulator";
import type { Arch } from "@hexclave/qemu-core";
import { cliErrors } from "./cli-errors.js";

/** The manifest fields the CLI reads (image-builder writes more). */
export interface ImageManifestSummary {
  readonly sha256: string;
  readonly size: number | null;
  readonly version: string | null;
  readonly source: string | null;
  readonly profile: string | null;
}

export interface InstalledImage {
  readonly imagePath: string;
  readonly manifestPath: string;
  readonly imagePresent: boolean;
  readonly manifestPresent: boolean;
  readonly sizeBytes: number | null;
}

const exists = async (path: string): Promise<number | null> => {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
};

export async function locateImage(home: string, arch: Arch): Promise<InstalledImage> {
  const paths = imagePaths(home, arch);
  const [imageSize, manifestSize] = await Promise.all([exists(paths.image), exists(paths.manifest)]);
  return {
    imagePath: paths.image,
    manifestPath: paths.manifest,
    imagePresent: imageSize !== null,
    manifestPresent: manifestSize !== null,
    sizeBytes: imageSize,
  };
}

/** Throws `IMAGE_NOT_INSTALLED` (naming pull and build-image) when the image for `arch` is missing. */
export async function requireInstalledImage(home: string, arch: Arch): Promise<InstalledImage> {
  const image = await locateImage(home, arch);
  if (!image.imagePresent) {
    throw cliErrors.create("IMAGE_NOT_INSTALLED", `No ${arch} emulator image at ${image.imagePath}`, {
      hint: `Get one: \`stack emulator pull --arch ${arch}\` downloads the published image, or \`stack build-image ${arch} --profile selftest --base bootstrap\` builds one here.`,
      details: { arch, imagePath: image.imagePath },
    });
  }
  return image;
}

const field = (record: Record<string, unknown>, ...names: string[]): unknown => {
  for (const name of names) if (record[name] !== undefined) return record[name];
  return undefined;
};

/** Reads a manifest's sha256, size, version and source; throws `MANIFEST_UNREADABLE` naming the problem. */
export async function readImageManifest(path: string): Promise<ImageManifestSummary> {
  let raw: unknown;
  try {
    raw = await (await import("@hexclave/image-builder/image")).readManifest(path);
  } catch (cause) {
    throw cliErrors.create(
      "MANIFEST_UNREADABLE",
      `Cannot read the image manifest ${path}: ${(cause as Error).message}`,
      {
        cause,
        details: { path },
      },
    );
  }
  if (typeof raw !== "object" || raw === null) {
    throw cliErrors.create("MANIFEST_UNREADABLE", `The image manifest ${path} is not a JSON object`, {
      details: { path },
    });
  }
  const record = raw as Record<string, unknown>;
  const image =
    typeof record.image === "object" && record.image !== null ? (record.image as Record<string, unknown>) : {};
  const sha256 = field(record, "sha256") ?? field(image, "sha256");
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/i.test(sha256)) {
    throw cliErrors.create("MANIFEST_UNREADABLE", `The image manifest ${path} has no valid sha256 field`, {
      details: { path },
    });
  }
  const size = field(record, "size", "sizeBytes") ?? field(image, "size", "sizeBytes");
  const version = field(record, "version", "imageVersion");
  const source = field(record, "source", "origin");
  const profile = field(record, "profile");
  return {
    sha256: sha256.toLowerCase(),
    size: typeof size === "number" ? size : null,
    version: typeof version === "string" ? version : null,
    source:
      typeof source === "string"
        ? source
        : typeof source === "object" && source !== null
          ? JSON.stringify(source)
          : null,
    profile: typeof profile === "string" ? profile : null,
  };
}

/** The sha256 of a file, streamed (image-builder's `digestFile`, loaded when first needed). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  return (await import("@hexclave/image-builder/download")).digestFile(path, "sha256", signal);
}
