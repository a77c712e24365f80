import { describe, expect, it } from "vitest";
import { DEFAULT_PORTS, resolveEmulatorSettings } from "./emulator-settings.js";
import { UsageError } from "./usage-error.js";

const context = (env: Record<string, string | undefined> = {}) => ({
  env,
  hostArch: "amd64" as const,
  userHome: "/home/dev",
  commandPath: ["emulator", "start"],
});

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).commandPath).toEqual(["emulator", "start"]);
    return (error as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("resolveEmulatorSettings", () => {
  it("uses the defaults and the host arch with no flags and no environment", () => {
    const s = resolveEmulatorSettings({}, context());
    expect(s).toMatchObject({
      arch: "amd64",
      cpus: 4,
      memoryMb: 4096,
      snapshot: true,
      home: "/home/dev/.hexclave/emulator",
    });
    expect(s.ports).toEqual(DEFAULT_PORTS);
    expect(s.sources).toEqual({
      accel: "default",
      guestNetwork: "default",
      arch: "default",
      cpus: "default",
      memoryMb: "default",
      home: "default",
    });
    expect(s.accel).toBe("auto");
  });

  it("EMULATOR_ACCEL and --accel choose the accelerator (auto probes); a bad value names what is allowed", () => {
    expect(resolveEmulatorSettings({}, context({ EMULATOR_ACCEL: "tcg" }))).toMatchObject({
      accel: "tcg",
      sources: { accel: "env" },
    });
    expect(resolveEmulatorSettings({ accel: "kvm" }, context({ EMULATOR_ACCEL: "tcg" }))).toMatchObject({
      accel: "kvm",
      sources: { accel: "flag" },
    });
    expect(resolveEmulatorSettings({ accel: "auto" }, context())).toMatchObject({ accel: "auto" });
    expect(() => resolveEmulatorSettings({ accel: "xen" }, context())).toThrow(/--accel.*auto, kvm, hvf, whpx, tcg/s);
    expect(() => resolveEmulatorSettings({}, context({ EMULATOR_ACCEL: "KVMM" }))).toThrow(/EMULATOR_ACCEL/);
  });

  it("takes the environment, and flags win over it", () => {
    const env = {
      EMULATOR_CPUS: "2",
      EMULATOR_RAM_MB: "2048",
      EMULATOR_ARCH: "arm64",
      HEXCLAVE_EMULATOR_HOME: "/data/emu",
    };
    const fromEnv = resolveEmulatorSettings({}, context(env));
    expect(fromEnv).toMatchObject({ cpus: 2, memoryMb: 2048, arch: "arm64", home: "/data/emu" });
    expect(fromEnv.sources).toEqual({
      accel: "default",
      guestNetwork: "default",
      arch: "env",
      cpus: "env",
      memoryMb: "env",
      home: "env",
    });
    const fromFlags = resolveEmulatorSettings({ cpus: "8", memory: "8192", arch: "amd64" }, context(env));
    expect(fromFlags).toMatchObject({ cpus: 8, memoryMb: 8192, arch: "amd64" });
    expect(fromFlags.sources).toMatchObject({ arch: "flag", cpus: "flag", memoryMb: "flag" });
  });

  it("resolves a relative HEXCLAVE_EMULATOR_HOME once, against the command's directory", () => {
    const s = resolveEmulatorSettings({}, { ...context({ HEXCLAVE_EMULATOR_HOME: "emu/home" }), cwd: "/work/app" });
    expect(s.home).toBe("/work/app/emu/home");
  });

  it("treats an empty variable as unset", () => {
    expect(resolveEmulatorSettings({}, context({ EMULATOR_CPUS: "" })).cpus).toBe(4);
  });

  it("refuses bad flag values, naming the flag and what is allowed", () => {
    expect(usageMessage(() => resolveEmulatorSettings({ cpus: "0" }, context()))).toBe(
      '--cpus must be a whole number from 1 to 256, got "0".',
    );
    expect(usageMessage(() => resolveEmulatorSettings({ memory: "lots" }, context()))).toContain(
      '--memory must be a whole number from 256 to 1048576 (MB), got "lots"',
    );
    expect(usageMessage(() => resolveEmulatorSettings({ memory: "255" }, context()))).toContain('got "255"');
    expect(usageMessage(() => resolveEmulatorSettings({ cpus: "1.5" }, context()))).toContain('got "1.5"');
    expect(usageMessage(() => resolveEmulatorSettings({ cpus: "" }, context()))).toBe(
      "--cpus needs a value: a whole number from 1 to 256.",
    );
    expect(usageMessage(() => resolveEmulatorSettings({ arch: "x86" }, context()))).toBe(
      '--arch must be one of amd64, arm64, got "x86".',
    );
  });

  it("refuses bad environment values, naming the variable", () => {
    expect(usageMessage(() => resolveEmulatorSettings({}, context({ EMULATOR_CPUS: "many" })))).toContain(
      'environment variable EMULATOR_CPUS must be a whole number from 1 to 256, got "many"',
    );
    expect(usageMessage(() => resolveEmulatorSettings({}, context({ EMULATOR_RAM_MB: "4G" })))).toContain(
      "environment variable EMULATOR_RAM_MB",
    );
    expect(usageMessage(() => resolveEmulatorSettings({}, context({ EMULATOR_ARCH: "riscv64" })))).toContain(
      "environment variable EMULATOR_ARCH must be one of amd64, arm64",
    );
    expect(usageMessage(() => resolveEmulatorSettings({}, context({ EMULATOR_BACKEND_PORT: "70000" })))).toContain(
      "environment variable EMULATOR_BACKEND_PORT must be a whole number from 1 to 65535",
    );
    expect(usageMessage(() => resolveEmulatorSettings({}, context({ EMULATOR_NO_SNAPSHOT: "maybe" })))).toContain(
      "EMULATOR_NO_SNAPSHOT",
    );
  });

  it("a flag wins even over an invalid environment value", () => {
    expect(resolveEmulatorSettings({ cpus: "2" }, context({ EMULATOR_CPUS: "bad" })).cpus).toBe(2);
  });

  it("moves ports from the environment and refuses two services on one port", () => {
    const s = resolveEmulatorSettings(
      {},
      context({ EMULATOR_DASHBOARD_PORT: "36700", EMULATOR_INBUCKET_PORT: "36703" }),
    );
    expect(s.ports).toEqual({ dashboard: 36700, backend: 26701, minio: 26702, inbucket: 36703 });
    expect(usageMessage(() => resolveEmulatorSettings({}, context({ EMULATOR_MINIO_PORT: "26701" })))).toContain(
      "backend and minio would both use host port 26701",
    );
  });

  it.each([
    { title: "default: isolated, no host port", flags: {}, env: {}, mode: "isolated", reach: [], source: "default" },
    {
      title: "the environment: mode and comma-separated ports (deduplicated, sorted)",
      flags: {},
      env: { EMULATOR_GUEST_NETWORK: "open", EMULATOR_GUEST_REACH: "5173, 3000,5173" },
      mode: "open",
      reach: [3000, 5173],
      source: "env",
    },
    {
      title: "flags win: --guest-network and repeated --guest-reach replace the variables",
      flags: { guestNetwork: "isolated", guestReach: ["8080", "3000"] },
      env: { EMULATOR_GUEST_NETWORK: "open", EMULATOR_GUEST_REACH: "1" },
      mode: "isolated",
      reach: [3000, 8080],
      source: "flag",
    },
    {
      title: "one --guest-reach",
      flags: { guestReach: "3000" },
      env: {},
      mode: "isolated",
      reach: [3000],
      source: "flag",
    },
  ])("guest network: $title", ({ flags, env, mode, reach, source }) => {
    const s = resolveEmulatorSettings(flags, context(env));
    expect(s.guestNetwork).toEqual({ mode, reach });
    expect(s.sources.guestNetwork).toBe(source);
  });

  it.each([
    { flags: { guestNetwork: "host" }, env: {}, message: "--guest-network must be one of isolated, open" },
    {
      flags: {},
      env: { EMULATOR_GUEST_NETWORK: "wide" },
      message: "EMULATOR_GUEST_NETWORK must be one of isolated, open",
    },
    { flags: { guestReach: "0" }, env: {}, message: "--guest-reach must be a whole number from 1 to 65535" },
    {
      flags: {},
      env: { EMULATOR_GUEST_REACH: "3000,http" },
      message: "EMULATOR_GUEST_REACH must be a whole number from 1 to 65535",
    },
  ])("guest network: refuses $message", ({ flags, env, message }) => {
    expect(usageMessage(() => resolveEmulatorSettings(flags, context(env)))).toContain(message);
  });

  it("turns snapshots off with --no-snapshot or EMULATOR_NO_SNAPSHOT=1", () => {
    expect(resolveEmulatorSettings({ snapshot: false }, context()).snapshot).toBe(false);
    expect(resolveEmulatorSettings({}, context({ EMULATOR_NO_SNAPSHOT: "1" })).snapshot).toBe(false);
    expect(resolveEmulatorSettings({ snapshot: true }, context({ EMULATOR_NO_SNAPSHOT: "0" })).snapshot).toBe(true);
  });
});
