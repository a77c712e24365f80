/**
 * The deeper accelerator probe against real QEMU: the "guest's kernel" is a
 * tiny multiboot binary that prints Linux's panic line at the root mount and
 * resets (test-support/tiny-kernels.ts); the host is the lying-KVM wrapper
 * (real QEMU under TCG, the KVM internal error simulated: see
 * lying-kvm-qemu.mjs). The durations printed are the probe's cost here.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectHost, probeAccelerator } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installLyingKvmQemu } from "#fixtures/qemu-core/lying-kvm/lying-kvm.js";
import { consoleMultibootKernel } from "../test-support/tiny-kernels.js";

let dir: string;
let kernel: string;
let fakeKvm: string;
const host = { ...detectHost(), os: "linux" as const, arch: "amd64" as const };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-deep-probe-"));
  kernel = join(dir, "vmlinuz");
  await writeFile(
    kernel,
    consoleMultibootKernel("Kernel panic - not syncing: VFS: Unable to mount root fs\n", "reset"),
  );
  fakeKvm = join(dir, "kvm"); // the probe's pre-check only needs the device to be there, readable and writable
  await writeFile(fakeKvm, "");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("probeAccelerator with the guest's kernel (real QEMU, lying KVM)", () => {
  it("a KVM that runs the tiny guest but not the kernel is found out before the first real boot", async () => {
    const lying = await installLyingKvmQemu(await mkdtemp(join(dir, "bin-")), { tripMs: 300 });
    // A kernel as slow as a real one to reach its root mount: it prints its first line and keeps running.
    const slowKernel = join(dir, "slow-vmlinuz");
    await writeFile(slowKernel, consoleMultibootKernel("Linux version 6.12.0 (tiny)\n", "spin"));
    const began = performance.now();
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: lying,
      hostInfo: host,
      kvmDevice: fakeKvm,
      cache: false,
      linuxKernel: slowKernel,
      kernelDeadlineMs: 60_000,
    });
    console.log(
      `deep probe on the lying KVM: ${Math.round(performance.now() - began)} ms`,
      JSON.stringify(result.tried),
    );
    expect(result.accel).toBe("tcg");
    expect(result.tried[0]).toMatchObject({ accel: "kvm", ok: false });
    expect(result.tried[0]?.reason).toContain("QEMU said: KVM internal error. Suberror: 1");
  });

  it("an accelerator that boots the kernel is kept (its cost measured)", async () => {
    const sparing = await installLyingKvmQemu(await mkdtemp(join(dir, "bin-")), { spare: "probes" });
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: sparing,
      hostInfo: host,
      kvmDevice: fakeKvm,
      cache: false,
      linuxKernel: kernel,
    });
    console.log("deep probe, kernel booted:", JSON.stringify(result.tried));
    expect(result).toMatchObject({ accel: "kvm", depth: "linux-kernel" });
    expect(result.reason).toContain("the guest's kernel booted to its root mount");
  });
});
