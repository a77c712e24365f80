import type { InstanceVmSpec } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import type { VmFingerprint } from "../machine/fingerprint.js";
import { EMPTY_SNAPSHOT_RECORD, type SavedSnapshot, type SnapshotRecord } from "../store/snapshot-record.js";
import {
  type ColdPlan,
  decideStartPlan,
  overlayBaseMismatch,
  planAfterFailedResume,
  type StartPlanInput,
} from "./start-plan.js";

const fp: VmFingerprint = {
  qemuVersion: "7.2.0",
  accel: "tcg",
  cpuModel: "max",
  machine: "q35",
  memoryMb: 2048,
  cpus: 2,
  devices: ["-device virtio-blk-pci,drive=disk"],
  baseImageSha256: "a".repeat(64),
};
const spec = { arch: "amd64", accel: "tcg", cpus: 2, memoryMb: 2048, drives: [] } as InstanceVmSpec;
const saved = (name: "suspend" | "fresh", fingerprint: VmFingerprint = fp): SavedSnapshot => ({
  name,
  fingerprint,
  spec,
  savedAt: "2025-01-01T00:00:00.000Z",
});
const rec = (over: Partial<SnapshotRecord>): SnapshotRecord => ({ ...EMPTY_SNAPSHOT_RECORD, ...over });
const input = (over: Partial<StartPlanInput>): StartPlanInput => ({
  noSnapshot: false,
  overlayExists: true,
  record: EMPTY_SNAPSHOT_RECORD,
  presentSnapshots: [],
  fingerprint: fp,
  ...over,
});
const both = rec({ snapshots: { suspend: saved("suspend"), fresh: saved("fresh") } });

describe("decideStartPlan", () => {
  const table: Array<{
    name: string;
    input: StartPlanInput;
    kind: "resume" | "cold";
    snapshot?: string;
    reason: RegExp;
  }> = [
    {
      name: "no overlay: first cold boot, fresh saved when healthy",
      input: input({ overlayExists: false }),
      kind: "cold",
      reason: /first start/,
    },
    {
      name: "suspend present and matching: resume suspend",
      input: input({ record: both, presentSnapshots: ["suspend", "fresh"] }),
      kind: "resume",
      snapshot: "suspend",
      reason: /resuming the state saved at stop/,
    },
    {
      name: "suspend recorded but missing from the overlay: cold",
      input: input({ record: both, presentSnapshots: ["fresh"] }),
      kind: "cold",
      reason: /missing from the overlay/,
    },
    {
      name: "suspend with another memory size: cold, reason names memory",
      input: input({ record: both, presentSnapshots: ["suspend", "fresh"], fingerprint: { ...fp, memoryMb: 1024 } }),
      kind: "cold",
      reason: /memory \(MB\) 2048 -> 1024/,
    },
    {
      name: "no snapshot option: cold even with a suspend",
      input: input({ record: both, presentSnapshots: ["suspend", "fresh"], noSnapshot: true }),
      kind: "cold",
      reason: /snapshots are off/,
    },
    {
      name: "reset pending and fresh matching: resume fresh",
      input: input({ record: rec({ ...both, resetPending: true }), presentSnapshots: ["suspend", "fresh"] }),
      kind: "resume",
      snapshot: "fresh",
      reason: /reset: resuming the fresh snapshot/,
    },
    {
      name: "reset pending and fresh from another QEMU: cold boot of the fresh disk",
      input: input({
        record: rec({ snapshots: { fresh: saved("fresh") }, resetPending: true }),
        presentSnapshots: ["fresh"],
        fingerprint: { ...fp, qemuVersion: "8.2.0" },
      }),
      kind: "cold",
      reason: /QEMU version 7\.2\.0 -> 8\.2\.0/,
    },
    {
      name: "QEMU killed while running: cold with the reason",
      input: input({
        record: rec({ snapshots: { fresh: saved("fresh") }, running: true }),
        presentSnapshots: ["fresh"],
      }),
      kind: "cold",
      reason: /ended without a stop/,
    },
    {
      name: "last stop powered off: cold",
      input: input({
        record: rec({ snapshots: { fresh: saved("fresh") }, lastStop: { kind: "poweroff", at: "x" } }),
        presentSnapshots: ["fresh"],
      }),
      kind: "cold",
      reason: /saved no state/,
    },
    {
      name: "the last start was interrupted (its VM stopped): cold saying so",
      input: input({
        record: rec({ snapshots: { fresh: saved("fresh") }, lastStop: { kind: "interrupted", at: "x" } }),
        presentSnapshots: ["fresh"],
      }),
      kind: "cold",
      reason: /last start was interrupted/,
    },
    {
      name: "suspend failed at the last stop: cold naming the failure",
      input: input({
        record: rec({ lastStop: { kind: "suspend-failed", at: "x", detail: "disk full" } }),
      }),
      kind: "cold",
      reason: /disk full/,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const plan = decideStartPlan(row.input);
      expect(plan.kind).toBe(row.kind);
      expect(plan.reason).toMatch(row.reason);
      if (plan.kind === "resume") expect(plan.snapshot).toBe(row.snapshot);
    });
  }

  it("a first boot saves fresh, unless snapshots are off", () => {
    const plan = decideStartPlan(input({ overlayExists: false }));
    expect(plan).toMatchObject({ kind: "cold", newOverlay: true, saveFreshWhenHealthy: true });
    expect(decideStartPlan(input({ overlayExists: false, noSnapshot: true }))).toMatchObject({
      saveFreshWhenHealthy: false,
    });
  });

  it("a mismatched suspend is dropped, the matching fresh kept and not re-saved", () => {
    const plan = decideStartPlan(
      input({ record: both, presentSnapshots: ["suspend", "fresh"], fingerprint: { ...fp, cpus: 4 } }),
    );
    expect(plan).toMatchObject({ kind: "cold", newOverlay: false, drop: ["suspend"], saveFreshWhenHealthy: false });
  });

  it("reset with a mismatched fresh reverts the disk to fresh and re-saves fresh", () => {
    const plan = decideStartPlan(
      input({
        record: rec({ snapshots: { fresh: saved("fresh") }, resetPending: true }),
        presentSnapshots: ["fresh", "suspend"],
        fingerprint: { ...fp, memoryMb: 4096 },
      }),
    );
    expect(plan).toMatchObject({ kind: "cold", revertDiskTo: "fresh", saveFreshWhenHealthy: true });
    expect(plan.kind === "cold" && plan.drop).toEqual(["suspend", "fresh"]);
  });

  it("reset without a fresh snapshot recreates the overlay", () => {
    const plan = decideStartPlan(input({ record: rec({ resetPending: true }) }));
    expect(plan).toMatchObject({ kind: "cold", newOverlay: true, saveFreshWhenHealthy: true });
  });

  it("unrecorded snapshots in the overlay are pruned on a cold boot", () => {
    const plan = decideStartPlan(input({ presentSnapshots: ["suspend", "fresh"] }));
    expect(plan).toMatchObject({ kind: "cold", drop: ["suspend", "fresh"], saveFreshWhenHealthy: true });
  });

  it("no snapshot option with a pending reset boots the fresh disk cold", () => {
    const plan = decideStartPlan(
      input({ record: rec({ ...both, resetPending: true }), presentSnapshots: ["suspend", "fresh"], noSnapshot: true }),
    );
    expect(plan).toMatchObject({ kind: "cold", revertDiskTo: "fresh", drop: ["suspend"] });
  });
});

describe("overlayBaseMismatch", () => {
  it("refuses an overlay created on another base image, naming both", () => {
    const why = overlayBaseMismatch(input({ record: rec({ overlayBaseSha256: "b".repeat(64) }) }));
    expect(why).toBe(
      `the emulator's data disk was created on base image ${"b".repeat(12)}, but the installed image is ${"a".repeat(12)}`,
    );
  });

  it("accepts the same base, a missing overlay, and an overlay from before the base was recorded", () => {
    expect(overlayBaseMismatch(input({ record: rec({ overlayBaseSha256: "a".repeat(64) }) }))).toBeUndefined();
    expect(
      overlayBaseMismatch(input({ overlayExists: false, record: rec({ overlayBaseSha256: "b".repeat(64) }) })),
    ).toBeUndefined();
    expect(overlayBaseMismatch(input({ record: rec({}) }))).toBeUndefined();
  });
});

describe("planAfterFailedResume", () => {
  it.each<[string, "suspend" | "fresh", Omit<ColdPlan, "kind" | "reason">]>([
    [
      "a failed suspend is dropped; the disk is kept as it is",
      "suspend",
      { newOverlay: false, drop: ["suspend"], saveFreshWhenHealthy: false },
    ],
    [
      "a failed fresh reverts the disk to fresh and saves fresh again once healthy",
      "fresh",
      { newOverlay: false, revertDiskTo: "fresh", drop: [], saveFreshWhenHealthy: true },
    ],
  ])("%s", (_name, snapshot, expected) => {
    const plan = { kind: "resume", snapshot, saved: saved(snapshot), reason: "resume" } as const;
    expect(planAfterFailedResume(plan, "QEMU said no")).toEqual({
      kind: "cold",
      reason: `resuming the ${snapshot} snapshot failed (QEMU said no): booting the same disk cold`,
      ...expected,
    });
  });
});
