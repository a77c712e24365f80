import { describe, expect, it } from "vitest";
import { type VmState, vmStateOf } from "./status.js";

describe("vmStateOf", () => {
  const cases: Array<[string, VmState]> = [
    ["running", "running"],
    ["inmigrate", "starting"],
    ["restore-vm", "starting"],
    ["prelaunch", "starting"],
    ["paused", "paused"],
    ["postmigrate", "paused"],
    ["finish-migrate", "paused"],
  ];
  for (const [status, state] of cases) {
    it(`reads run state ${status} as ${state}`, () => {
      expect(vmStateOf({ status })).toBe(state);
    });
  }
});
