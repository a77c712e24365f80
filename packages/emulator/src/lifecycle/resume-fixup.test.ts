import { describe, expect, it } from "vitest";
import { runtimeEnvNeedsRefresh } from "./resume-fixup.js";

describe("runtimeEnvNeedsRefresh", () => {
  it.each([
    ["the same environment as the saved run's: no refresh", "a", "a", false],
    ["a moved host port or new secrets (another digest): refresh", "b", "a", true],
    ["a state saved before the digest was recorded: refresh", "a", undefined, true],
  ] as const)("%s", (_, runtimeEnvSha256, savedRuntimeEnvSha256, expected) => {
    expect(runtimeEnvNeedsRefresh({ runtimeEnvSha256, savedRuntimeEnvSha256 })).toBe(expected);
  });
});
