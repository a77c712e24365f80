/**
 * `start`: under the start lock, attach to a running VM or plan the boot
 * (resume `suspend`/`fresh`, or cold), launch QEMU, and wait for ready; a
 * hardware accelerator that fails the guest gives one more start under tcg.
 */
import {
  acceleratorFailureOf,
  forcedAcceleratorFailed,
  verdictWords,
} from "@hexclave/image-builder/accelerator-fallback";
import { startTimeoutFactor } from "@hexclave/image-builder/image";
import {
  type Accelerator,
  acquireInstanceLock,
  chooseAccelerator,
  detectHost,
  type Firmware,
  HexclaveError,
  type InstanceLock,
  type InstanceVmSpec,
  type QemuErrorCode,
  type ReadinessProbe,
  recordAcceleratorFailure,
} from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import { emulatorErrors, isCataloguedError } from "../errors-data.js";
import { serviceEndpoints, serviceProbes } from "../inspect/service-health.js";
import { abortError, aborted, throwIfAborted } from "../internal/abort.js";
import { errorText } from "../internal/error-text.js";
import { exists } from "../internal/files.js";
import { imagePaths } from "../layout.js";
import { chooseMemoryPlacement, guestMemoryFile, readTmpfs } from "../machine/guest-memory.js";
import { guestNetworkOf, writeGuestConnector } from "../machine/guest-network.js";
import { buildEmulatorVmSpec, withHostPorts } from "../machine/vm-spec.js";
import { hostPortsFor, type ResolvedSettings, resolveRuntimeSettings } from "../settings/runtime-settings.js";
import { type InstalledImage, readInstalledImage } from "../store/installed-image.js";
import { readSnapshotRecord, updateSnapshotRecord } from "../store/snapshot-record.js";
import type { EmulatorStartOptions, EmulatorStartResult } from "../types.js";
import { afterLaunch } from "./after-launch.js";
import { attachToRunning } from "./attach.js";
import { bridgeInfoOf, describeConfigWriteBack, launchFileBridge, stopFileBridge } from "./bridge-session.js";
import { fingerprintOf, type Launched, launch, prepareColdDisk, prepareFirmware, withAccel } from "./launch.js";
import { prepareRuntimeEnv } from "./runtime-env-start.js";
import { presentSnapshots } from "./save-state.js";
import { decideStartPlan, overlayBaseMismatch, planAfterFailedResume, type StartPlan } from "./start-plan.js";
import { vmEvents } from "./vm-events.js";
import { readinessTimeoutMs } from "./wait-ready.js";

/** Errors of a start that a cold boot would meet too: raised, not turned into a fallback. */
const NOT_RESUME_FAILURES: ReadonlySet<string> = new Set<QemuErrorCode>([
  "PORT_IN_USE",
  "INSTANCE_LOCKED",
  "INSTANCE_ALREADY_RUNNING",
  "QEMU_NOT_FOUND",
  "QEMU_TOO_OLD",
  "ABORTED",
]);

export async function start(ctx: EmulatorContext, options: EmulatorStartOptions = {}): Promise<EmulatorStartResult> {
  const began = Date.now();
  throwIfAborted(options.signal);
  const s = resolveRuntimeSettings(ctx.env, options);
  const image = await readInstalledImage(imagePaths(ctx.home, s.arch), s.arch);
  const lock = await acquireStartLock(ctx);
  try {
    try {
      return await startLocked(ctx, options, s, image, began);
    } catch (error) {
      const choice = options.accel ?? "auto";
      const accel = HexclaveError.is(error) ? (error.details.accel as Accelerator | undefined) : undefined;
      const info = accel === undefined ? undefined : acceleratorFailureOf(error, accel);
      if (info === undefined || aborted(options.signal)) throw error;
      if (choice !== "auto") throw forcedAcceleratorFailed(info, choice);
      return await fallBackToTcg(ctx, info, options, s, image, began);
    }
  } finally {
    await lock.release();
  }
}

/** The accelerator failed the guest: cache the verdict, say so, and start again (now under tcg). */
async function fallBackToTcg(
  ctx: EmulatorContext,
  info: { accel: Accelerator; failure: { message: string }; detectedAfterMs: number },
  options: EmulatorStartOptions,
  s: ResolvedSettings,
  image: InstalledImage,
  began: number,
): Promise<EmulatorStartResult> {
  const seenAt = Date.now();
  const words = verdictWords(info as Parameters<typeof verdictWords>[0]);
  await recordAcceleratorFailure({
    arch: s.arch,
    accel: info.accel,
    reason: words,
    env: ctx.env,
    cacheDir: ctx.probeCacheDir,
    ...(ctx.kvmDevice === undefined ? {} : { kvmDevice: ctx.kvmDevice }),
  });
  options.onEvent?.({
    type: "accelerator-fallback",
    from: info.accel,
    to: "tcg",
    reason: info.failure.message,
    detectedAfterMs: info.detectedAfterMs,
  });
  let relaunchedAt: number | undefined;
  const result = await startLocked(
    ctx,
    {
      ...options,
      onEvent: (e) => {
        if (e.type === "stage-start" && e.stage === "qemu") relaunchedAt ??= Date.now();
        options.onEvent?.(e);
      },
    },
    s,
    image,
    began,
  );
  return {
    ...result,
    acceleratorFallback: {
      from: info.accel,
      reason: info.failure.message,
      detectedAfterMs: info.detectedAfterMs,
      relaunchAfterMs: (relaunchedAt ?? Date.now()) - seenAt,
    },
  };
}

/** The start lock, or `EMULATOR_START_IN_PROGRESS` naming the other start's pid and command. */
async function acquireStartLock(ctx: EmulatorContext): Promise<InstanceLock> {
  try {
    return await acquireInstanceLock(ctx.startLockFile, { purpose: "emulator-start" });
  } catch (error) {
    if (!(HexclaveError.is(error) && error.code === "INSTANCE_LOCKED")) throw error;
    const pid = error.details.pid;
    const command = typeof error.details.command === "string" ? error.details.command : "unknown command";
    throw emulatorErrors.create(
      "EMULATOR_START_IN_PROGRESS",
      `Another start of this emulator is in progress (pid ${String(pid)}: ${command}); a second start would race it`,
      { cause: error, details: { pid, command, lock: ctx.startLockFile } },
    );
  }
}

async function startLocked(
  ctx: EmulatorContext,
  options: EmulatorStartOptions,
  s: ResolvedSettings,
  image: InstalledImage,
  began: number,
): Promise<EmulatorStartResult> {
  const emit: Emit = (e) => options.onEvent?.(e);
  const signal = options.signal;
  const hostPorts = hostPortsFor(ctx.env, image.manifest, s.ports);
  const endpoints = serviceEndpoints(image.manifest.services, hostPorts);
  let record = await readSnapshotRecord(ctx.recordFile);

  let current = await ctx.vm.status();
  if (current.state === "broken") {
    emit({
      type: "message",
      level: "warn",
      text: `The VM is in an error state (${current.failure?.message ?? "unknown"}): stopping it without saving, then starting again`,
    });
    await ctx.vm.stop({ graceMs: 0, ...vmEvents(emit), ...(signal ? { signal } : {}) });
    await updateSnapshotRecord(ctx.recordFile, (r) => ({
      ...r,
      running: false,
      lastStop: { kind: "poweroff", at: new Date().toISOString(), detail: "stopped by start: the VM was broken" },
    }));
    current = await ctx.vm.status();
  }
  if (current.state === "running" || current.state === "starting" || current.state === "paused") {
    return attachToRunning(ctx, { spec: current.record?.spec, pid: current.pid, endpoints, record, s, options, began });
  }

  // The deeper probe boots the image's own kernel under a hardware accelerator that ran the tiny guest.
  const probe = await chooseAccelerator({
    arch: s.arch,
    signal,
    env: ctx.env,
    cacheDir: ctx.probeCacheDir,
    choice: options.accel ?? "auto",
    ...(ctx.kvmDevice === undefined ? {} : { kvmDevice: ctx.kvmDevice }),
    ...(image.manifest.boot.kind === "kernel" ? { linuxKernel: image.paths.kernel } : {}),
  });
  emit({ type: "accelerator", accel: probe.accel, reason: probe.reason });
  // A guest of another arch (arm64 on an amd64 host) runs about three times slower under TCG: its readiness deadline
  // and the guest supervisor's start deadlines grow by the same factor.
  const timeoutFactor = startTimeoutFactor(s.arch, detectHost().arch);
  const timeoutMs = readinessTimeoutMs(options.timeoutMs, probe.accel, timeoutFactor);

  const firmware: Firmware | undefined =
    image.manifest.boot.kind === "firmware" ? await prepareFirmware(s.arch, ctx.env) : undefined;
  const memory = chooseMemoryPlacement(await readTmpfs(), s.memoryMb);
  if (memory.kind === "instance") {
    emit({
      type: "message",
      level: "info",
      text: `The guest's memory is a file in ${ctx.paths.dir} (not in RAM-backed /dev/shm): ${memory.reason}`,
    });
  }
  const spec = buildEmulatorVmSpec({
    ...(firmware !== undefined ? { firmwareCode: firmware.code } : {}),
    memoryFile: guestMemoryFile(ctx.paths, memory),
    manifest: image.manifest,
    image: image.paths,
    instance: ctx.paths,
    instanceName: ctx.instanceName,
    accel: probe.accel,
    cpus: s.cpus,
    memoryMb: s.memoryMb,
    ports: hostPorts,
    ...(options.guestNetwork === undefined ? {} : { guestNetwork: options.guestNetwork }),
  });
  const fingerprint = fingerprintOf(ctx, spec, probe.qemuVersion, image.manifest.image.sha256);

  const overlayExists = await exists(ctx.paths.overlay);
  const baseChanged = overlayBaseMismatch({ overlayExists, record, fingerprint });
  if (baseChanged !== undefined) {
    throw emulatorErrors.create("EMULATOR_BASE_CHANGED", `Cannot start: ${baseChanged}.`, {
      details: { overlay: ctx.paths.overlay, image: image.paths.image },
    });
  }
  const present = overlayExists ? await presentSnapshots(ctx) : [];
  let plan: StartPlan = decideStartPlan({
    noSnapshot: s.noSnapshot,
    overlayExists,
    record,
    presentSnapshots: present,
    fingerprint,
  });

  // The runtime environment for this start's host ports and the install's secrets (issue 13), cold or resume.
  const runtimeEnv = await prepareRuntimeEnv({
    home: ctx.home,
    instanceDir: ctx.paths.dir,
    ports: hostPorts,
    startTimeoutFactor: timeoutFactor,
  });
  if (runtimeEnv.secretsCreated) {
    emit({ type: "message", level: "info", text: `Made this install's secrets in ${runtimeEnv.secretsFile}` });
  }
  // The file bridge's socket listens and its fw_cfg file is written before QEMU reads it, cold or resume (a new port
  // and token every start); its process comes up while QEMU loads, and is awaited once QEMU runs.
  const launchedBridge = await launchFileBridge(ctx, options.fileBridge, signal, emit);
  let bridge = launchedBridge.info;
  let bridgeInUse = false;
  let bridgeAwaited = false;
  try {
    // The readiness probes load node:http (30-50 ms of CPU on this project's 2-core hosts): made on the next turn,
    // while the launch waits on its files and the memory copy, not beside the guest QEMU has just resumed.
    const probes: Promise<readonly ReadinessProbe[]> = new Promise((resolve) => setImmediate(resolve)).then(() =>
      serviceProbes(endpoints),
    );
    probes.catch(() => {}); // awaited by afterLaunch; this only keeps a failure from being unhandled until then
    // The connector QEMU runs per guest-forwarded connection (the bridge, --guest-reach ports), for this Node.
    await writeGuestConnector(ctx.paths.dir);
    let launched: Launched | undefined;
    let runSpec: InstanceVmSpec = spec;
    const launchWith = { image, fingerprint, firmware, signal, emit, qemuBinary: probe.qemuBinary };
    if (plan.kind === "resume") {
      emit({ type: "boot-mode", mode: "resume", reason: plan.reason, snapshot: plan.snapshot });
      runSpec = withHostPorts(plan.saved.spec, spec);
      try {
        launched = await launch(ctx, { ...launchWith, spec: runSpec, resume: plan.snapshot });
      } catch (error) {
        if (aborted(signal)) throw abortError(signal);
        if (isCataloguedError(error) || (HexclaveError.is(error) && NOT_RESUME_FAILURES.has(error.code))) throw error;
        // The accelerator failing the resumed guest is the accelerator's failure, not the saved state's.
        if (acceleratorFailureOf(error, probe.accel) !== undefined) throw withAccel(error, probe.accel);
        emit({ type: "resume-failed", snapshot: plan.snapshot, error: errorText(error) });
        plan = planAfterFailedResume(plan, errorText(error));
        runSpec = spec;
      }
    }
    if (plan.kind === "cold") {
      record = await prepareColdDisk(ctx, plan, record, image.manifest.image.sha256);
      emit({ type: "boot-mode", mode: "cold", reason: plan.reason });
      launched = await launch(ctx, { ...launchWith, spec, resume: undefined }).catch((error: unknown) => {
        throw withAccel(error, probe.accel);
      });
    }
    if (launched === undefined) throw new Error("unreachable: nothing launched");
    try {
      // Up by now in practice (a node start against QEMU's); a bridge that failed fails the start it belongs to.
      bridgeAwaited = true;
      bridge = await launchedBridge.ready.catch(async (error: unknown) => {
        await stopAfterFailure(ctx, emit, "The file bridge did not start");
        throw error;
      });
      const result = await afterLaunch(ctx, {
        launched,
        plan,
        runSpec,
        fingerprint,
        probe,
        endpoints,
        probes,
        timeoutMs,
        s,
        options,
        began,
        runtimeEnvSha256: runtimeEnv.sha256,
      });
      bridgeInUse = !result.stoppedAfterFailure;
      return {
        ...result,
        fileBridge: bridgeInfoOf(bridge),
        ...(runSpec.network === undefined ? {} : { guestNetwork: guestNetworkOf(runSpec.network) }),
        ...(bridge.previous?.configFile
          ? { previousConfigFile: describeConfigWriteBack(bridge.previous.configFile) }
          : {}),
      };
    } catch (error) {
      if (aborted(signal)) {
        await stopAfterFailure(ctx, emit, "Interrupted", "interrupted");
        throw abortError(signal);
      }
      throw error;
    }
  } finally {
    if (!bridgeAwaited) await launchedBridge.abandon();
    // A start that leaves no QEMU running leaves no bridge either (its config file is written back).
    if (!bridgeInUse && !(await qemuRunning(ctx))) await stopFileBridge(ctx, emit);
  }
}

/** True when this instance's QEMU runs (any run state). */
async function qemuRunning(ctx: EmulatorContext): Promise<boolean> {
  const state = (await ctx.vm.status().catch(() => undefined))?.state;
  ctx.vm.close();
  return state === "running" || state === "starting" || state === "paused" || state === "broken";
}

/**
 * A start interrupted (Ctrl-C), or whose file bridge failed, after QEMU was
 * launched stops that QEMU, so nothing is left running that the user did not
 * get: the disk is kept and the next start boots it cold, saying why.
 */
async function stopAfterFailure(
  ctx: EmulatorContext,
  emit: Emit,
  why: string,
  kind: "interrupted" | "poweroff" = "poweroff",
): Promise<void> {
  emit({
    type: "message",
    level: "warn",
    text: `${why}: stopping the VM this start launched (its disk is kept; the next start boots it cold)`,
  });
  const stopped = await ctx.vm.stop({ graceMs: 0 }).catch(() => undefined);
  await updateSnapshotRecord(ctx.recordFile, (r) => ({
    ...r,
    running: false,
    lastStop: {
      kind,
      at: new Date().toISOString(),
      detail: `start: ${why.toLowerCase()}; QEMU stopped (${stopped?.how ?? "not confirmed"})`,
    },
  }));
}
