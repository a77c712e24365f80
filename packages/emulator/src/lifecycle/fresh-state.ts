/**
 * `fresh` as a pair: a disk-only internal snapshot `fresh` of the overlay and
 * the device state in `fresh.vmstate` beside it with the guest's memory in
 * `fresh.ram` (a sparse copy of the memory file), all taken at one paused
 * instant of the first healthy cold boot. A reset then resumes it like
 * a suspend (`-incoming`, one sequential read) after reverting the disk
 * (`qemu-img snapshot -a`, metadata only), instead of `-loadvm fresh` reading
 * the state through the block layer (4.7-6 s measured).
 *
 * The guest drops its page cache before the pair is saved (once, at the end
 * of the first cold boot): the guest reports the freed blocks through its
 * balloon (free page reporting, machine/vm-spec.ts), QEMU punches them out of
 * the memory file, and the sparse copy skips what is a hole by then, so each
 * reset copies less. A suspend does not drop it: its RAM stays in the memory
 * file whatever the cache holds.
 *
 * An install whose `fresh` still holds its RAM (made before the pair) keeps
 * resuming through `-loadvm`: the snapshot's own state size tells which.
 */
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { InstancePaths, VmInstance, VmInstanceEvent } from "@hexclave/qemu-core";

export const FRESH_SNAPSHOT = "fresh";
export const FRESH_STATE_FILE = "fresh.vmstate";
/** The guest's memory as of `fresh` (a sparse copy of the memory file), copied back into it by each reset. */
export const FRESH_MEMORY_FILE = "fresh.ram";

export function freshStateFile(paths: InstancePaths): string {
  return join(paths.dir, FRESH_STATE_FILE);
}

export function freshMemoryFile(paths: InstancePaths): string {
  return join(paths.dir, FRESH_MEMORY_FILE);
}

/**
 * Saves the pair from the running (flushed) guest, then runs the guest on:
 * the disk snapshot and the state file are of the same paused instant.
 */
export async function saveFreshPair(
  vm: Pick<VmInstance, "saveStateFile" | "qmp" | "paths">,
  signal: AbortSignal | undefined,
  onEvent?: (event: VmInstanceEvent) => void,
): Promise<void> {
  await vm.saveStateFile(freshStateFile(vm.paths), {
    diskSnapshot: FRESH_SNAPSHOT,
    memoryImage: freshMemoryFile(vm.paths),
    ...(onEvent ? { onEvent } : {}),
    ...(signal ? { signal } : {}),
  });
  await (await vm.qmp()).cont();
}

/**
 * How a start resumes `fresh`: the state file and a copy of its memory after
 * reverting the disk to its disk-only snapshot, or `-loadvm` for a `fresh`
 * that holds its RAM (or when a file is missing: then `-loadvm` fails and the
 * start boots the reverted disk cold, as for any failed resume).
 */
export async function freshResume(
  vm: Pick<VmInstance, "listSnapshots" | "revertDiskSnapshot" | "paths">,
  signal: AbortSignal | undefined,
): Promise<{ incomingStateFile: string; incomingMemoryImage: string } | { loadvm: string }> {
  const snapshot = (await vm.listSnapshots()).find((s) => s.name === FRESH_SNAPSHOT);
  const file = freshStateFile(vm.paths);
  const memory = freshMemoryFile(vm.paths);
  if (snapshot !== undefined && snapshot.vmStateSize === 0 && (await isFile(file)) && (await isFile(memory))) {
    await vm.revertDiskSnapshot(FRESH_SNAPSHOT, signal ? { signal } : {});
    return { incomingStateFile: file, incomingMemoryImage: memory };
  }
  return { loadvm: FRESH_SNAPSHOT };
}

/** Removes the state half of the pair and its memory (with a new overlay or a hard reset, its disk half is gone too). */
export async function removeFreshState(paths: InstancePaths): Promise<void> {
  await rm(freshStateFile(paths), { force: true });
  await rm(freshMemoryFile(paths), { force: true });
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
