import { describe, expect, it } from "vitest";
import { qemuErrors } from "../errors-data.js";
import { STOP_DEFAULTS, type StopOptions, stopDeadlines } from "./stop.js";

describe("stopDeadlines", () => {
  const cases: Array<[string, StopOptions, ReturnType<typeof stopDeadlines>]> = [
    ["the defaults: the agent's grace is the grace", {}, { ...STOP_DEFAULTS, agentGraceMs: STOP_DEFAULTS.graceMs }],
    [
      "a given grace over the defaults, the agent's too",
      { graceMs: 0 },
      { ...STOP_DEFAULTS, graceMs: 0, agentGraceMs: 0 },
    ],
    [
      "a longer grace once the agent took the shutdown",
      { agentGraceMs: 90_000 },
      { ...STOP_DEFAULTS, agentGraceMs: 90_000 },
    ],
    [
      "an agent's grace shorter than the grace is the grace",
      { graceMs: 20_000, agentGraceMs: 5_000 },
      { ...STOP_DEFAULTS, graceMs: 20_000, agentGraceMs: 20_000 },
    ],
    [
      "undefined as not given",
      { quitMs: undefined, killMs: 1 } as unknown as StopOptions,
      { ...STOP_DEFAULTS, agentGraceMs: STOP_DEFAULTS.graceMs, killMs: 1 },
    ],
  ];
  for (const [name, options, expected] of cases) {
    it(name, () => {
      expect(stopDeadlines(options)).toEqual(expected);
    });
  }
  const bad: Array<[string, StopOptions]> = [
    ["a negative grace", { graceMs: -1 }],
    ["a negative agent's grace", { agentGraceMs: -1 }],
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
