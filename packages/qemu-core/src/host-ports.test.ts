import { describe, expect, it } from "vitest";
import { parseLsofHolder, parseProcNetInodes } from "./host-ports.js";
import { parseProcStat } from "./process-identity.js";

describe("pure parsers", () => {
  it("finds socket inodes for a port in /proc/net/tcp, listening first", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:68BC 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 111 1 0",
      "   1: 0100007F:68BC 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0",
      "   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0",
    ].join("\n");
    expect(parseProcNetInodes(table, 0x68bc)).toEqual(["222", "111"]);
    expect(parseProcNetInodes(table, 8080)).toEqual(["333"]);
    expect(parseProcNetInodes(table, 1)).toEqual([]);
  });

  it("reads lsof -F output", () => {
    expect(parseLsofHolder("p4242\ncqemu-system-aarch64\nf12\n")).toEqual({
      pid: 4242,
      command: "qemu-system-aarch64",
    });
    expect(parseLsofHolder("")).toBeUndefined();
  });

  it("parses /proc/<pid>/stat with spaces and parentheses in the command name", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = "S";
    expect(parseProcStat(`123 (qemu (x) y) ${fields.join(" ")}`)).toEqual({ state: "S", startTime: "22" });
    expect(parseProcStat("garbage")).toBeUndefined();
  });
});
