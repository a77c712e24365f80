import { describe, expect, it } from "vitest";
import { EMULATOR_ACCEL_TIMEOUT_MS, EMULATOR_TCG_TIMEOUT_MS, readinessTimeoutMs } from "./wait-ready.js";

describe("readinessTimeoutMs", () => {
  it.each([
    ["the caller's deadline wins", 5_000, "tcg", true, 5_000],
    ["tcg, the host's own arch", undefined, "tcg", false, EMULATOR_TCG_TIMEOUT_MS],
    ["tcg, a guest of another arch: three times as long", undefined, "tcg", true, 3 * EMULATOR_TCG_TIMEOUT_MS],
    ["kvm", undefined, "kvm", false, EMULATOR_ACCEL_TIMEOUT_MS],
  ] as const)("%s", (_, given, accel, foreignArch, expected) => {
    expect(readinessTimeoutMs(given, accel, foreignArch)).toBe(expected);
  });
});
