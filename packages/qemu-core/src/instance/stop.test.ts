import { describe, expect, it } from "vitest";
import { qemuErrors } from "../errors-data.js";
import { STOP_DEFAULTS, type StopOptions, stopDeadlines } from "./stop.js";

describe("stopDeadlines", () => {
  const cases: Array<[string, StopOptions, ReturnType<typeof stopDeadlines>]> = [
    ["the defaults", {}, { ...STOP_DEFAULTS }],
    ["a given grace over the defaults", { graceMs: 0 }, { ...STOP_DEFAULTS, graceMs: 0 }],
    [
      "undefined as not given",
      { quitMs: undefined, killMs: 1 } as unknown as StopOptions,
      { ...STOP_DEFAULTS, killMs: 1 },
    ],
  ];
  for (const [name, options, expected] of cases) {
    it(name, () => {
      expect(stopDeadlines(options)).toEqual(expected);
    });
  }
  const bad: Array<[string, StopOptions]> = [
    ["a negative grace", { graceMs: -1 }],
    ["NaN", { termMs: Number.NaN }],
    ["infinity", { killMs: Number.POSITIVE_INFINITY }],
  ];
  for (const [name, options] of bad) {
    it(`refuses ${name} with INVALID_ARGUMENT`, () => {
      let error: unknown;
      try {
        stopDeadlines(options);
      } catch (e) {
        error = e;
      }
      expect(qemuErrors.is(error, "INVALID_ARGUMENT")).toBe(true);
    });
  }
});
