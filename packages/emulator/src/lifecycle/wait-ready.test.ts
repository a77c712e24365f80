import { startTimeoutFactor } from "@hexclave/image-builder/image";
import { describe, expect, it } from "vitest";
import { EMULATOR_ACCEL_TIMEOUT_MS, EMULATOR_TCG_TIMEOUT_MS, readinessTimeoutMs } from "./wait-ready.js";

describe("readinessTimeoutMs", () => {
  it.each([
    ["the caller's deadline wins", 5_000, "tcg", startTimeoutFactor("arm64", "amd64"), 5_000],
    ["tcg, the host's own arch", undefined, "tcg", startTimeoutFactor("amd64", "amd64"), EMULATOR_TCG_TIMEOUT_MS],
    [
      "tcg, a guest of another arch: three times as long",
      undefined,
      "tcg",
      startTimeoutFactor("arm64", "amd64"),
      3 * EMULATOR_TCG_TIMEOUT_MS,
    ],
    ["kvm", undefined, "kvm", startTimeoutFactor("amd64", "amd64"), EMULATOR_ACCEL_TIMEOUT_MS],
  ] as const)("%s", (_, given, accel, factor, expected) => {
    expect(readinessTimeoutMs(given, accel, factor)).toBe(expected);
  });
});
