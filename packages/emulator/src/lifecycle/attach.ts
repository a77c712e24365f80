/** A start that finds the VM already running: check its services, and wait for them when they are not all up. */
import { type Accelerator, type InstanceVmSpec, readProcessIdentity } from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import { checkServicesOnce, type ServiceEndpoint } from "../inspect/service-health.js";
import { tailLines } from "../internal/files.js";
import type { ResolvedSettings } from "../settings/runtime-settings.js";
import { type SnapshotRecord, updateSnapshotRecord } from "../store/snapshot-record.js";
import type { EmulatorStartOptions, EmulatorStartResult } from "../types.js";
import { readinessTimeoutMs, SERIAL_TAIL_LINES, waitForServices } from "./wait-ready.js";

export interface AttachOptions {
  /** The running machine's recorded spec. */
  readonly spec: InstanceVmSpec | undefined;
  readonly pid: number | undefined;
  readonly endpoints: readonly ServiceEndpoint[];
  readonly record: SnapshotRecord;
  readonly s: ResolvedSettings;
  readonly options: EmulatorStartOptions;
  readonly began: number;
}

export async function attachToRunning(ctx: EmulatorContext, o: AttachOptions): Promise<EmulatorStartResult> {
  const { spec, pid, endpoints, record, s, options, began } = o;
  const emit: Emit = (e) => options.onEvent?.(e);
  const accel: Accelerator = spec?.accel ?? record.lastStart?.accel ?? "tcg";
  const base = {
    alreadyRunning: true,
    bootKind: "none" as const,
    reason: "the emulator is already running",
    accel,
    accelReason: record.lastStart?.accelReason ?? "",
    arch: spec?.arch ?? s.arch,
    cpus: spec?.cpus ?? s.cpus,
    memoryMb: spec?.memoryMb ?? s.memoryMb,
    phases: {},
    serialTail: [] as string[],
    stoppedAfterFailure: false,
  };
  const checks = await checkServicesOnce(endpoints, options.signal ? { signal: options.signal } : {});
  if (checks.every((c) => c.up)) {
    await updateSnapshotRecord(ctx.recordFile, (r) => ({ ...r, healthySinceStart: true }));
    emit({ type: "message", level: "info", text: "The emulator is already running and healthy." });
    return { ...base, ready: true, durationMs: Date.now() - began, services: checks, failing: [] };
  }
  emit({ type: "message", level: "info", text: "The emulator is already running; waiting for its services." });
  const ready = await waitForServices(ctx, {
    endpoints,
    timeoutMs: readinessTimeoutMs(options.timeoutMs, accel),
    spawnedAt: began,
    began,
    phases: {},
    signal: options.signal,
    emit,
    watchGuest: false,
    guestBoot: "attached",
    qemu: pid === undefined ? undefined : await readProcessIdentity(pid),
  });
  return {
    ...base,
    ready: ready.ready,
    durationMs: Date.now() - began,
    services: ready.services,
    failing: ready.services.filter((x) => !x.up).map((x) => x.name),
    serialTail: ready.ready ? [] : await tailLines(ctx.paths.serialLog, SERIAL_TAIL_LINES),
  };
}
