/**
 * `reset`: stop the VM without saving, then make the next start resume
 * `fresh` (disk reverted), or with `hard` (or no `fresh`) delete the overlay
 * so the next start boots cold.
 */
import { rm } from "node:fs/promises";
import type { Emit, EmulatorContext } from "../context.js";
import { throwIfAborted } from "../internal/abort.js";
import { exists } from "../internal/files.js";
import { removeGuestMemory } from "../machine/guest-memory.js";
import {
  EMPTY_SNAPSHOT_RECORD,
  readSnapshotRecord,
  withoutSnapshot,
  writeSnapshotRecord,
} from "../store/snapshot-record.js";
import type { EmulatorResetOptions, EmulatorResetResult } from "../types.js";
import { stopFileBridge } from "./bridge-session.js";
import { removeFreshState } from "./fresh-state.js";
import { removeSuspendState } from "./save-state.js";
import { vmEvents } from "./vm-events.js";

export async function reset(ctx: EmulatorContext, options: EmulatorResetOptions = {}): Promise<EmulatorResetResult> {
  const emit: Emit = (e) => options.onEvent?.(e);
  const signal = options.signal;
  throwIfAborted(signal);
  const status = await ctx.vm.status();
  const stoppedFirst = status.state !== "stopped" && status.state !== "crashed";
  if (status.state !== "stopped") {
    // The disk is discarded or reverted: no need for the guest to shut down.
    emit({ type: "stage-start", stage: "stop", label: "stopping the emulator" });
    const stopped = await ctx.vm.stop({ graceMs: 0, ...vmEvents(emit), ...(signal ? { signal } : {}) });
    emit({ type: "stage-end", stage: "stop", durationMs: stopped.elapsedMs, detail: stopped.how });
  }
  await stopFileBridge(ctx, emit);
  const record = await readSnapshotRecord(ctx.recordFile);
  const overlayExists = await exists(ctx.paths.overlay);
  if (!overlayExists) {
    await writeSnapshotRecord(ctx.recordFile, {
      ...EMPTY_SNAPSHOT_RECORD,
      lastStop: { kind: "reset", at: new Date().toISOString() },
    });
    return { mode: "nothing", stoppedFirst, reason: "there was no data disk" };
  }
  let hardReason = "reset --hard: the data disk was deleted; the next start is a cold boot";
  if (options.hard !== true) {
    const present = (await ctx.img.snapshotList(ctx.paths.overlay)).map((x) => x.name);
    if (record.snapshots.fresh !== undefined && present.includes("fresh")) {
      await removeSuspendState(ctx.paths);
      await removeGuestMemory(ctx.paths); // the start copies fresh's memory in
      await writeSnapshotRecord(ctx.recordFile, {
        ...withoutSnapshot(record, "suspend"),
        resetPending: true,
        running: false,
        lastStop: { kind: "reset", at: new Date().toISOString() },
      });
      return { mode: "snapshot", stoppedFirst, reason: "the next start resumes the fresh snapshot" };
    }
    hardReason = "there is no fresh snapshot to revert to, so the data disk was deleted; the next start is a cold boot";
    emit({ type: "message", level: "warn", text: hardReason });
  }
  await rm(ctx.paths.overlay, { force: true });
  await rm(ctx.paths.uefiVars, { force: true });
  await removeSuspendState(ctx.paths);
  await removeGuestMemory(ctx.paths);
  await removeFreshState(ctx.paths);
  await writeSnapshotRecord(ctx.recordFile, {
    ...EMPTY_SNAPSHOT_RECORD,
    lastStop: { kind: "reset", at: new Date().toISOString() },
  });
  return { mode: "overlay-deleted", stoppedFirst, reason: hardReason };
}
