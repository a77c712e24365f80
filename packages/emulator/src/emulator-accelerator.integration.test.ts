/**
 * The accelerator fallback of a start, on the guest-less VM of emulator.integration.test.ts and a host whose KVM
 * fails real guests (the lying-KVM wrapper first on PATH: real QEMU under TCG, `KVM internal error` and the paused
 * internal-error run state simulated; see lying-kvm-qemu.mjs). Prints the time from the failure to the tcg relaunch.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfile } from "@hexclave/image-builder";
import { imageFileName, initrdFileName, kernelFileName, writeManifest } from "@hexclave/image-builder/image";
import { createQemuImg } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleMultibootKernel } from "#fixtures/image-builder/tiny-kernels.js";
import { installLyingKvmQemu } from "#fixtures/qemu-core/lying-kvm/lying-kvm.js";
import { createEmulator, type Emulator } from "./emulator.js";
import type { EmulatorEvent } from "./events.js";
import { imagePaths } from "./layout.js";

let home: string;
let emulator: Emulator;
const originalPath = process.env.PATH;
const base = 45000 + Math.floor(Math.random() * 2000) * 4;
const ports = { dashboard: base, backend: base + 1, minio: base + 2, inbucket: base + 3 };
const common = { arch: "amd64" as const, cpus: 1, memoryMb: 256, timeoutMs: 2000, ports };
const TINY_KERNEL_BANNER = "hexclave tiny kernel";
const TINY_KERNEL_PANIC = "Kernel panic - not syncing: tiny kernel test";

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-emulator-accel-"));
  const paths = imagePaths(home, "amd64");
  await mkdir(paths.dir, { recursive: true });
  await createQemuImg().create({ file: paths.image, format: "qcow2", size: "64M" });
  await writeFile(paths.kernel, consoleMultibootKernel(`${TINY_KERNEL_BANNER}\n${TINY_KERNEL_PANIC}\n`, "spin"));
  await writeFile(paths.initrd, Buffer.alloc(512));
  const digest = "0".repeat(64);
  await writeManifest(paths.manifest, {
    formatVersion: 1,
    arch: "amd64",
    profile: "selftest",
    image: { file: imageFileName("amd64"), size: 0, virtualSize: 64 << 20, sha256: digest, compression: "none" },
    boot: {
      kind: "kernel",
      kernel: { file: kernelFileName("amd64"), sha256: digest },
      initrd: { file: initrdFileName("amd64"), sha256: digest },
      append: "",
    },
    base: {
      kind: "bootstrap",
      recipeHash: "test",
      suite: "trixie",
      mirror: "none",
      kernelVersion: "none",
      packages: [],
    },
    payload: { imageId: "none", tag: "none" },
    services: (await loadProfile("selftest")).exposed,
    qemuVersion: "7.2.0",
    buildAccel: "tcg",
    builtAt: new Date().toISOString(),
    durations: {},
  });
  // The wrapper first on PATH (VmInstance and the probe find QEMU there); its kernel probe answers "passed", so only
  // the real run meets the failure. A file stands in for /dev/kvm: the probe checks it is there and read-write.
  const bin = join(home, "bin");
  await mkdir(bin);
  await installLyingKvmQemu(bin, { tripMs: 500, spare: "pass-probes" });
  process.env.PATH = `${bin}:${originalPath ?? ""}`;
  const kvmDevice = join(home, "kvm");
  await writeFile(kvmDevice, "");
  emulator = createEmulator({ home, env: { PATH: process.env.PATH }, kvmDevice });
});

afterAll(async () => {
  await emulator?.reset({ hard: true }).catch(() => {});
  emulator?.close();
  process.env.PATH = originalPath;
  await rm(home, { recursive: true, force: true });
});

describe("emulator start on a KVM that fails the guest", () => {
  it("auto: the VM is stopped within seconds, the start goes on under tcg saying why, and the verdict is kept", async () => {
    const events: EmulatorEvent[] = [];
    const r = await emulator.start({ ...common, onEvent: (e) => events.push(e) });
    const fallback = r.acceleratorFallback;
    console.log(
      `accelerator fallback: failure seen ${fallback?.detectedAfterMs} ms after QEMU started; tcg QEMU spawned ${fallback?.relaunchAfterMs} ms after the failure was seen`,
    );
    expect(r.accel).toBe("tcg");
    expect(fallback).toMatchObject({ from: "kvm", reason: expect.stringContaining("KVM internal error. Suberror: 1") });
    const accels = events.filter((e) => e.type === "accelerator").map((e) => (e.type === "accelerator" ? e.accel : ""));
    expect(accels).toEqual(["kvm", "tcg"]);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "accelerator-fallback",
        from: "kvm",
        to: "tcg",
        reason: expect.stringContaining("internal-error"),
      }),
    );
    expect((await emulator.status({ arch: "amd64" })).vm).toMatchObject({ state: "running", accelerator: "tcg" });

    // The next start goes straight to tcg: the verdict was cached with the probe.
    await emulator.stop({ noSnapshot: true });
    const again: EmulatorEvent[] = [];
    const next = await emulator.start({ ...common, onEvent: (e) => again.push(e) });
    expect(next.accel).toBe("tcg");
    expect(next.accelReason).toMatch(/^kvm cannot run this guest on this host: KVM internal error\. Suberror: 1/);
    expect(again.some((e) => e.type === "accelerator-fallback")).toBe(false);
    await emulator.stop({ noSnapshot: true });
  });

  it("a forced kvm that fails the guest is ACCEL_FAILED, with nothing left running", async () => {
    await expect(emulator.start({ ...common, accel: "kvm" })).rejects.toMatchObject({
      code: "ACCEL_FAILED",
      message: expect.stringContaining("kvm was chosen (--accel kvm or EMULATOR_ACCEL)"),
    });
    expect((await emulator.status({ arch: "amd64" })).vm.state).toBe("stopped");
  });
});
