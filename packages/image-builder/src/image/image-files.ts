/**
 * The published image's file names: a build writes these four files into its
 * output directory, a release publishes them under the same names, and the
 * emulator installs them into its images directory. Written once here.
 *
 * ```
 * stack-emulator-<arch>.qcow2    the compressed, read-only base image
 * stack-emulator-<arch>.json     its manifest (manifest.ts)
 * stack-emulator-<arch>.vmlinuz  the kernel, for images that boot it directly (no bootloader wait)
 * stack-emulator-<arch>.initrd   its initrd
 * ```
 */
import { join } from "node:path";
import type { Arch } from "@hexclave/qemu-core";

export const imageFileName = (arch: Arch): string => `stack-emulator-${arch}.qcow2`;
export const manifestFileName = (arch: Arch): string => `stack-emulator-${arch}.json`;
/** Kernel and initrd for direct kernel boot, published beside the image when its manifest says `boot.kind: "kernel"`. */
export const kernelFileName = (arch: Arch): string => `stack-emulator-${arch}.vmlinuz`;
export const initrdFileName = (arch: Arch): string => `stack-emulator-${arch}.initrd`;

/** The four files of one arch's image in one directory. */
export interface ImagePaths {
  readonly dir: string;
  readonly image: string;
  readonly manifest: string;
  readonly kernel: string;
  readonly initrd: string;
}

/**
 * The paths of `arch`'s image files in `dir` (a build's output directory, a
 * release directory, the emulator's images directory). Pure.
 */
export function imageFilesIn(dir: string, arch: Arch): ImagePaths {
  return {
    dir,
    image: join(dir, imageFileName(arch)),
    manifest: join(dir, manifestFileName(arch)),
    kernel: join(dir, kernelFileName(arch)),
    initrd: join(dir, initrdFileName(arch)),
  };
}
