import { describe, expect, it } from "vitest";
import { FIXED_BENCH_REPORT } from "../../test-support/bench-report-fixture.js";
import { alignColumns, renderWholeBenchTables } from "./bench-whole-table.js";

describe("alignColumns", () => {
  it.each([
    [["a", "bb"], [], "a  bb\n-  --"],
    [["a", "b"], [["long", "x"]], "a     b\n----  -\nlong  x"],
    [
      ["name", "v"],
      [
        ["x", ""],
        ["yy", "1"],
      ],
      "name  v\n----  -\nx\nyy    1",
    ],
  ])("%j %j", (header, rows, text) => {
    expect(alignColumns(header, rows)).toBe(text);
  });
});

describe("renderWholeBenchTables", () => {
  const text = renderWholeBenchTables(FIXED_BENCH_REPORT.summary);

  it("one block per configuration with every command, the save, the phases and the ratios", () => {
    expect(text).toContain("Whole command (spawn of `stack emulator ...` to its exit), default (4 CPUs, 4096 MB)");
    expect(text).toContain("Whole command (spawn of `stack emulator ...` to its exit), 2 CPUs, 2048 MB");
    expect(text).toMatch(/^stop \(suspend\) +2 +23\.8 s +22\.7 s \.\. 25\.0 s$/m);
    expect(text).toMatch(/^reset \+ start \(to healthy\) +2 +6\.6 s/m);
    expect(text).toContain("suspend save (inside stop): 23.0 s for 469 MiB of state (median)");
    expect(text).toMatch(/^all-healthy +1 min 7 s +1\.9 s +2\.3 s$/m);
    expect(text).toContain("cold / resume: 14.7x (whole command), 34.3x (QEMU spawn to all healthy)");
  });

  it("phases in the cold boot's order", () => {
    const block = text.split("From QEMU's spawn")[1]!;
    const names = [...block.matchAll(/^(qemu-up|guest-booted|inbucket|minio|backend|dashboard|all-healthy) /gm)].map(
      (m) => m[1],
    );
    expect(names).toEqual(["qemu-up", "guest-booted", "inbucket", "minio", "backend", "dashboard", "all-healthy"]);
  });
});
