/**
 * The snapshot record of an instance (`run/<instance>/snapshots.json`): which
 * internal snapshots of the overlay exist, the fingerprint and exact VM spec
 * each was saved with, whether a reset is pending, and how the last start and
 * stop went. Written atomically (temp name, then rename).
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Accelerator, InstanceVmSpec } from "@hexclave/qemu-core";
import type { VmFingerprint } from "../machine/fingerprint.js";

/** The two snapshots an overlay may hold (issue 8: at most one of each). */
export type SnapshotName = "suspend" | "fresh";
export const SNAPSHOT_NAMES: readonly SnapshotName[] = ["suspend", "fresh"];

export interface SavedSnapshot {
  readonly name: SnapshotName;
  readonly fingerprint: VmFingerprint;
  /** The VM spec the snapshot was saved from, without `loadvm`: a resume runs exactly this machine. */
  readonly spec: InstanceVmSpec;
  readonly savedAt: string;
  /**
   * sha256 of the runtime environment (the fw_cfg file) the guest's container ran with when the state was saved: a
   * resume whose own environment has the same digest needs no refresh in the guest. Absent when unknown.
   */
  readonly runtimeEnvSha256?: string;
}

export type BootKind = "resume" | "cold";

export interface LastStart {
  readonly kind: BootKind;
  readonly reason: string;
  readonly snapshot?: SnapshotName;
  readonly at: string;
  readonly accel: Accelerator;
  readonly accelReason: string;
}

export interface LastStop {
  /**
   * `suspend`: state saved; `poweroff`: plain stop; `suspend-failed`: saving failed, then powered off; `reset`: stopped
   * by reset; `interrupted`: a start was interrupted (Ctrl-C) and stopped the VM it had launched.
   */
  readonly kind: "suspend" | "poweroff" | "suspend-failed" | "reset" | "interrupted";
  readonly at: string;
  readonly detail?: string;
}

export interface SnapshotRecord {
  readonly formatVersion: 1;
  readonly snapshots: Readonly<Partial<Record<SnapshotName, SavedSnapshot>>>;
  /** Set by `reset`: the next start resumes `fresh`. */
  readonly resetPending: boolean;
  /** True from a start until a clean stop: found true at start, QEMU died without a stop. */
  readonly running: boolean;
  /**
   * sha256 of the base image the overlay was created on. A base replaced since (by `pull` or `build-image`) cannot
   * carry the overlay: its blocks would be read against the wrong image. Absent for overlays made before it existed.
   */
  readonly overlayBaseSha256?: string;
  /** The machine of the current (or last) run: what a `suspend` at stop is saved from. */
  readonly current?: {
    readonly spec: InstanceVmSpec;
    readonly fingerprint: VmFingerprint;
    /** sha256 of the runtime environment the guest's container runs with; absent when unknown (a failed refresh). */
    readonly runtimeEnvSha256?: string;
  };
  readonly lastStart?: LastStart;
  readonly lastStop?: LastStop;
  /**
   * False from a start until its services are all healthy, true after: `stop` saves the state only of a machine
   * that reached healthy since its last start (a hung or broken one is stopped without saving). Absent in records
   * written before it existed (treated as healthy).
   */
  readonly healthySinceStart?: boolean;
}

export const EMPTY_SNAPSHOT_RECORD: SnapshotRecord = {
  formatVersion: 1,
  snapshots: {},
  resetPending: false,
  running: false,
};

/** Reads the record; a missing or unreadable file is an empty record (never an error: it only loses speed). */
export async function readSnapshotRecord(path: string): Promise<SnapshotRecord> {
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as Partial<SnapshotRecord>;
    if (value.formatVersion !== 1 || typeof value.snapshots !== "object" || value.snapshots === null) {
      return EMPTY_SNAPSHOT_RECORD;
    }
    return {
      ...EMPTY_SNAPSHOT_RECORD,
      ...value,
      formatVersion: 1,
      resetPending: value.resetPending === true,
      running: value.running === true,
    };
  } catch {
    return EMPTY_SNAPSHOT_RECORD;
  }
}

export async function writeSnapshotRecord(path: string, record: SnapshotRecord): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Read, change, write. */
export async function updateSnapshotRecord(
  path: string,
  change: (record: SnapshotRecord) => SnapshotRecord,
): Promise<SnapshotRecord> {
  const next = change(await readSnapshotRecord(path));
  await writeSnapshotRecord(path, next);
  return next;
}

export function withSnapshot(record: SnapshotRecord, snapshot: SavedSnapshot): SnapshotRecord {
  return { ...record, snapshots: { ...record.snapshots, [snapshot.name]: snapshot } };
}

export function withoutSnapshot(record: SnapshotRecord, name: SnapshotName): SnapshotRecord {
  const snapshots = { ...record.snapshots };
  delete snapshots[name];
  return { ...record, snapshots };
}
