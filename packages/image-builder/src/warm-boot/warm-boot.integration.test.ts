/**
 * The warm boot's handling of a guest kernel that panics, against the real
 * QEMU here: the "kernel" is a tiny multiboot binary that prints Linux's
 * panic line on the serial console and resets the machine, which
 * `-no-reboot` turns into QEMU exiting (test-support/tiny-kernels.ts), or a
 * tiny firmware that prints the panic line and spins, as a firmware-booted
 * kernel without `panic=` would (qemu-core's test-support/test-guests.ts). The
 * overlay, seed ISO and payload drive are real files.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQemuImg } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installLyingKvmQemu } from "#fixtures/qemu-core/lying-kvm/lying-kvm.js";
import { amd64ConsoleRom } from "#fixtures/qemu-core/test-guests.js";
import { consoleMultibootKernel } from "../../test-support/tiny-kernels.js";
import { acceleratorFailureOf } from "../accelerator-fallback.js";
import { type WarmBootEvent, type WarmBootOptions, warmBoot } from "./warm-boot.js";

let dir: string;
let options: (workDir: string, onEvent: (e: WarmBootEvent) => void) => WarmBootOptions;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-warm-boot-"));
  const base = join(dir, "base.qcow2");
  await createQemuImg().create({ file: base, format: "qcow2", size: "64M" });
  const kernel = join(dir, "panic.bin");
  await writeFile(kernel, consoleMultibootKernel("Kernel panic - not syncing: tiny kernel test\n", "reset"));
  const initrd = join(dir, "initrd");
  await writeFile(initrd, Buffer.alloc(512));
  const payload = join(dir, "payload.tar");
  await writeFile(payload, Buffer.alloc(10240));
  options = (workDir, onEvent) => ({
    arch: "amd64",
    base: { image: base, boot: { kind: "kernel", kernel, initrd, append: "console=ttyS0" } },
    payload: { tarball: payload, imageId: "sha256:none", tag: "hexclave/none:test" },
    services: [],
    workDir,
    accel: "tcg",
    cpus: 1,
    memoryMb: 128,
    diskSizeGb: 2,
    deadlineMs: 120_000,
    onEvent,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("warmBoot and a guest kernel panic", () => {
  it("starts the boot again once from a new overlay, keeps the failed console, then fails naming the panic", async () => {
    const workDir = join(dir, "retry");
    const events: WarmBootEvent[] = [];
    const error = await warmBoot(options(workDir, (e) => events.push(e))).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "WARM_BOOT_FAILED",
      message: expect.stringContaining("The guest kernel panicked (tiny kernel test) before provisioning finished"),
      details: { kernelPanic: "tiny kernel test", stage: "kernel-boot", lastReached: true },
    });
    expect(events.filter((e) => e.type === "warm-boot-started")).toHaveLength(2);
    const retries = events.filter((e) => e.type === "warm-boot-retry");
    expect(retries).toEqual([
      {
        type: "warm-boot-retry",
        attempt: 2,
        reason: "tiny kernel test",
        serialLog: join(workDir, "serial.attempt-1.log"),
      },
    ]);
    expect(await readFile(join(workDir, "serial.attempt-1.log"), "utf8")).toContain("Kernel panic - not syncing");
    expect(await readFile(join(workDir, "serial.log"), "utf8")).toContain("Kernel panic - not syncing");
  });

  it("a firmware boot whose kernel hangs after its panic: QEMU is killed at the panic line, then the same retry", async () => {
    // The kernel of a firmware boot runs its boot loader's command line (no panic=-1): it panics, then spins.
    const firmware = join(dir, "panic-firmware.bin");
    await writeFile(firmware, amd64ConsoleRom("Kernel panic - not syncing: tiny firmware test\n"));
    const workDir = join(dir, "firmware-retry");
    const events: WarmBootEvent[] = [];
    const base = options(workDir, (e) => events.push(e));
    const error = await warmBoot({
      ...base,
      base: { ...base.base, boot: { kind: "firmware", code: firmware } },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "WARM_BOOT_FAILED",
      message: expect.stringContaining("The guest kernel panicked (tiny firmware test) before provisioning finished"),
      details: { kernelPanic: "tiny firmware test", stage: "kernel-boot", lastReached: true },
    });
    expect(events.filter((e) => e.type === "warm-boot-started")).toHaveLength(2);
    expect(events.filter((e) => e.type === "warm-boot-retry")).toMatchObject([
      { attempt: 2, reason: "tiny firmware test" },
    ]);
    expect(await readFile(join(workDir, "serial.attempt-1.log"), "utf8")).toContain("tiny firmware test");
  });

  it("with panicRetries 0 fails at the first panic; a bad panicRetries is refused before anything starts", async () => {
    const workDir = join(dir, "no-retry");
    const events: WarmBootEvent[] = [];
    await expect(warmBoot({ ...options(workDir, (e) => events.push(e)), panicRetries: 0 })).rejects.toMatchObject({
      code: "WARM_BOOT_FAILED",
      details: { kernelPanic: "tiny kernel test" },
    });
    expect(events.some((e) => e.type === "warm-boot-retry")).toBe(false);
    expect(events.filter((e) => e.type === "warm-boot-started")).toHaveLength(1);

    const badDir = join(dir, "bad");
    await expect(warmBoot({ ...options(badDir, () => {}), panicRetries: -1 })).rejects.toMatchObject({
      code: "BUILD_INPUT_INVALID",
      message: expect.stringContaining("panicRetries"),
    });
    expect(existsSync(badDir)).toBe(false);
  });
});

describe("warmBoot on a KVM that fails real guests (lying-KVM wrapper: real QEMU under TCG)", () => {
  it("fails within seconds with EMULATOR_VM_FAILED, the accelerator at fault, in QEMU's words", async () => {
    const spin = join(dir, "spin.bin");
    await writeFile(spin, consoleMultibootKernel("Linux version 6.12 (tiny)\n", "spin"));
    const lying = await installLyingKvmQemu(dir, { tripMs: 500 });
    const workDir = join(dir, "lying-kvm");
    const base = options(workDir, () => {});
    const began = Date.now();
    const error = await warmBoot({
      ...base,
      base: {
        ...base.base,
        boot: { kind: "kernel", kernel: spin, initrd: join(dir, "initrd"), append: "console=ttyS0" },
      },
      accel: "kvm",
      qemuBinary: lying,
    }).catch((e: unknown) => e);
    console.log(
      `warm boot on the lying KVM failed after ${Date.now() - began} ms: ${String((error as Error).message)}`,
    );
    expect(error).toMatchObject({
      code: "EMULATOR_VM_FAILED",
      details: { accel: "kvm", failure: { kind: "internal-error", fault: "accelerator" } },
    });
    expect((error as Error).message).toContain("KVM internal error. Suberror: 1");
    expect(acceleratorFailureOf(error, "kvm")?.failure.runState).toBe("internal-error");
    expect(await readFile(join(workDir, "qemu.log"), "utf8")).toContain("RAX=");
  });
});
