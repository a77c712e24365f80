/**
 * `fresh` as a pair: a disk-only internal snapshot `fresh` of the overlay and
 * the RAM and device state in `fresh.vmstate` beside it, both taken at one
 * paused instant of the first healthy cold boot. A reset then resumes it like
 * a suspend (`-incoming`, one sequential read) after reverting the disk
 * (`qemu-img snapshot -a`, metadata only), instead of `-loadvm fresh` reading
 * the state through the block layer (4.7-6 s measured).
 *
 * The guest drops its page cache before the pair is saved (once, at the end
 * of the first cold boot): with `init_on_free=1` the guest kernel zeroes
 * every page it frees in emulated code, measured here at 5-7 s per GiB freed
 * under TCG (4 vCPUs on 2 host cores, against 1 s per GiB without it). The
 * cold boot's cache was the bulk of the first `stop`'s 22 s: dropped here,
 * the suspend's own drop only frees what the guest read since, and every
 * reset loads a smaller `fresh.vmstate`.
 *
 * An install whose `fresh` still holds its RAM (made before the pair) keeps
 * resuming through `-loadvm`: the snapshot's own state size tells which.
 */
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { InstancePaths, VmInstance, VmInstanceEvent } from "@hexclave/qemu-core";

export const FRESH_SNAPSHOT = "fresh";
export const FRESH_STATE_FILE = "fresh.vmstate";

export function freshStateFile(paths: InstancePaths): string {
  return join(paths.dir, FRESH_STATE_FILE);
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
    ...(onEvent ? { onEvent } : {}),
    ...(signal ? { signal } : {}),
  });
  await (await vm.qmp()).cont();
}

/**
 * How a start resumes `fresh`: the state file after reverting the disk to its
 * disk-only snapshot, or `-loadvm` for a `fresh` that holds its RAM (or when
 * the file is missing: then `-loadvm` fails and the start boots the reverted
 * disk cold, as for any failed resume).
 */
export async function freshResume(
  vm: Pick<VmInstance, "listSnapshots" | "revertDiskSnapshot" | "paths">,
  signal: AbortSignal | undefined,
): Promise<{ incomingStateFile: string } | { loadvm: string }> {
  const snapshot = (await vm.listSnapshots()).find((s) => s.name === FRESH_SNAPSHOT);
  const file = freshStateFile(vm.paths);
  if (snapshot !== undefined && snapshot.vmStateSize === 0 && (await isFile(file))) {
    await vm.revertDiskSnapshot(FRESH_SNAPSHOT, signal ? { signal } : {});
    return { incomingStateFile: file };
  }
  return { loadvm: FRESH_SNAPSHOT };
}

/** Removes the state half of the pair (with a new overlay or a hard reset, its disk half is gone too). */
export async function removeFreshState(paths: InstancePaths): Promise<void> {
  await rm(freshStateFile(paths), { force: true });
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
