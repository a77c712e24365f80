/**
 * `stop`: suspend the VM (flush, save its state, quit QEMU), else power it
 * off; then stop its file bridge process and write the `--config-file` back,
 * after QEMU quit, so the guest's last version is in. A conflict is a
 * warning event and `configFile` in the result.
 */
import type { Accelerator } from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import { abortError, aborted, throwIfAborted } from "../internal/abort.js";
import { errorText } from "../internal/error-text.js";
import { removeGuestMemory } from "../machine/guest-memory.js";
import { EMULATOR_NO_SNAPSHOT_ENV, envTruthy } from "../settings/runtime-settings.js";
import { readSnapshotRecord, updateSnapshotRecord, withoutSnapshot } from "../store/snapshot-record.js";
import type { EmulatorStopOptions, EmulatorStopResult } from "../types.js";
import { stopFileBridge } from "./bridge-session.js";
import { removeSuspendState, saveSuspend } from "./save-state.js";
import { vmEvents } from "./vm-events.js";

/**
 * How long a clean power-off may take, once the guest agent took the shutdown, before QEMU is quit (a guest without
 * an agent that ignores the power button still gets qemu-core's 30 s). The guest stops the Hexclave container (its own stop grace
 * is 25 s), then Docker and systemd: under TCG on a loaded host that took longer than qemu-core's 30 s default (seen:
 * 30.1 s, then quit), and a quit loses what the services had not yet written. Under a hardware accelerator the
 * default holds. Pure.
 */
export const POWEROFF_GRACE_MS = { tcg: 90_000, hardware: 30_000 } as const;

export function powerOffGraceMs(accel: Accelerator | undefined): number {
  return accel === "tcg" || accel === undefined ? POWEROFF_GRACE_MS.tcg : POWEROFF_GRACE_MS.hardware;
}

export async function stop(ctx: EmulatorContext, options: EmulatorStopOptions = {}): Promise<EmulatorStopResult> {
  const result = await stopVm(ctx, options);
  const configFile = await stopFileBridge(ctx, (e) => options.onEvent?.(e));
  return { ...result, ...(configFile === undefined ? {} : { configFile }), durationMs: result.durationMs };
}

async function stopVm(ctx: EmulatorContext, options: EmulatorStopOptions): Promise<EmulatorStopResult> {
  const began = Date.now();
  const emit: Emit = (e) => options.onEvent?.(e);
  const signal = options.signal;
  throwIfAborted(signal);
  const noSnapshot = options.noSnapshot === true || envTruthy(ctx.env[EMULATOR_NO_SNAPSHOT_ENV]);
  const status = await ctx.vm.status();
  if (status.state === "stopped" || status.state === "crashed") {
    if (status.state === "crashed") {
      await ctx.vm.stop({ ...vmEvents(emit), ...(signal ? { signal } : {}) });
      // A QEMU that died leaves its memory file (in /dev/shm, RAM the host would not get back until the next start).
      await removeGuestMemory(ctx.paths);
    }
    return { wasRunning: false, suspended: false, method: "none", durationMs: Date.now() - began };
  }
  const record = await readSnapshotRecord(ctx.recordFile);
  let reason: string | undefined;
  let notSaved: string | undefined;
  if (status.state === "broken") {
    notSaved = `the VM is in an error state (${status.failure?.message ?? "unknown"}): stopped without saving its state`;
  } else if (record.healthySinceStart === false) {
    notSaved = "the VM did not reach healthy since its last start: stopped without saving its state";
  }
  if (notSaved !== undefined && !noSnapshot) {
    emit({ type: "message", level: "warn", text: `Not suspending: ${notSaved}` });
    reason = notSaved;
  } else if (!noSnapshot) {
    if (record.current === undefined) {
      reason = "this run has no recorded machine to save";
    } else {
      try {
        await saveSuspend(ctx, record.current, signal, emit);
        emit({ type: "stage-start", stage: "stop", label: "quitting QEMU" });
        const stopped = await ctx.vm.stop({ graceMs: 0, ...vmEvents(emit), ...(signal ? { signal } : {}) });
        emit({ type: "stage-end", stage: "stop", durationMs: stopped.elapsedMs, detail: stopped.how });
        // The suspend has its copy of the guest's memory (suspend.ram): the RAM QEMU ran with goes back to the host.
        await removeGuestMemory(ctx.paths);
        await updateSnapshotRecord(ctx.recordFile, (r) => ({
          ...r,
          running: false,
          lastStop: { kind: "suspend", at: new Date().toISOString() },
        }));
        return { wasRunning: true, suspended: true, method: "suspend", durationMs: Date.now() - began };
      } catch (error) {
        if (aborted(signal)) throw abortError(signal);
        reason = `saving the state failed: ${errorText(error)}`;
        emit({ type: "message", level: "warn", text: `Could not suspend (${reason}); powering off instead` });
        await updateSnapshotRecord(ctx.recordFile, (r) => withoutSnapshot(r, "suspend"));
        await removeSuspendState(ctx.paths);
      }
    }
  }
  emit({ type: "stage-start", stage: "stop", label: "powering off" });
  // VmInstance.stop asks the guest agent to shut the guest down beside the power button (which a minimal guest
  // ignores), so the services stop cleanly instead of QEMU being quit after the grace period. A broken VM cannot
  // shut down: QEMU is quit at once.
  const stopped = await ctx.vm.stop({
    ...(status.state === "broken" ? { graceMs: 0 } : { agentGraceMs: powerOffGraceMs(record.current?.spec.accel) }),
    ...vmEvents(emit),
    ...(signal ? { signal } : {}),
  });
  emit({ type: "stage-end", stage: "stop", durationMs: stopped.elapsedMs, detail: stopped.how });
  // No suspend refers to the guest's memory: give it back.
  await removeGuestMemory(ctx.paths);
  await updateSnapshotRecord(ctx.recordFile, (r) => ({
    ...withoutSnapshot(r, "suspend"),
    running: false,
    lastStop: {
      kind: reason === undefined || notSaved !== undefined ? "poweroff" : "suspend-failed",
      at: new Date().toISOString(),
      ...(reason !== undefined ? { detail: reason } : {}),
    },
  }));
  return {
    wasRunning: true,
    suspended: false,
    method: stopped.how,
    ...(reason !== undefined ? { reason } : {}),
    durationMs: Date.now() - began,
  };
}
