/**
 * A launched start, from QEMU up to ready (or not): record the run, fix up a
 * resumed guest, wait for the services, save `fresh` after the first healthy
 * cold boot; all while QEMU's run state is watched.
 */
import { vmFailedError } from "@hexclave/image-builder/accelerator-fallback";
import {
  type Accelerator,
  acceleratorErrorInOutput,
  exitedFailure,
  HexclaveError,
  type InstanceVmSpec,
  type ReadinessProbe,
} from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import type { ServiceEndpoint } from "../inspect/service-health.js";
import { abortError, aborted } from "../internal/abort.js";
import { purgeDiscarded } from "../internal/discard-file.js";
import { errorText } from "../internal/error-text.js";
import { tailLines } from "../internal/files.js";
import type { VmFingerprint } from "../machine/fingerprint.js";
import type { ResolvedSettings } from "../settings/runtime-settings.js";
import {
  type BootKind,
  type LastStart,
  type SnapshotName,
  updateSnapshotRecord,
  withoutSnapshot,
} from "../store/snapshot-record.js";
import type { EmulatorStartOptions, EmulatorStartResult } from "../types.js";
import type { Launched } from "./launch.js";
import { afterResume, linkBounceReason, runtimeEnvNeedsRefresh } from "./resume-fixup.js";
import { removeSuspendState, saveWithFlush } from "./save-state.js";
import type { StartPlan } from "./start-plan.js";
import { vmEvents } from "./vm-events.js";
import { SERIAL_TAIL_LINES, waitForServices } from "./wait-ready.js";

/** The least time the services get to answer again after `fresh` was saved. */
const RECHECK_MIN_TIMEOUT_MS = 60_000;
/** How often a start polls QEMU's run state and output (qemu.log) for a failure. */
const RUN_STATE_POLL_MS = 1000;

/** What a launched start carries from QEMU up to ready (or not). */
export interface LaunchContext {
  readonly launched: Launched;
  readonly plan: StartPlan;
  readonly runSpec: InstanceVmSpec;
  readonly fingerprint: VmFingerprint;
  readonly probe: { accel: Accelerator; reason: string };
  readonly endpoints: readonly ServiceEndpoint[];
  /** The endpoints' probes, made ahead of the launch (start.ts). */
  readonly probes: Promise<readonly ReadinessProbe[]>;
  readonly timeoutMs: number;
  readonly s: ResolvedSettings;
  readonly options: EmulatorStartOptions;
  readonly began: number;
  /** sha256 of this start's runtime environment (the fw_cfg file QEMU reads). */
  readonly runtimeEnvSha256: string;
}

/**
 * {@link afterLaunchUnwatched} while QEMU's run state, output and process are
 * watched: a VM that QEMU stops in an error state ends the start within
 * seconds (the VM is stopped without saving) with `EMULATOR_VM_FAILED`,
 * carrying QEMU's words, instead of waiting for the readiness deadline.
 */
export async function afterLaunch(ctx: EmulatorContext, launch: LaunchContext): Promise<EmulatorStartResult> {
  const { launched, probe, options } = launch;
  const failed = new AbortController();
  const watch = ctx.vm.watch({ pollMs: RUN_STATE_POLL_MS });
  void watch.failure.then((failure) => {
    if (failure === undefined) return;
    failed.abort(
      vmFailedError("The emulator VM stopped", {
        accel: probe.accel,
        failure,
        detectedAfterMs: Date.now() - launched.spawnedAt,
      }),
    );
  });
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  try {
    return await afterLaunchUnwatched(ctx, { ...launch, options: { ...options, signal } });
  } catch (error) {
    if (!failed.signal.aborted || aborted(options.signal)) {
      // QEMU that exited with an accelerator report in its output: the accelerator's failure (fallback applies).
      if (HexclaveError.is(error) && error.code === "EMULATOR_EXITED_DURING_START") {
        const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
        if (acceleratorErrorInOutput(stderr) !== undefined && probe.accel !== "tcg") {
          throw vmFailedError("QEMU exited", {
            accel: probe.accel,
            failure: exitedFailure(stderr),
            detectedAfterMs: Date.now() - launched.spawnedAt,
          });
        }
      }
      throw error;
    }
    const failure = failed.signal.reason as HexclaveError;
    options.onEvent?.({ type: "message", level: "warn", text: `${failure.message}; stopping it without saving` });
    await ctx.vm.stop({ graceMs: 0 }).catch(() => undefined);
    await updateSnapshotRecord(ctx.recordFile, (r) => ({
      ...r,
      running: false,
      lastStop: { kind: "poweroff", at: new Date().toISOString(), detail: `stopped by start: ${failure.message}` },
    }));
    throw failure;
  } finally {
    watch.stop();
    // The consumed suspend's memory copy was only set aside: its removal starts now, off the resumed guest's way.
    await purgeDiscarded(ctx.paths.dir).catch(() => {});
  }
}

/** From QEMU up to ready (or not): record the run, fix up a resumed guest, wait for the services, save `fresh`. */
async function afterLaunchUnwatched(ctx: EmulatorContext, launch: LaunchContext): Promise<EmulatorStartResult> {
  const { launched, plan, runSpec, fingerprint, probe, endpoints, timeoutMs, s, options, began, runtimeEnvSha256 } =
    launch;
  const emit: Emit = (e) => options.onEvent?.(e);
  const signal = options.signal;
  const bootKind: BootKind = plan.kind;
  const snapshot = plan.kind === "resume" ? plan.snapshot : undefined;
  const lastStart: LastStart = {
    kind: bootKind,
    reason: plan.reason,
    ...(snapshot !== undefined ? { snapshot } : {}),
    at: new Date().toISOString(),
    accel: probe.accel,
    accelReason: probe.reason,
  };
  const phases: Record<string, number> = { "qemu-up": Date.now() - launched.spawnedAt };
  emit({ type: "qemu-up", pid: launched.pid, elapsedMs: Date.now() - began });

  // The run's record, written while the guest's fix-ups are already on their way (below: they wait on the guest, not
  // on this). Consumed: the disk moves on from here, so the state must never be resumed again. The device state goes
  // at once (without it nothing resumes); its memory copy, written by the stop moments ago, is set aside, and removed
  // once the start is done (afterLaunch): unlinking it here held the start for 0.2-2.4 s, and removing it in the
  // background beside the waking guest made the services answer about 90 ms later (internal/discard-file.ts).
  const recorded = (async () => {
    await updateSnapshotRecord(ctx.recordFile, (r) => {
      // A resumed `suspend` is consumed: resuming it again after a crash would lose everything written since.
      const base = snapshot === "suspend" ? withoutSnapshot(r, "suspend") : r;
      return {
        ...base,
        running: true,
        resetPending: false,
        // A cold boot's guest reads this start's environment as it boots; a resumed one has the saved run's until
        // its refresh (below).
        current: { spec: runSpec, fingerprint, ...(bootKind === "cold" ? { runtimeEnvSha256 } : {}) },
        lastStart,
        healthySinceStart: false,
      };
    });
    if (snapshot === "suspend") {
      await removeSuspendState(ctx.paths, { purge: false });
      emit({ type: "snapshot-deleted", name: "suspend" });
    }
  })();
  recorded.catch(() => {}); // awaited below; this only keeps a failure from being unhandled meanwhile

  let fixups: Promise<void> | undefined;
  // A new runtime environment restarts the guest's container: its services are probed once that is done. Otherwise
  // the probes run while the fix-ups do (a probe caught by a link bounce is retried), and the start is ready when
  // both are done.
  let probeAfterFixups = false;
  if (plan.kind === "resume") {
    const { saved } = plan;
    const digests = { runtimeEnvSha256, savedRuntimeEnvSha256: saved.runtimeEnvSha256 };
    probeAfterFixups = runtimeEnvNeedsRefresh(digests);
    fixups = (async () => {
      const bounce = linkBounceReason(saved.spec.network, runSpec.network);
      const envCurrent = await afterResume(ctx, signal, emit, digests, bounce);
      await recorded;
      if (envCurrent) {
        await updateSnapshotRecord(ctx.recordFile, (r) =>
          r.current === undefined ? r : { ...r, current: { ...r.current, runtimeEnvSha256 } },
        );
      }
      phases["guest-booted"] = Date.now() - launched.spawnedAt;
      emit({ type: "guest-booted", elapsedMs: Date.now() - began });
    })();
    fixups.catch(() => {}); // awaited below; this only keeps a failure from being unhandled meanwhile
  }
  await recorded;
  if (probeAfterFixups) await fixups;

  const guestBoot = runSpec.kernelBoot === undefined ? "firmware" : "kernel";
  const probes = await launch.probes;
  let ready = await waitForServices(ctx, {
    endpoints,
    probes,
    timeoutMs,
    spawnedAt: launched.spawnedAt,
    began,
    phases,
    signal,
    emit,
    watchGuest: bootKind === "cold",
    qemu: launched.identity,
    guestBoot,
  });
  await fixups;
  let savedSnapshot: SnapshotName | undefined;
  let stoppedAfterFailure = false;
  let serialTail: string[] = [];
  if (ready.ready) {
    phases["all-healthy"] = Date.now() - launched.spawnedAt;
    emit({ type: "ready", elapsedMs: Date.now() - began });
    if (plan.kind === "cold" && plan.saveFreshWhenHealthy && !s.noSnapshot) {
      try {
        await saveWithFlush(ctx, "fresh", { spec: runSpec, fingerprint, runtimeEnvSha256 }, signal, emit);
        savedSnapshot = "fresh";
      } catch (error) {
        if (aborted(signal)) throw abortError(signal);
        emit({
          type: "message",
          level: "warn",
          text: `Could not save the fresh snapshot (reset will recreate the disk instead): ${errorText(error)}`,
        });
      }
      // The save paused the guest and dropped its page cache: its services read their files back and answer slowly
      // for a moment (a `status` right after such a start found the backend not answering within 2 s). The start
      // says healthy only once they answer again; a service that is up is not announced twice.
      ready = await waitForServices(ctx, {
        endpoints,
        probes,
        timeoutMs: Math.max(RECHECK_MIN_TIMEOUT_MS, timeoutMs - (Date.now() - began)),
        spawnedAt: launched.spawnedAt,
        began,
        phases: {},
        signal,
        emit: (e) => {
          if (!(e.type === "service-health" && e.up)) emit(e);
        },
        watchGuest: false,
        qemu: launched.identity,
        guestBoot,
        label: "services after the save",
      });
    }
  }
  if (ready.ready) {
    await updateSnapshotRecord(ctx.recordFile, (r) => ({ ...r, healthySinceStart: true }));
  } else {
    serialTail = await tailLines(ctx.paths.serialLog, SERIAL_TAIL_LINES);
    if (options.stopOnFailure === true) {
      await ctx.vm.stop({ ...vmEvents(emit), ...(signal ? { signal } : {}) });
      await updateSnapshotRecord(ctx.recordFile, (r) => ({
        ...r,
        running: false,
        lastStop: { kind: "poweroff", at: new Date().toISOString(), detail: "stopped after a readiness failure" },
      }));
      stoppedAfterFailure = true;
    }
  }
  return {
    alreadyRunning: false,
    ready: ready.ready,
    bootKind,
    reason: plan.reason,
    ...(snapshot !== undefined ? { snapshot } : {}),
    accel: probe.accel,
    accelReason: probe.reason,
    arch: s.arch,
    cpus: runSpec.cpus,
    memoryMb: runSpec.memoryMb,
    durationMs: Date.now() - began,
    phases,
    services: ready.services,
    failing: ready.services.filter((x) => !x.up).map((x) => x.name),
    serialTail,
    stoppedAfterFailure,
    ...(savedSnapshot !== undefined ? { savedSnapshot } : {}),
  };
}
