import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceleratorCandidates, NO_ACCEL_CACHE_ENV, probeAccelerator } from "./accelerator.js";
import type { CommandResult, CommandRunner } from "./command-runner.js";
import { HexclaveError } from "./errors.js";
import type { HostInfo } from "./host.js";
import { PROBE_MARKER } from "./probe-guests.js";

// macOS HVF and Windows WHPX cannot run here: these tests inject the host and a runner
// that answers as QEMU does there. The real probe is in accelerator.integration.test.ts.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "accel-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const host = (os: HostInfo["os"], arch: HostInfo["arch"]): HostInfo => ({
  os,
  arch,
  cpus: 8,
  memoryMb: 16384,
  kernelRelease: "24.1.0",
});

function fakeRunner(byAccel: Partial<Record<string, Partial<CommandResult>>>, sysctl = "1\n") {
  const calls: Array<{ file: string; args: readonly string[]; timeoutMs?: number | undefined }> = [];
  const runner: CommandRunner = async (file, args, options) => {
    calls.push({ file, args, timeoutMs: options?.timeoutMs });
    if (args[0] === "--version") return { stdout: "QEMU emulator version 9.1.0\n", stderr: "", exitCode: 0 };
    if (file === "sysctl") return { stdout: sysctl, stderr: "", exitCode: 0 };
    const accel = args[args.indexOf("-accel") + 1]!.split(",")[0]!;
    return { stdout: "", stderr: "", exitCode: 0, ...byAccel[accel] };
  };
  return { runner, calls };
}

const reached = { stdout: `${PROBE_MARKER}\n`, exitCode: 0 };

describe("acceleratorCandidates", () => {
  it.each([
    ["darwin", "arm64", "arm64", ["hvf", "tcg"]],
    ["darwin", "amd64", "amd64", ["hvf", "tcg"]],
    ["linux", "amd64", "amd64", ["kvm", "tcg"]],
    ["linux", "arm64", "arm64", ["kvm", "tcg"]],
    ["windows", "amd64", "amd64", ["whpx", "tcg"]],
    ["linux", "amd64", "arm64", ["tcg"]],
    ["darwin", "arm64", "amd64", ["tcg"]],
  ] as const)("%s %s host, %s guest: %j", (os, hostArch, guestArch, want) => {
    expect(acceleratorCandidates({ os, arch: hostArch }, guestArch)).toEqual(want);
  });
});

describe("probeAccelerator with an injected host and runner", () => {
  it("macOS on Apple silicon: HVF reaches the marker", async () => {
    const { runner, calls } = fakeRunner({ hvf: reached });
    const result = await probeAccelerator({
      arch: "arm64",
      qemuBinary: "/opt/homebrew/bin/qemu-system-aarch64",
      hostInfo: host("darwin", "arm64"),
      runner,
      cache: false,
    });
    expect(result.accel).toBe("hvf");
    expect(result.tried.map((t) => [t.accel, t.ok])).toEqual([["hvf", true]]);
    const qemuCall = calls.find((c) => c.args.includes("-accel"))!;
    expect(qemuCall.args).toEqual(expect.arrayContaining(["-machine", "virt,gic-version=max", "-cpu", "host"]));
    expect(qemuCall.timeoutMs).toBe(3000);
  });

  it("macOS without Hypervisor.framework: the pre-check explains it and QEMU is not run for hvf", async () => {
    const { runner, calls } = fakeRunner({ tcg: reached }, "0\n");
    const result = await probeAccelerator({
      arch: "arm64",
      qemuBinary: "qemu-system-aarch64",
      hostInfo: host("darwin", "arm64"),
      runner,
      cache: false,
    });
    expect(result.accel).toBe("tcg");
    expect(result.tried[0]).toMatchObject({ accel: "hvf", ok: false });
    expect(result.tried[0]?.reason).toContain("kern.hv_support = 0");
    expect(calls.filter((c) => c.args.includes("-accel")).map((c) => c.args[c.args.indexOf("-accel") + 1])).toEqual([
      "tcg,thread=multi",
    ]);
  });

  it("Windows: a WHPX failure is reported with QEMU's words, then TCG", async () => {
    const { runner } = fakeRunner({
      whpx: { stderr: "qemu-system-x86_64: -accel whpx: WHPX: No accelerator found, hr=80004005\n", exitCode: 1 },
      tcg: reached,
    });
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: "C:\\qemu\\qemu-system-x86_64.exe",
      hostInfo: host("windows", "amd64"),
      runner,
      cache: false,
    });
    expect(result.accel).toBe("tcg");
    expect(result.tried[0]).toMatchObject({ accel: "whpx", ok: false });
    expect(result.tried[0]?.reason).toContain("exited with code 1");
    expect(result.tried[0]?.reason).toContain("WHPX: No accelerator found");
    expect(result.reason).toMatch(/^whpx unusable: .*; using tcg/);
  });

  it("Linux with a KVM that hangs: the deadline's timeout is the reason", async () => {
    const device = join(dir, "kvm");
    await writeFile(device, "");
    const { runner, calls } = fakeRunner({ kvm: { timedOut: true, exitCode: null, signal: "SIGTERM" }, tcg: reached });
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: "qemu-system-x86_64",
      hostInfo: host("linux", "amd64"),
      kvmDevice: device,
      runner,
      cache: false,
      deadlineMs: 2500,
    });
    expect(result.accel).toBe("tcg");
    expect(result.tried[0]?.reason).toContain("did not reach the marker within 2500 ms");
    expect(calls.filter((c) => c.args.includes("-accel")).map((c) => c.timeoutMs)).toEqual([2500, 8000]);
  });

  it("a guest of another arch goes straight to tcg", async () => {
    const { runner, calls } = fakeRunner({ tcg: reached });
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: "qemu-system-x86_64",
      hostInfo: host("darwin", "arm64"),
      runner,
      cache: false,
    });
    expect(result.tried.map((t) => t.accel)).toEqual(["tcg"]);
    expect(result.reason).toContain("cross-arch");
    expect(calls.some((c) => c.file === "sysctl")).toBe(false);
    // amd64 on an arm64 host: single-threaded TCG.
    expect(calls.find((c) => c.args.includes("-accel"))?.args).toContain("tcg");
  });

  it("throws ACCEL_PROBE_FAILED listing every attempt when even TCG fails", async () => {
    const { runner } = fakeRunner({ tcg: { stderr: "qemu: could not load PC BIOS\n", exitCode: 1 } });
    let error: unknown;
    try {
      await probeAccelerator({
        arch: "arm64",
        qemuBinary: "qemu-system-aarch64",
        hostInfo: host("linux", "amd64"),
        runner,
        cache: false,
      });
    } catch (e) {
      error = e;
    }
    expect(HexclaveError.is(error) && error.code).toBe("ACCEL_PROBE_FAILED");
    expect((error as HexclaveError).message).toContain("could not load PC BIOS");
  });
});

describe("the probe's cache directory comes from the caller", () => {
  it("refuses to cache without a cacheDir (a JavaScript caller that left it out), before running anything", async () => {
    const { runner, calls } = fakeRunner({});
    const options = { arch: "amd64", qemuBinary: "qemu-system-x86_64", hostInfo: host("linux", "amd64"), runner };
    await expect(probeAccelerator(options as unknown as Parameters<typeof probeAccelerator>[0])).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("cacheDir"),
    });
    expect(calls).toEqual([]);
  });

  it("keeps the binary's version there too: a second probe runs neither QEMU nor --version; the bypass runs both", async () => {
    const binary = join(dir, "qemu-system-x86_64");
    await writeFile(binary, "#!/bin/sh\n", { mode: 0o755 });
    const cacheDir = join(dir, "version-cache");
    const { runner, calls } = fakeRunner({ tcg: reached });
    const options = { arch: "amd64", qemuBinary: binary, hostInfo: host("darwin", "arm64"), runner, cacheDir } as const;
    expect((await probeAccelerator(options)).fromCache).not.toBe(true);
    expect(calls.map((c) => c.args[0])).toEqual(["--version", "-name"]);
    expect((await probeAccelerator(options)).fromCache).toBe(true);
    expect(calls).toHaveLength(2);
    await probeAccelerator({ ...options, env: { [NO_ACCEL_CACHE_ENV]: "1" } });
    expect(calls.map((c) => c.args[0])).toEqual(["--version", "-name", "--version", "-name"]);
  });
});

describe("the deeper probe: the guest's own kernel under the hardware accelerator", () => {
  // A nested paravirtual KVM: the tiny guest reaches its marker, a real kernel stops with an internal error.
  function lyingKvm(kernelUnderKvm: Partial<CommandResult>) {
    const calls: string[][] = [];
    const runner: CommandRunner = async (_file, args) => {
      calls.push([...args]);
      if (args[0] === "--version") return { stdout: "QEMU emulator version 7.2.22\n", stderr: "", exitCode: 0 };
      const accel = args[args.indexOf("-accel") + 1]?.split(",")[0];
      if (!args.includes("-kernel")) return { stderr: "", ...reached };
      if (accel === "kvm") return { stdout: "", stderr: "", exitCode: 0, ...kernelUnderKvm };
      return { stdout: "Kernel panic - not syncing: VFS: Unable to mount root fs\n", stderr: "", exitCode: 0 };
    };
    return { runner, calls };
  }
  const kvmDevice = () => join(dir, "kvm");
  const linux = host("linux", "amd64");

  it("a kernel stopped by a KVM internal error makes the answer tcg, in QEMU's words", async () => {
    await writeFile(kvmDevice(), "");
    const { runner, calls } = lyingKvm({
      stderr:
        "KVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000000\nemulation failure\nRAX=0000000000000000\n",
      timedOut: true,
      exitCode: null,
    });
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: "/usr/bin/qemu-system-x86_64",
      hostInfo: linux,
      kvmDevice: kvmDevice(),
      runner,
      cache: false,
      linuxKernel: "/images/stack-emulator-amd64.vmlinuz",
    });
    expect(result.accel).toBe("tcg");
    expect(result.tried[0]).toMatchObject({
      accel: "kvm",
      ok: false,
      reason:
        "the guest's kernel could not run under kvm: QEMU said: KVM internal error. Suberror: 1; emulation failure",
    });
    const kernelRun = calls.find((a) => a.includes("-kernel") && a.includes("kvm"));
    // The CPU model the VM uses, the console, and a panic that ends QEMU.
    expect(kernelRun).toEqual(expect.arrayContaining(["-cpu", "host", "-no-reboot", "-serial", "stdio"]));
    expect(kernelRun?.[kernelRun.indexOf("-append") + 1]).toBe("console=ttyS0 quiet panic=-1");
    // TCG is not put through the kernel boot.
    expect(calls.filter((a) => a.includes("-kernel"))).toHaveLength(1);
  });

  it("a kernel that boots to its root mount keeps kvm, and says how deep it was tested", async () => {
    await writeFile(kvmDevice(), "");
    const { runner } = lyingKvm({ stdout: "[    0.9] VFS: Unable to mount root fs on unknown-block(0,0)\n" });
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: "/usr/bin/qemu-system-x86_64",
      hostInfo: linux,
      kvmDevice: kvmDevice(),
      runner,
      cacheDir: join(dir, "deep-cache"),
      linuxKernel: "/images/stack-emulator-amd64.vmlinuz",
    });
    expect(result).toMatchObject({ accel: "kvm", depth: "linux-kernel" });
    expect(result.reason).toMatch(
      /reached the marker in \d+ ms, and the guest's kernel booted to its root mount in \d+ ms/,
    );
  });

  it("an answer from the tiny guest alone is probed again when the kernel is at hand", async () => {
    await writeFile(kvmDevice(), "");
    const cacheDir = join(dir, "shallow-cache");
    const common = {
      arch: "amd64",
      qemuBinary: "/usr/bin/qemu-system-x86_64",
      hostInfo: linux,
      kvmDevice: kvmDevice(),
      cacheDir,
    } as const;
    const failing = lyingKvm({ stderr: "KVM internal error. Suberror: 1\n", timedOut: true, exitCode: null });
    const shallow = await probeAccelerator({ ...common, runner: failing.runner });
    expect(shallow).toMatchObject({ accel: "kvm", depth: "tiny-guest" });
    const deep = await probeAccelerator({ ...common, runner: failing.runner, linuxKernel: "/k" });
    expect(deep).toMatchObject({ accel: "tcg", fromCache: false });
    const again = await probeAccelerator({ ...common, runner: failing.runner, linuxKernel: "/k" });
    expect(again).toMatchObject({ accel: "tcg", fromCache: true });
  });
});
