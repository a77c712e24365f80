import { describe, expect, it } from "vitest";
import {
  CLOUD_LAYOUT,
  cloudLayoutProblems,
  cloudPartitions,
  efiBootFile,
  GPT_TYPE,
  sfdiskScript,
} from "./genericcloud-layout.js";

const table = (arch: "amd64" | "arm64") => ({
  label: "gpt",
  partitions: cloudPartitions(arch).map((p) => ({
    node: `disk.raw${p.number}`,
    start: p.start,
    size: p.size ?? 3_932_160,
    type: p.type,
  })),
});

describe("the Debian cloud disk layout", () => {
  it("puts BIOS boot 14 and the ESP 15 in front and the root partition 1 last, BIOS boot on amd64 only", () => {
    expect(cloudPartitions("amd64").map((p) => p.number)).toEqual([14, 15, 1]);
    expect(cloudPartitions("arm64").map((p) => p.number)).toEqual([15, 1]);
    expect(sfdiskScript("/w/disk.raw", "arm64")).toBe(
      [
        "label: gpt",
        "unit: sectors",
        "first-lba: 2048",
        `/w/disk.raw15 : start=8192, size=253952, type=${GPT_TYPE.efiSystem}`,
        `/w/disk.raw1 : start=262144, type=${GPT_TYPE.linuxFilesystem}`,
        "",
      ].join("\n"),
    );
    expect(efiBootFile("arm64")).toBe("BOOTAA64.EFI");
  });

  it("accepts a table in the layout and names what differs in one that is not", () => {
    expect(cloudLayoutProblems(table("amd64"), "amd64")).toEqual([]);
    const rootFirst = {
      label: "gpt",
      partitions: [
        { node: "d1", start: 2048, size: 100, type: GPT_TYPE.linuxFilesystem },
        { node: "d15", start: CLOUD_LAYOUT.rootStart, size: 253952, type: GPT_TYPE.efiSystem },
      ],
    };
    expect(cloudLayoutProblems(rootFirst, "arm64")).toEqual([
      "partition 15 starts at 262144, not 8192",
      "partition 1 starts at 2048, not 262144",
      "partition 1 is not the last on the disk (growpart could not extend it)",
    ]);
    expect(cloudLayoutProblems({ ...table("arm64"), label: "dos" }, "amd64")).toEqual([
      "the table is dos, not gpt",
      "partition 14 is missing",
    ]);
  });
});
