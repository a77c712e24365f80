import { describe, expect, it } from "vitest";
import { resolveEmulatorSettings } from "./emulator-settings.js";
import { resolveReportingProblems } from "./settings-problems.js";
import { UsageError } from "./usage-error.js";

const context = { hostArch: "amd64" as const, userHome: "/home/u" };
const resolve =
  (flags: { cpus?: string } = {}) =>
  (env: Readonly<Record<string, string | undefined>>) =>
    resolveEmulatorSettings(flags, { ...context, env });

describe("resolveReportingProblems", () => {
  it("resolves as usual when every variable is good", () => {
    const { settings, problems } = resolveReportingProblems({ EMULATOR_CPUS: "2" }, resolve());
    expect(problems).toEqual([]);
    expect(settings.cpus).toBe(2);
  });

  it("reports each bad EMULATOR_* variable, with the strict parser's message, and uses its default", () => {
    const { settings, problems } = resolveReportingProblems(
      { EMULATOR_CPUS: "lots", EMULATOR_RAM_MB: "2048", EMULATOR_ARCH: "sparc", EMULATOR_MINIO_PORT: "0" },
      resolve(),
    );
    expect(problems.map((p) => [p.variable, p.value])).toEqual([
      ["EMULATOR_ARCH", "sparc"],
      ["EMULATOR_CPUS", "lots"],
      ["EMULATOR_MINIO_PORT", "0"],
    ]);
    expect(problems[1]?.message).toBe(
      'environment variable EMULATOR_CPUS must be a whole number from 1 to 256, got "lots".',
    );
    expect(settings).toMatchObject({ arch: "amd64", cpus: 4, memoryMb: 2048 });
    expect(settings.ports.minio).toBe(26702);
  });

  it("drops one of two variables that put two services on one port", () => {
    const { settings, problems } = resolveReportingProblems(
      { EMULATOR_BACKEND_PORT: "30000", EMULATOR_MINIO_PORT: "30000" },
      resolve(),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toContain("would both use host port 30000");
    expect(new Set(Object.values(settings.ports)).size).toBe(4);
  });

  it("still refuses a bad flag: the user typed it", () => {
    expect(() => resolveReportingProblems({}, resolve({ cpus: "many" }))).toThrow(UsageError);
    expect(() => resolveReportingProblems({}, resolve({ cpus: "many" }))).toThrow("--cpus");
  });
});
