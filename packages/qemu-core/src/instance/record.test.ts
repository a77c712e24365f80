import { describe, expect, it } from "vitest";
import { qemuErrors } from "../errors-data.js";
import { parseRecord } from "./record.js";

const good = {
  version: 1,
  name: "vm",
  binary: "q",
  args: [],
  spec: {},
  accel: "tcg",
  startedAt: "t",
  state: "started",
};

describe("parseRecord", () => {
  it("reads a record of version 1", () => {
    expect(parseRecord(JSON.stringify(good), "/r.json")).toEqual(good);
  });
  const bad: Array<[string, string]> = [
    ["not JSON", "{ not json"],
    ["null", "null"],
    ["another version", JSON.stringify({ ...good, version: 2 })],
    ["no argument list", JSON.stringify({ ...good, args: "x" })],
  ];
  for (const [name, text] of bad) {
    it(`refuses ${name} with INSTANCE_RECORD_INVALID naming the file`, () => {
      let error: unknown;
      try {
        parseRecord(text, "/r.json");
      } catch (e) {
        error = e;
      }
      expect(qemuErrors.is(error, "INSTANCE_RECORD_INVALID")).toBe(true);
      expect((error as Error).message).toContain("/r.json");
    });
  }
});
