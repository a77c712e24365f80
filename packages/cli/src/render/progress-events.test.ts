import { describe, expect, it } from "vitest";
import { toProgressEvent } from "./progress-events.js";

describe("toProgressEvent, the runtime's forwarded VmInstance steps", () => {
  const event = { type: "stop-escalated", step: "sigkill", reason: "r" };
  const table = [
    { level: "warn", expected: { type: "message", level: "warn", text: "t" } },
    { level: "info", expected: { type: "message", level: "info", text: "t" } },
    { level: "debug", expected: undefined },
  ] as const;
  for (const { level, expected } of table) {
    it(`a ${level} vm event`, () => {
      expect(toProgressEvent({ type: "vm", level, text: "t", event })).toEqual(expected);
    });
  }
});
