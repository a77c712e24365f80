/**
 * Reads an installed image's manifest into what the runtime needs, with a
 * clear error for a missing image or a manifest that cannot drive a VM.
 */
import { access } from "node:fs/promises";
import type { ImagePaths } from "@hexclave/image-builder/image";
import { readManifest } from "@hexclave/image-builder/image";
import type { Arch } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";
import type { ExposedEndpoint, RuntimeManifest } from "../machine/vm-spec.js";

export interface InstalledImage {
  readonly paths: ImagePaths;
  readonly manifest: RuntimeManifest;
  /** Human version of the image (manifest `version`, else its build time, else a sha256 prefix). */
  readonly version: string;
  readonly source: string | null;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

export async function imageInstalled(paths: ImagePaths): Promise<boolean> {
  return (await exists(paths.image)) && (await exists(paths.manifest));
}

/** Throws `EMULATOR_IMAGE_MISSING` (with how to get one), `MANIFEST_INVALID`, or `EMULATOR_MANIFEST_INVALID` (wrong arch). */
export async function readInstalledImage(paths: ImagePaths, arch: Arch): Promise<InstalledImage> {
  if (!(await imageInstalled(paths))) {
    throw emulatorErrors.create("EMULATOR_IMAGE_MISSING", `No ${arch} emulator image in ${paths.dir}`, {
      hint: `Get one with \`stack emulator pull --arch ${arch}\`, or build it with \`stack build-image ${arch}\` (offline: \`stack build-image ${arch} --profile selftest --base bootstrap\`).`,
      details: { image: paths.image, manifest: paths.manifest },
    });
  }
  const manifest = await readManifest(paths.manifest);
  if (manifest.arch !== arch) {
    throw emulatorErrors.create(
      "EMULATOR_MANIFEST_INVALID",
      `The image manifest ${paths.manifest} is for ${manifest.arch}, not ${arch}`,
      { details: { manifest: paths.manifest } },
    );
  }
  const bootSpec: RuntimeManifest["boot"] =
    manifest.boot.kind === "kernel" ? { kind: "kernel", append: manifest.boot.append } : { kind: "firmware" };
  if (bootSpec.kind === "kernel") {
    for (const file of [paths.kernel, paths.initrd]) {
      if (!(await exists(file))) {
        throw emulatorErrors.create("EMULATOR_IMAGE_MISSING", `The image's kernel or initrd ${file} is missing`, {
          hint: "Pull or build the image again: its kernel and initrd are published beside it.",
          details: { file },
        });
      }
    }
  }
  const endpoints: ExposedEndpoint[] = manifest.services.map((e) => ({
    service: e.service,
    guestPort: e.guestPort,
    hostPort: e.hostPort,
    ...(e.hostPortEnv !== undefined ? { hostPortEnv: e.hostPortEnv } : {}),
    health: { kind: "http", path: e.health.path, expectStatus: e.health.expectStatus ?? [200] },
  }));
  return {
    paths,
    manifest: { arch, image: { sha256: manifest.image.sha256 }, boot: bootSpec, services: endpoints },
    version: manifest.source?.version ?? `${manifest.profile}-${manifest.builtAt}`,
    source: manifest.source?.url ?? (manifest.source === undefined ? "local build" : null),
  };
}
