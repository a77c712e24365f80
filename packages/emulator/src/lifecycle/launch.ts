/**
 * Putting a planned machine on QEMU: the disk a cold plan asks for, the UEFI
 * files of a firmware-booting image, the machine's fingerprint, and the
 * `VmInstance` start itself (cold, or resuming `suspend` or `fresh`).
 */
import { mkdir, rm } from "node:fs/promises";
import { acceleratorFailureOf, vmFailedError } from "@hexclave/image-builder/accelerator-fallback";
import {
  type Accelerator,
  type Arch,
  assertCommandSucceeded,
  buildQemuArgs,
  execaRunner,
  type Firmware,
  findFirmware,
  HexclaveError,
  type InstanceVmSpec,
  instanceVmSpec,
  type ProcessIdentity,
} from "@hexclave/qemu-core";
import type { Emit, EmulatorContext, Env } from "../context.js";
import { exists } from "../internal/files.js";
import { computeFingerprint, type VmFingerprint } from "../machine/fingerprint.js";
import { suspendMemoryFile } from "../machine/guest-memory.js";
import type { InstalledImage } from "../store/installed-image.js";
import {
  EMPTY_SNAPSHOT_RECORD,
  type SnapshotName,
  type SnapshotRecord,
  withoutSnapshot,
  writeSnapshotRecord,
} from "../store/snapshot-record.js";
import { freshResume, removeFreshState } from "./fresh-state.js";
import { removeSuspendState } from "./save-state.js";
import type { ColdPlan } from "./start-plan.js";
import { vmEvents } from "./vm-events.js";

export interface Launched {
  readonly pid: number | null;
  /** When QEMU was spawned (qemu-core's `StartResult.spawnedAt`): the start's phases are timed from here. */
  readonly spawnedAt: number;
  /** The QEMU process, watched while the start waits (a stop by another command, or a crash, ends the wait). */
  readonly identity: ProcessIdentity | undefined;
}

export interface LaunchOptions {
  readonly spec: InstanceVmSpec;
  readonly image: InstalledImage;
  readonly fingerprint: VmFingerprint;
  /** The firmware of a firmware-booting image (its variables template). */
  readonly firmware: Firmware | undefined;
  /** The saved state to resume; undefined for a cold boot. */
  readonly resume: SnapshotName | undefined;
  /** The QEMU binary the accelerator probe found (and whose version the fingerprint holds): not looked up again. */
  readonly qemuBinary: string;
  readonly signal: AbortSignal | undefined;
  readonly emit: Emit;
}

/** UEFI firmware for firmware-booting images (its variables are made per instance at launch). */
export function prepareFirmware(arch: Arch, env: Env): Promise<Firmware> {
  return findFirmware(arch, { env });
}

export function fingerprintOf(
  ctx: EmulatorContext,
  spec: InstanceVmSpec,
  qemuVersion: string,
  baseSha256: string,
): VmFingerprint {
  // The spec VmInstance.start launches (overlay attached): the fingerprint describes what QEMU really runs.
  // Where the memory file lives (a tmpfs or the instance directory) does not change what a saved state fits: the
  // resume copies the saved memory into whichever file the spec names.
  const placed = spec.memoryFile === undefined ? spec : { ...spec, memoryFile: "/guest-memory" };
  const args = buildQemuArgs(instanceVmSpec(ctx.paths, placed, { instanceName: ctx.instanceName, overlay: true }));
  return computeFingerprint({
    args,
    accel: spec.accel,
    memoryMb: spec.memoryMb,
    cpus: spec.cpus,
    qemuVersion,
    baseImageSha256: baseSha256,
  });
}

export async function launch(ctx: EmulatorContext, o: LaunchOptions): Promise<Launched> {
  const { spec, image, fingerprint, resume, signal, emit } = o;
  emit({ type: "stage-start", stage: "qemu", label: resume ? `QEMU (resuming ${resume})` : "QEMU" });
  if (spec.firmware?.vars !== undefined) await ensureUefiVars(ctx, o.firmware, signal);
  const began = Date.now();
  const result = await ctx.vm.start({
    spec,
    backingImage: { file: image.paths.image, format: "qcow2" },
    // `suspend` is a state file beside the overlay; `fresh` an internal snapshot of it.
    ...(resume === "suspend"
      ? {
          incomingStateFile: ctx.paths.suspendState,
          // The memory the stop copied out of the memory file goes back in (guest-memory.ts).
          ...(spec.memoryFile === undefined ? {} : { incomingMemoryImage: suspendMemoryFile(ctx.paths) }),
        }
      : {}),
    ...(resume === "fresh" ? await freshResume(ctx.vm, signal) : {}),
    fingerprint: fingerprint as unknown as Record<string, unknown>,
    qemuBinary: o.qemuBinary,
    ...vmEvents(emit),
    ...(signal ? { signal } : {}),
  });
  emit({ type: "stage-end", stage: "qemu", durationMs: Date.now() - began, detail: `pid ${result.pid}` });
  // Let other commands (status, stop) talk to QEMU while this start waits: QMP serves one client at a time.
  ctx.vm.close();
  // The phases "since QEMU's spawn" start at the spawn itself, after the memory copy and the disk's preparation.
  return { pid: result.pid, spawnedAt: result.spawnedAt, identity: result.record.identity };
}

/** This instance's UEFI variables as qcow2 (raw variables would block savevm), from the firmware's template. */
async function ensureUefiVars(
  ctx: EmulatorContext,
  firmware: Firmware | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (await exists(ctx.paths.uefiVars)) return;
  await mkdir(ctx.paths.dir, { recursive: true });
  const template = firmware?.varsTemplate;
  if (template !== undefined) {
    await ctx.img.convert({
      src: template,
      dst: ctx.paths.uefiVars,
      srcFormat: "raw",
      dstFormat: "qcow2",
      ...(signal ? { signal } : {}),
    });
  } else {
    await ctx.img.create({ file: ctx.paths.uefiVars, format: "qcow2", size: "64M", ...(signal ? { signal } : {}) });
  }
}

/** Applies a cold plan to the disk: new overlay, revert to a snapshot's disk, drop stale snapshots. */
export async function prepareColdDisk(
  ctx: EmulatorContext,
  plan: ColdPlan,
  record: SnapshotRecord,
  baseSha256: string,
): Promise<SnapshotRecord> {
  let next = record;
  if (plan.newOverlay) {
    await rm(ctx.paths.overlay, { force: true });
    await rm(ctx.paths.uefiVars, { force: true });
    await removeSuspendState(ctx.paths);
    await removeFreshState(ctx.paths);
    next = {
      ...EMPTY_SNAPSHOT_RECORD,
      ...(record.lastStop ? { lastStop: record.lastStop } : {}),
      running: record.running,
      overlayBaseSha256: baseSha256,
    };
  } else {
    if (plan.revertDiskTo !== undefined) {
      const args = ["snapshot", "-a", plan.revertDiskTo, ctx.paths.overlay];
      assertCommandSucceeded("qemu-img", args, await execaRunner("qemu-img", args));
    }
    const present = (await ctx.img.snapshotList(ctx.paths.overlay)).map((x) => x.name);
    for (const name of plan.drop) {
      if (name !== "suspend" && present.includes(name)) await ctx.img.snapshotDelete(ctx.paths.overlay, name);
      next = withoutSnapshot(next, name);
    }
    // A suspend that this start does not resume is stale from here on: never resume it later.
    await removeSuspendState(ctx.paths);
    next = withoutSnapshot(next, "suspend");
  }
  await writeSnapshotRecord(ctx.recordFile, next);
  return next;
}

/** A QEMU start that failed with an accelerator error in its output becomes `EMULATOR_VM_FAILED` naming `accel`. */
export function withAccel(error: unknown, accel: Accelerator): unknown {
  const info = acceleratorFailureOf(error, accel);
  if (info === undefined) return error;
  if (HexclaveError.is(error) && error.code === "EMULATOR_VM_FAILED") return error;
  return vmFailedError("QEMU could not start the VM", info);
}
