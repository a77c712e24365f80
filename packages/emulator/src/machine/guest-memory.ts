/**
 * Where the guest's RAM lives while QEMU runs (qemu-core `VmSpec.memoryFile`,
 * mapped shared): a file in a tmpfs (`/dev/shm`) when there is one with room
 * for the whole guest, else a file in the instance directory.
 *
 * A file, not anonymous memory, so that a suspend saves only the device state
 * and copies the pages the guest holds, instead of QEMU reading every page of
 * the guest's RAM through its migration stream (on this project's CI host,
 * which backs every page it reads with a new one, that save took 5-22 s and
 * grew with the memory size). A tmpfs, not the disk, while the guest runs:
 * the kernel writes a disk file's dirty pages back all the time, and after
 * `fresh` was saved (a copy of the whole file) that write-back starved the
 * guest: its backend stopped answering for seconds, in two of two cold starts
 * measured here, and never with the file in /dev/shm.
 *
 * The file lives only as long as its QEMU: a stop copies what the guest holds
 * to `suspend.ram` in the instance directory (the suspend) and removes it; a
 * resume copies it back (lifecycle/save-state.ts, lifecycle/launch.ts).
 */
import { createHash } from "node:crypto";
import { rm, statfs } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { InstancePaths } from "@hexclave/qemu-core";
import { GUEST_MEMORY_FILE, SUSPEND_MEMORY_FILE } from "../layout.js";

/** The tmpfs looked for on Linux. */
export const SHARED_MEMORY_DIR = "/dev/shm";
/** `statfs` type of a tmpfs (Linux `TMPFS_MAGIC`). */
export const TMPFS_MAGIC = 0x01021994;
/** Room left in the tmpfs beyond the guest's whole memory, for everything else that uses it. */
export const TMPFS_HEADROOM_BYTES = 256 * 2 ** 20;

/** A tmpfs as `statfs` reads it. */
export interface TmpfsInfo {
  readonly dir: string;
  readonly isTmpfs: boolean;
  readonly freeBytes: number;
}

/** Where the guest memory file goes, and why (the start reports the reason when it is not the tmpfs). */
export type MemoryPlacement =
  | { readonly kind: "tmpfs"; readonly dir: string }
  | { readonly kind: "instance"; readonly reason: string };

/**
 * Chooses the memory file's place (pure): the tmpfs when it is one and can hold the guest's whole memory with
 * {@link TMPFS_HEADROOM_BYTES} to spare (a full tmpfs would kill QEMU with SIGBUS mid-run), else the instance
 * directory.
 */
export function chooseMemoryPlacement(tmpfs: TmpfsInfo | undefined, memoryMb: number): MemoryPlacement {
  if (tmpfs === undefined) return { kind: "instance", reason: `${SHARED_MEMORY_DIR} does not exist on this host` };
  if (!tmpfs.isTmpfs) return { kind: "instance", reason: `${tmpfs.dir} is not a tmpfs` };
  const needed = memoryMb * 2 ** 20 + TMPFS_HEADROOM_BYTES;
  if (tmpfs.freeBytes < needed) {
    const mib = (n: number) => `${Math.floor(n / 2 ** 20)} MiB`;
    return {
      kind: "instance",
      reason: `${tmpfs.dir} has ${mib(tmpfs.freeBytes)} free, less than the guest's ${memoryMb} MiB plus ${mib(TMPFS_HEADROOM_BYTES)}`,
    };
  }
  return { kind: "tmpfs", dir: tmpfs.dir };
}

/** Reads the tmpfs (`statfs`); undefined where it does not exist (macOS, Windows). */
export async function readTmpfs(dir: string = SHARED_MEMORY_DIR): Promise<TmpfsInfo | undefined> {
  try {
    const s = await statfs(dir);
    return { dir, isTmpfs: s.type === TMPFS_MAGIC, freeBytes: s.bavail * s.bsize };
  } catch {
    return undefined;
  }
}

/**
 * The memory file's name in a tmpfs: one per instance directory (a hash of its absolute path), so two homes never
 * share one, and the file can be found again without any record.
 */
export function tmpfsMemoryFileName(instance: InstancePaths): string {
  const id = createHash("sha256").update(resolve(instance.dir)).digest("hex").slice(0, 16);
  return `hexclave-emulator-${id}.ram`;
}

/** The memory file for a placement. */
export function guestMemoryFile(instance: InstancePaths, placement: MemoryPlacement): string {
  return placement.kind === "tmpfs"
    ? join(placement.dir, tmpfsMemoryFileName(instance))
    : join(instance.dir, GUEST_MEMORY_FILE);
}

/** Every place the instance's memory file can be (removed once its QEMU is gone). */
export function guestMemoryFiles(instance: InstancePaths): string[] {
  return [
    guestMemoryFile(instance, { kind: "tmpfs", dir: SHARED_MEMORY_DIR }),
    guestMemoryFile(instance, { kind: "instance", reason: "" }),
  ];
}

/** Removes the memory file wherever it is: once its QEMU is gone nothing refers to it (a suspend has its copy). */
export async function removeGuestMemory(instance: InstancePaths): Promise<void> {
  for (const file of guestMemoryFiles(instance)) await rm(file, { force: true });
}

/** The guest's memory as of the last suspend, beside its device state (`suspend.vmstate`). */
export function suspendMemoryFile(instance: InstancePaths): string {
  return join(instance.dir, SUSPEND_MEMORY_FILE);
}
