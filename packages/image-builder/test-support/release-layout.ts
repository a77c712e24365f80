/**
 * Release layouts for pull tests, as CI publishes them:
 *
 * ```
 * <root>/emulator-<channel>.json          channel pointer (URLs relative to <root>)
 * <root>/<version>/stack-emulator-<arch>.{qcow2,json,vmlinuz,initrd}
 * <root>/<version>/SHA256SUMS
 * ```
 *
 * `writeRelease` copies (or writes) the files into `<root>/<version>/`,
 * writes SHA256SUMS like `sha256sum -- *`, and the pointer through the real
 * `channelPointerFromDir`.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Arch } from "@hexclave/qemu-core";
import { imageFileName, initrdFileName, kernelFileName, manifestFileName } from "../src/image/image-files.js";
import type { Manifest } from "../src/image/manifest.js";
import { type Channel, type ChannelPointer, channelPointerFileName } from "../src/release/channel-pointer.js";
import { channelPointerFromDir } from "../src/release/release-dir.js";

export const sha256Of = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");

/** A valid manifest for an image and its kernel/initrd stand-ins (pure). */
export function sampleManifest(input: {
  arch?: Arch;
  image: { size: number; sha256: string };
  kernelSha256: string;
  initrdSha256: string;
}): Manifest {
  const arch = input.arch ?? "amd64";
  return {
    formatVersion: 1,
    arch,
    profile: "selftest",
    image: {
      file: imageFileName(arch),
      size: input.image.size,
      virtualSize: 8 * 1024 * 1024,
      sha256: input.image.sha256,
      compression: "zstd",
    },
    boot: {
      kind: "kernel",
      kernel: { file: kernelFileName(arch), sha256: input.kernelSha256 },
      initrd: { file: initrdFileName(arch), sha256: input.initrdSha256 },
      append: "console=ttyS0 root=/dev/vda",
    },
    base: {
      kind: "bootstrap",
      recipeHash: "test",
      suite: "trixie",
      mirror: "http://deb.debian.org/debian",
      kernelVersion: "6.12",
      packages: [],
    },
    payload: { imageId: "sha256:test", tag: "hexclave/selftest:test" },
    services: [
      {
        service: "dashboard",
        guestPort: 8101,
        hostPort: 26700,
        health: { kind: "http", port: 8101, path: "/", expectStatus: [200] },
      },
    ],
    qemuVersion: "7.2.0",
    buildAccel: "tcg",
    builtAt: "2025-01-01T00:00:00.000Z",
    durations: {},
  };
}

export interface ReleaseFiles {
  readonly image: Buffer;
  readonly kernel: Buffer;
  readonly initrd: Buffer;
}

/** Writes `<root>/<version>/` (files, manifest, SHA256SUMS) for amd64 and the channel pointer; returns the pointer. */
export async function writeRelease(options: {
  root: string;
  channel: Channel;
  version: string;
  arch?: Arch;
  /** File contents, or paths of existing files (image, kernel, initrd, manifest) to copy as they are. */
  files: ReleaseFiles | { readonly dir: string };
  /** Base URL written into the pointer (default a placeholder; pull resolves mirror files by name). */
  baseUrl?: string;
}): Promise<ChannelPointer> {
  const arch = options.arch ?? "amd64";
  const dir = join(options.root, options.version);
  await mkdir(dir, { recursive: true });
  if ("dir" in options.files) {
    for (const name of [imageFileName(arch), manifestFileName(arch), kernelFileName(arch), initrdFileName(arch)]) {
      await copyFile(join(options.files.dir, name), join(dir, name));
    }
  } else {
    const { image, kernel, initrd } = options.files;
    await writeFile(join(dir, imageFileName(arch)), image);
    await writeFile(join(dir, kernelFileName(arch)), kernel);
    await writeFile(join(dir, initrdFileName(arch)), initrd);
    const manifest = sampleManifest({
      arch,
      image: { size: image.length, sha256: sha256Of(image) },
      kernelSha256: sha256Of(kernel),
      initrdSha256: sha256Of(initrd),
    });
    await writeFile(join(dir, manifestFileName(arch)), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  const lines: string[] = [];
  for (const name of (await readdir(dir)).filter((n) => n !== "SHA256SUMS").sort()) {
    lines.push(`${sha256Of(await readFile(join(dir, name)))}  ${name}`);
  }
  await writeFile(join(dir, "SHA256SUMS"), `${lines.join("\n")}\n`);
  const pointer = await channelPointerFromDir({
    channel: options.channel,
    version: options.version,
    baseUrl: options.baseUrl ?? `https://releases.invalid/${options.version}`,
    dir,
    publishedAt: "2025-01-01T12:00:00.000Z",
  });
  await writeFile(join(options.root, channelPointerFileName(options.channel)), `${JSON.stringify(pointer, null, 2)}\n`);
  return pointer;
}
