import { describe, expect, it } from "vitest";
import { qemuErrors } from "../errors-data.js";
import type { DriveSpec } from "../vm-spec.js";
import { pickWritableQcow2, primaryDrive, type QmpBlockInfo, validateSnapshotName } from "./snapshots.js";

const block = (device: string, drv: string, ro = false): QmpBlockInfo => ({
  device,
  inserted: { "node-name": `n-${device}`, drv, ro },
});

describe("pickWritableQcow2", () => {
  const cases: Array<[string, QmpBlockInfo[], ReturnType<typeof pickWritableQcow2>]> = [
    ["no drives", [], { devices: [] }],
    [
      "the drive `disk` holds the state, read-only drives are left out",
      [block("efivars", "qcow2"), block("disk", "qcow2"), block("seed", "raw", true), { device: "cd" }],
      { devices: ["n-efivars", "n-disk"], vmstate: "n-disk", vmstateDevice: "disk" },
    ],
    ["else the first writable one", [block("a", "qcow2")], { devices: ["n-a"], vmstate: "n-a", vmstateDevice: "a" }],
  ];
  for (const [name, blocks, expected] of cases) {
    it(name, () => {
      expect(pickWritableQcow2(blocks)).toEqual(expected);
    });
  }
  it("refuses a writable drive that is not qcow2, naming it", () => {
    let error: unknown;
    try {
      pickWritableQcow2([block("disk", "qcow2"), block("vars", "raw")]);
    } catch (e) {
      error = e;
    }
    expect(qemuErrors.is(error, "SNAPSHOT_FAILED")).toBe(true);
    expect((error as Error).message).toContain("vars (raw)");
  });
});

describe("primaryDrive", () => {
  const d = (id: string, format: "qcow2" | "raw", readOnly = false): DriveSpec => ({
    id,
    file: `/${id}`,
    format,
    readOnly,
  });
  const cases: Array<[string, DriveSpec[], string | undefined]> = [
    ["none", [], undefined],
    ["disk first", [d("a", "qcow2"), d("disk", "qcow2")], "disk"],
    ["the first writable qcow2", [d("r", "raw"), d("ro", "qcow2", true), d("b", "qcow2")], "b"],
    ["a read-only disk is not it", [d("disk", "qcow2", true)], undefined],
  ];
  for (const [name, drives, id] of cases) {
    it(name, () => {
      expect(primaryDrive(drives)?.id).toBe(id);
    });
  }
});

describe("validateSnapshotName", () => {
  for (const ok of ["fresh", "suspend", "a1", "x".repeat(127)]) {
    it(`accepts ${ok.slice(0, 12)}`, () => {
      expect(() => validateSnapshotName(ok)).not.toThrow();
    });
  }
  for (const bad of ["", "123", "x".repeat(128)]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 12))}`, () => {
      expect(() => validateSnapshotName(bad)).toThrow(/Invalid snapshot name/);
    });
  }
});
