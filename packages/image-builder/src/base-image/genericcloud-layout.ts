/**
 * The disk layout of Debian's cloud images (debian-cloud-images, `generic`
 * and `genericcloud` alike): GPT; the root file system in partition 1, placed
 * LAST on the disk so growpart can extend it to the end; a BIOS boot
 * partition 14 (amd64 only, for GRUB's i386-pc core) and the EFI system
 * partition 15 at the front, holding GRUB for EFI at the removable-media path
 * (`/EFI/BOOT/BOOTX64.EFI`, `BOOTAA64.EFI`) that firmware without boot
 * entries (OVMF/AAVMF with fresh variables) starts. Pure: offsets, GUIDs and
 * the sfdisk script; the stand-in host (test-support/cloud-image-host.ts)
 * builds disks from it and its integration test checks a disk against it.
 */
import type { Arch } from "@hexclave/qemu-core";

export const SECTOR_BYTES = 512;
/** The partition the pipeline grows and mounts as `/` (WarmBootBase.rootPartition). */
export const CLOUD_ROOT_PARTITION = 1;
export const CLOUD_BIOS_BOOT_PARTITION = 14;
export const CLOUD_ESP_PARTITION = 15;

/** GPT partition type GUIDs, as sfdisk prints them. */
export const GPT_TYPE = {
  linuxFilesystem: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  biosBoot: "21686148-6449-6E6F-744E-656564454649",
  efiSystem: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
} as const;

export interface PartitionPlan {
  readonly number: number;
  readonly start: number;
  /** Sectors; undefined for "to the end of the disk". */
  readonly size: number | undefined;
  readonly type: string;
}

/** Sector offsets as debian-cloud-images lays them out (1 MiB alignment; root from 128 MiB). */
export const CLOUD_LAYOUT = {
  biosBoot: { start: 2048, size: 6144 },
  esp: { start: 8192, size: 253952 },
  rootStart: 262144,
} as const;

/** The partitions of the cloud disk for an arch, in disk order. */
export function cloudPartitions(arch: Arch): PartitionPlan[] {
  return [
    ...(arch === "amd64"
      ? [{ number: CLOUD_BIOS_BOOT_PARTITION, ...CLOUD_LAYOUT.biosBoot, type: GPT_TYPE.biosBoot }]
      : []),
    { number: CLOUD_ESP_PARTITION, ...CLOUD_LAYOUT.esp, type: GPT_TYPE.efiSystem },
    { number: CLOUD_ROOT_PARTITION, start: CLOUD_LAYOUT.rootStart, size: undefined, type: GPT_TYPE.linuxFilesystem },
  ];
}

/** The sfdisk script that writes that table into `deviceName` (a file name; its suffix numbers the partitions). */
export function sfdiskScript(deviceName: string, arch: Arch): string {
  const lines = ["label: gpt", "unit: sectors", "first-lba: 2048"];
  for (const p of cloudPartitions(arch)) {
    const size = p.size === undefined ? "" : `, size=${p.size}`;
    lines.push(`${deviceName}${p.number} : start=${p.start}${size}, type=${p.type}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The EFI binary's name at the removable-media path. */
export function efiBootFile(arch: Arch): string {
  return arch === "amd64" ? "BOOTX64.EFI" : "BOOTAA64.EFI";
}

/** The GRUB platform of the EFI binary. */
export function grubEfiTarget(arch: Arch): string {
  return arch === "amd64" ? "x86_64-efi" : "arm64-efi";
}

/** One partition as `sfdisk --json` reports it. */
export interface SfdiskPartition {
  readonly node: string;
  readonly start: number;
  readonly size: number;
  readonly type: string;
}

/**
 * What is wrong with a partition table (from `sfdisk --json`) for the cloud
 * layout of `arch`: an empty list when it matches. Pure.
 */
export function cloudLayoutProblems(
  table: { readonly label: string; readonly partitions: readonly SfdiskPartition[] },
  arch: Arch,
): string[] {
  const problems: string[] = [];
  if (table.label !== "gpt") problems.push(`the table is ${table.label}, not gpt`);
  const byNumber = new Map(table.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)?.[1]), p]));
  for (const want of cloudPartitions(arch)) {
    const got = byNumber.get(want.number);
    if (got === undefined) {
      problems.push(`partition ${want.number} is missing`);
      continue;
    }
    if (got.type.toUpperCase() !== want.type) problems.push(`partition ${want.number} has type ${got.type}`);
    if (got.start !== want.start) problems.push(`partition ${want.number} starts at ${got.start}, not ${want.start}`);
    if (want.size !== undefined && got.size !== want.size)
      problems.push(`partition ${want.number} has ${got.size} sectors, not ${want.size}`);
  }
  const extra = [...byNumber.keys()].filter((n) => !cloudPartitions(arch).some((p) => p.number === n));
  if (extra.length > 0) problems.push(`unexpected partitions ${extra.join(", ")}`);
  const root = byNumber.get(CLOUD_ROOT_PARTITION);
  if (root !== undefined && table.partitions.some((p) => p.start > root.start))
    problems.push("partition 1 is not the last on the disk (growpart could not extend it)");
  return problems;
}
