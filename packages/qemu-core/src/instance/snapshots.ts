/**
 * Internal qcow2 snapshots of an instance: `saveSnapshot`/`deleteSnapshot`/
 * `listSnapshots` (QMP `snapshot-save`/`snapshot-delete` jobs over every
 * writable qcow2 drive when running, `qemu-img` on the drives when stopped),
 * and disk-only snapshots (`blockdev-snapshot-internal-sync`: the drives
 * without RAM, for a state kept in a file beside them). A state in a file of
 * its own (a migration stream) is state-file.ts.
 */
import { qemuErrors } from "../errors-data.js";
import { acquireInstanceLock } from "../instance-lock.js";
import { parseQemuImgInfo, type QemuImgSnapshot } from "../qemu-img-info.js";
import type { QmpClient } from "../qmp-client.js";
import type { DriveSpec } from "../vm-spec.js";
import { QMP_PROBE_TIMEOUT_MS } from "./connection.js";
import type { InstanceContext } from "./context.js";
import type { VmInstanceEvent } from "./events.js";
import { exists } from "./file-probes.js";
import { recordAndProcess } from "./process-control.js";
import type { InstanceRecord } from "./record.js";

export interface SnapshotOptions {
  /** Deadline for the snapshot job. Default 300000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: VmInstanceEvent) => void;
}

/**
 * Saves an internal snapshot `name` of the running (or paused) VM: RAM and
 * device state into the primary drive, disk state of every writable qcow2
 * drive (QMP `snapshot-save`). An existing snapshot of that name is
 * replaced. A writable non-qcow2 drive gives `SNAPSHOT_FAILED`.
 */
export async function saveSnapshot(ctx: InstanceContext, name: string, options: SnapshotOptions = {}): Promise<void> {
  validateSnapshotName(name);
  const lock = await acquireInstanceLock(ctx.paths.lock, { purpose: "snapshot" });
  try {
    const client = await runningClient(ctx);
    const { devices, vmstate } = await writableQcow2Nodes(client);
    const started = Date.now();
    const jobOpts = {
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    try {
      await client.snapshotDelete(name, { devices, ...jobOpts });
      await client.snapshotSave(name, { devices, vmstate, ...jobOpts });
    } catch (error) {
      throw wrapSnapshotError(error, `save snapshot "${name}"`);
    }
    options.onEvent?.({ type: "snapshot-saved", name, elapsedMs: Date.now() - started });
  } finally {
    await lock.release();
  }
}

/**
 * Deletes snapshot `name` from every writable qcow2 drive (QMP when running,
 * qemu-img when stopped). Resolves `false` when no drive had it.
 */
export async function deleteSnapshot(
  ctx: InstanceContext,
  name: string,
  options: SnapshotOptions = {},
): Promise<boolean> {
  validateSnapshotName(name);
  const lock = await acquireInstanceLock(ctx.paths.lock, { purpose: "snapshot" });
  try {
    const had = (await listSnapshots(ctx)).some((s) => s.name === name);
    if (!had) return false;
    const { record, own } = await recordAndProcess(ctx.paths);
    if (own) {
      const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      const { devices } = await writableQcow2Nodes(client);
      try {
        await client.snapshotDelete(name, {
          devices,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        throw wrapSnapshotError(error, `delete snapshot "${name}"`);
      }
    } else {
      for (const d of snapshotDrives(ctx, record)) {
        if (!(await exists(d.file))) continue;
        const list = await ctx.img.snapshotList(d.file);
        if (list.some((s) => s.name === name)) {
          await ctx.img.snapshotDelete(d.file, name, options.signal ? { signal: options.signal } : {});
        }
      }
    }
    options.onEvent?.({ type: "snapshot-deleted", name });
    return true;
  } finally {
    await lock.release();
  }
}

/** Snapshots of the primary drive (the overlay): over QMP when running, qemu-img when stopped. Takes no lock. */
export async function listSnapshots(ctx: InstanceContext): Promise<readonly QemuImgSnapshot[]> {
  const { record, own } = await recordAndProcess(ctx.paths);
  if (own) {
    const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
    const blocks = await client.execute<QmpBlockInfo[]>("query-block");
    const { vmstateDevice } = pickWritableQcow2(blocks);
    const image = blocks.find((b) => b.device === vmstateDevice)?.inserted?.image;
    return image ? parseQemuImgInfo(image).snapshots : [];
  }
  const primary = snapshotDrives(ctx, record)[0];
  if (!primary || !(await exists(primary.file))) return [];
  return ctx.img.snapshotList(primary.file);
}

/**
 * A disk-only internal snapshot `name` of every writable qcow2 drive of the
 * running QEMU (QMP `blockdev-snapshot-internal-sync`, replacing one of that
 * name): no RAM. Call it with the VM paused, so the disks and a state file
 * saved next are of the same instant. Revert the stopped drives with
 * {@link revertDiskSnapshot}. Takes no lock: the caller holds it or runs it
 * beside a save it locks.
 */
export async function saveDiskSnapshot(client: QmpClient, name: string): Promise<void> {
  validateSnapshotName(name);
  const blocks = await client.execute<QmpBlockInfo[]>("query-block");
  const { devices } = pickWritableQcow2(blocks);
  try {
    for (const device of devices) {
      await client.execute("blockdev-snapshot-delete-internal-sync", { device, name }).catch((error: unknown) => {
        // Absent is fine: this replaces a snapshot of that name.
        if (!qemuErrors.is(error, "QMP_COMMAND_FAILED")) throw error;
      });
      await client.execute("blockdev-snapshot-internal-sync", { device, name });
    }
  } catch (error) {
    throw wrapSnapshotError(error, `save disk snapshot "${name}"`);
  }
}

/**
 * Reverts every writable qcow2 drive of the stopped instance to snapshot
 * `name` (`qemu-img snapshot -a`). `SNAPSHOT_NOT_FOUND` when the primary drive
 * lacks it.
 */
export async function revertDiskSnapshot(
  ctx: InstanceContext,
  name: string,
  drives: readonly DriveSpec[],
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  validateSnapshotName(name);
  await assertSnapshotExists(ctx, drives, name);
  for (const d of drives.filter((x) => x.format === "qcow2" && x.readOnly !== true)) {
    if (!(await exists(d.file))) continue;
    const list = await ctx.img.snapshotList(d.file);
    if (list.some((s) => s.name === name)) await ctx.img.snapshotApply(d.file, name, options);
  }
}

/** `SNAPSHOT_NOT_FOUND` unless the primary writable qcow2 drive has snapshot `name`. */
export async function assertSnapshotExists(
  ctx: InstanceContext,
  drives: readonly DriveSpec[],
  name: string,
): Promise<void> {
  const primary = primaryDrive(drives);
  if (!primary) {
    throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `Cannot resume "${name}": the VM has no writable qcow2 drive`, {
      hint: "Attach the overlay (backingImage) to resume a snapshot.",
    });
  }
  const snapshots = (await exists(primary.file)) ? await ctx.img.snapshotList(primary.file) : [];
  if (!snapshots.some((s) => s.name === name)) {
    throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `Snapshot "${name}" is not in ${primary.file}`, {
      details: { name, file: primary.file, available: snapshots.map((s) => s.name) },
    });
  }
}

/** Writable qcow2 drives of the recorded spec, primary first (the overlay when no record). */
function snapshotDrives(ctx: InstanceContext, record: InstanceRecord | undefined): DriveSpec[] {
  const drives = record?.spec.drives ?? [{ id: "disk", file: ctx.paths.overlay, format: "qcow2" as const }];
  const writable = drives.filter((d) => d.format === "qcow2" && d.readOnly !== true);
  const primary = primaryDrive(writable);
  return primary ? [primary, ...writable.filter((d) => d !== primary)] : [];
}

/** The QMP client of the running instance; `INSTANCE_NOT_RUNNING` when it does not run. */
export async function runningClient(ctx: InstanceContext): Promise<QmpClient> {
  const { own } = await recordAndProcess(ctx.paths);
  if (!own) {
    throw qemuErrors.create("INSTANCE_NOT_RUNNING", `Instance "${ctx.name}" is not running`);
  }
  return ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
}

export interface QmpBlockInfo {
  device: string;
  inserted?: { "node-name": string; drv: string; ro: boolean; image?: Record<string, unknown> };
}

/**
 * The writable drives of `query-block` (pure): their node names, and the primary one (device `disk`, else the
 * first) that holds the VM state. `SNAPSHOT_FAILED` when a writable drive is not qcow2.
 */
export function pickWritableQcow2(blocks: readonly QmpBlockInfo[]): {
  devices: string[];
  vmstate?: string;
  vmstateDevice?: string;
} {
  const writable = blocks.filter((b) => b.inserted && !b.inserted.ro);
  const bad = writable.filter((b) => b.inserted?.drv !== "qcow2");
  if (bad.length > 0) {
    throw qemuErrors.create(
      "SNAPSHOT_FAILED",
      `Cannot snapshot: writable drive(s) ${bad.map((b) => `${b.device} (${b.inserted?.drv})`).join(", ")} are not qcow2`,
      { hint: "Make every writable drive qcow2 (UEFI variables included), or mark it read-only." },
    );
  }
  const primary = writable.find((b) => b.device === "disk") ?? writable[0];
  return {
    devices: writable.map((b) => b.inserted!["node-name"]),
    ...(primary ? { vmstate: primary.inserted!["node-name"], vmstateDevice: primary.device } : {}),
  };
}

async function writableQcow2Nodes(client: QmpClient): Promise<{ devices: string[]; vmstate: string }> {
  const blocks = await client.execute<QmpBlockInfo[]>("query-block");
  const picked = pickWritableQcow2(blocks);
  if (picked.vmstate === undefined) {
    throw qemuErrors.create(
      "SNAPSHOT_FAILED",
      "Cannot snapshot: the VM has no writable qcow2 drive to hold its state",
      {
        hint: "Attach a writable qcow2 drive (the overlay).",
      },
    );
  }
  return { devices: picked.devices, vmstate: picked.vmstate };
}

/** The drive that holds snapshots' VM state (pure): the writable qcow2 drive `disk`, else the first. */
export function primaryDrive(drives: readonly DriveSpec[]): DriveSpec | undefined {
  const writable = drives.filter((d) => d.format === "qcow2" && d.readOnly !== true);
  return writable.find((d) => d.id === "disk") ?? writable[0];
}

function wrapSnapshotError(error: unknown, what: string): unknown {
  if (qemuErrors.is(error, "QMP_COMMAND_FAILED")) {
    return qemuErrors.create("SNAPSHOT_FAILED", `Could not ${what}: ${String(error.details.desc ?? error.message)}`, {
      cause: error,
    });
  }
  return error;
}

/** `INVALID_ARGUMENT` unless `name` is a usable snapshot name (pure). */
export function validateSnapshotName(name: string): void {
  if (typeof name !== "string" || name === "" || name.length > 127 || /^\d+$/.test(name)) {
    throw qemuErrors.create("INVALID_ARGUMENT", `Invalid snapshot name ${JSON.stringify(name)}`, {
      hint: "Use a non-empty name of at most 127 characters that is not all digits (QEMU reads digits as a snapshot id).",
    });
  }
}
