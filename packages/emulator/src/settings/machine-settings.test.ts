import { HexclaveError } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import { MACHINE_SETTINGS, type MachineFlags, resolveSettings } from "./machine-settings.js";

type Env = Record<string, string | undefined>;

describe("resolveSettings", () => {
  it.each<[string, MachineFlags, Env, { cpus: number; memoryMb: number; sources: object }]>([
    ["defaults", {}, {}, { cpus: 4, memoryMb: 4096, sources: { cpus: "default", memoryMb: "default" } }],
    [
      "environment over defaults",
      {},
      { EMULATOR_CPUS: "2", EMULATOR_RAM_MB: "2048" },
      { cpus: 2, memoryMb: 2048, sources: { cpus: "env", memoryMb: "env" } },
    ],
    [
      "flags over environment",
      { cpus: "8", memoryMb: "8192" },
      { EMULATOR_CPUS: "2", EMULATOR_RAM_MB: "2048" },
      { cpus: 8, memoryMb: 8192, sources: { cpus: "flag", memoryMb: "flag" } },
    ],
    [
      "numbers from an API caller",
      { cpus: 1, memoryMb: 256 },
      {},
      { cpus: 1, memoryMb: 256, sources: { cpus: "flag", memoryMb: "flag" } },
    ],
    ["an empty variable is absent", {}, { EMULATOR_CPUS: " " }, { cpus: 4, memoryMb: 4096, sources: {} }],
    [
      "the bounds themselves",
      { cpus: "256", memoryMb: "1048576" },
      {},
      { cpus: 256, memoryMb: 1_048_576, sources: {} },
    ],
    [
      "a valid flag hides a bad variable",
      { cpus: "2" },
      { EMULATOR_CPUS: "lots" },
      { cpus: 2, memoryMb: 4096, sources: { cpus: "flag" } },
    ],
  ])("%s", (_name, flags, env, expected) => {
    expect(resolveSettings(flags, env)).toMatchObject(expected);
  });

  it.each<[string, MachineFlags, Env, string]>([
    ["zero CPUs", { cpus: "0" }, {}, '--cpus must be a whole number from 1 to 256, got "0".'],
    ["too many CPUs", { cpus: 257 }, {}, '--cpus must be a whole number from 1 to 256, got "257".'],
    ["a fraction", { cpus: "1.5" }, {}, '--cpus must be a whole number from 1 to 256, got "1.5".'],
    ["an empty flag", { cpus: "" }, {}, "--cpus needs a value: a whole number from 1 to 256."],
    [
      "a word in the variable",
      {},
      { EMULATOR_CPUS: "lots" },
      'environment variable EMULATOR_CPUS must be a whole number from 1 to 256, got "lots".',
    ],
    [
      "too little memory",
      { memoryMb: "128" },
      {},
      '--memory must be a whole number from 256 to 1048576 (MB), got "128".',
    ],
    [
      "negative memory from the environment",
      {},
      { EMULATOR_RAM_MB: "-1" },
      'environment variable EMULATOR_RAM_MB must be a whole number from 256 to 1048576 (MB), got "-1".',
    ],
  ])("%s is EMULATOR_SETTING_INVALID naming the setting, the value and the range", (_name, flags, env, message) => {
    let caught: unknown;
    try {
      resolveSettings(flags, env);
    } catch (error) {
      caught = error;
    }
    expect(HexclaveError.is(caught) && caught.code).toBe("EMULATOR_SETTING_INVALID");
    expect((caught as Error).message).toBe(message);
  });

  it("has one default per setting, inside its own bounds", () => {
    for (const s of Object.values(MACHINE_SETTINGS)) {
      expect(s.default).toBeGreaterThanOrEqual(s.min);
      expect(s.default).toBeLessThanOrEqual(s.max);
    }
  });
});
