import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceleratorCandidates, probeAccelerator } from "./accelerator.js";
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
