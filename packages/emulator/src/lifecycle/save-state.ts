/**
 * Saving the guest's state: `suspend` (a state file beside the overlay, saved
 * by `stop`) and `fresh` (saved by the first healthy cold start), each after
 * flushing the guest, and recorded with the machine it fits.
 */
import { rm } from "node:fs/promises";
import type { GuestAgentClient, InstancePaths, InstanceVmSpec } from "@hexclave/qemu-core";
import { type Emit, type EmulatorContext, GUEST_AGENT_TIMEOUT_MS } from "../context.js";
import { discardFile, setAside } from "../internal/discard-file.js";
import { errorText } from "../internal/error-text.js";
import { exists } from "../internal/files.js";
import type { VmFingerprint } from "../machine/fingerprint.js";
import { suspendMemoryFile } from "../machine/guest-memory.js";
import { type SnapshotName, updateSnapshotRecord, withSnapshot } from "../store/snapshot-record.js";
import { saveFreshPair } from "./fresh-state.js";
import { vmEvents } from "./vm-events.js";

/** The machine a saved state fits: resumed only with the same spec (checked by fingerprint). */
export interface SavedMachine {
  readonly spec: InstanceVmSpec;
  readonly fingerprint: VmFingerprint;
  /** The runtime environment's digest the guest runs with, when known (kept with the snapshot). */
  readonly runtimeEnvSha256?: string | undefined;
}

/**
 * The saved states this instance really has: `fresh` when the overlay holds
 * it, `suspend` when its state file exists. An internal `suspend` snapshot
 * (written by earlier versions) is deleted: it is never resumed.
 */
export async function presentSnapshots(ctx: EmulatorContext): Promise<SnapshotName[]> {
  const internal = (await ctx.img.snapshotList(ctx.paths.overlay)).map((x) => x.name);
  if (internal.includes("suspend")) await ctx.img.snapshotDelete(ctx.paths.overlay, "suspend");
  return [
    ...(internal.includes("fresh") ? (["fresh"] as const) : []),
    ...((await exists(ctx.paths.suspendState)) ? (["suspend"] as const) : []),
  ];
}

/**
 * Removes the suspend: its device state and its memory. The memory copy is discarded (internal/discard-file.ts);
 * `purge: false` only sets it aside, for a caller that purges the discard directory once it is done.
 */
export async function removeSuspendState(paths: InstancePaths, options: { purge?: boolean } = {}): Promise<void> {
  await rm(paths.suspendState, { force: true });
  if (options.purge === false) await setAside(paths.dir, suspendMemoryFile(paths));
  else await discardFile(paths.dir, suspendMemoryFile(paths));
}

/**
 * Flushes the guest (fsfreeze, or `sync` when freezing fails) and saves its
 * device state to the suspend file and the memory it holds to `suspend.ram`
 * (machine/guest-memory.ts); the caller then quits QEMU. The
 * guest stays frozen in the saved state: the resume thaws it. A failure
 * runs the VM again (thawed) before it is thrown.
 */
export async function saveSuspend(
  ctx: EmulatorContext,
  machine: SavedMachine,
  signal: AbortSignal | undefined,
  emit: Emit,
): Promise<void> {
  const began = Date.now();
  emit({ type: "stage-start", stage: "snapshot", label: "saving suspend" });
  // No page-cache drop here: the guest reports what it frees a few seconds later, after the copy (a drop would only
  // cost time; fresh drops it, once, while the guest runs on).
  const agent = await flushGuest(ctx, signal, emit);
  try {
    const saved = await ctx.vm.saveStateFile(ctx.paths.suspendState, {
      ...(machine.spec.memoryFile === undefined ? {} : { memoryImage: suspendMemoryFile(ctx.paths) }),
      ...vmEvents(emit),
      ...(signal ? { signal } : {}),
    });
    emit({
      type: "stage-end",
      stage: "snapshot",
      durationMs: Date.now() - began,
      detail: `suspend (${(saved.bytes / 2 ** 20).toFixed(1)} MiB of device state${
        saved.memoryBytes === undefined ? "" : `, ${Math.round(saved.memoryBytes / 2 ** 20)} MiB of memory`
      })`,
    });
  } catch (error) {
    const qmp = await ctx.vm.qmp().catch(() => undefined);
    await qmp?.cont().catch(() => {});
    ctx.vm.close();
    if (agent?.frozen === true) await agent.client.fsThaw({ timeoutMs: 30_000 }).catch(() => {});
    throw error;
  } finally {
    agent?.client.close();
  }
  await recordSaved(ctx, "suspend", machine, began, emit);
}

/**
 * Flushes the guest (fsfreeze, or `sync` when freezing fails), saves
 * snapshot `name` (replacing one of that name), thaws, and records it.
 */
export async function saveWithFlush(
  ctx: EmulatorContext,
  name: SnapshotName,
  machine: SavedMachine,
  signal: AbortSignal | undefined,
  emit: Emit,
): Promise<void> {
  const began = Date.now();
  emit({ type: "stage-start", stage: "snapshot", label: `saving ${name}` });
  // The cold boot's page cache goes here, once (see fresh-state.ts), not in every suspend.
  const agent = await flushGuest(ctx, signal, emit, { dropCaches: true });
  try {
    if (name === "fresh") await saveFreshPair(ctx.vm, signal, vmEvents(emit).onEvent);
    else await ctx.vm.saveSnapshot(name, { ...vmEvents(emit), ...(signal ? { signal } : {}) });
  } finally {
    if (agent?.frozen === true) {
      await agent.client.fsThaw({ timeoutMs: 30_000 }).catch((error) =>
        emit({
          type: "message",
          level: "warn",
          text: `Could not thaw the guest's file systems: ${errorText(error)}`,
        }),
      );
    }
    agent?.client.close();
  }
  emit({ type: "stage-end", stage: "snapshot", durationMs: Date.now() - began, detail: name });
  await recordSaved(ctx, name, machine, began, emit);
}

/** Records a saved snapshot with the machine it fits, and reports it. */
async function recordSaved(
  ctx: EmulatorContext,
  name: SnapshotName,
  machine: SavedMachine,
  began: number,
  emit: Emit,
): Promise<void> {
  await updateSnapshotRecord(ctx.recordFile, (r) =>
    withSnapshot(r, {
      name,
      spec: machine.spec,
      fingerprint: machine.fingerprint,
      savedAt: new Date().toISOString(),
      ...(machine.runtimeEnvSha256 === undefined ? {} : { runtimeEnvSha256: machine.runtimeEnvSha256 }),
    }),
  );
  emit({ type: "snapshot-saved", name, durationMs: Date.now() - began });
}

/**
 * Freezes the guest's file systems (or runs `sync` when freezing fails); undefined without a guest agent.
 * `dropCaches` first drops the guest's clean page cache: the guest reports the freed blocks (free page
 * reporting), which become holes in the memory file and so in `fresh.ram` (best effort: a failure only costs size).
 */
async function flushGuest(
  ctx: EmulatorContext,
  signal: AbortSignal | undefined,
  emit: Emit,
  options: { dropCaches?: boolean } = {},
): Promise<{ client: GuestAgentClient; frozen: boolean } | undefined> {
  let client: GuestAgentClient;
  const unavailable = (error: unknown) =>
    emit({
      type: "message",
      level: "warn",
      text: `Guest agent unavailable, saving without a flush: ${errorText(error)}`,
    });
  try {
    // A suspend's freeze rides behind the sync (one exchange with the guest, not two); the cache drop of `fresh`
    // goes on a synchronised connection, so an agent that does not answer is found once, not by each command.
    client = await ctx.vm.guestAgent({
      timeoutMs: GUEST_AGENT_TIMEOUT_MS,
      pipelined: options.dropCaches !== true,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    unavailable(error);
    return undefined;
  }
  if (options.dropCaches === true) {
    await client
      .exec("/bin/sh", ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"], { timeoutMs: 30_000 })
      .catch(() => undefined);
  }
  try {
    await client.fsFreeze({ timeoutMs: 60_000 });
    return { client, frozen: true };
  } catch (error) {
    if (!client.synced) {
      // The agent never answered the sync (pipelined above): nothing to thaw, nobody to run `sync`.
      client.close();
      unavailable(error);
      return undefined;
    }
    await client.fsThaw({ timeoutMs: 10_000 }).catch(() => {});
    emit({
      type: "message",
      level: "warn",
      text: `fsfreeze failed (${errorText(error)}); flushing with sync instead`,
    });
    await client.exec("/bin/sync", [], { timeoutMs: 60_000 }).catch(() => {});
    return { client, frozen: false };
  }
}
