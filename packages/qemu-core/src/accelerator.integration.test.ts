import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeAccelerator } from "./accelerator.js";
import { execaRunner } from "./command-runner.js";
import { detectHost } from "./host.js";
import { findQemuBinary } from "./qemu-binary.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "accel-it-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("probeAccelerator on this host (real QEMU)", () => {
  it("answers tcg with KVM's failure as the reason, in under 10 s", async () => {
    const started = performance.now();
    const result = await probeAccelerator({ arch: "amd64", cache: false });
    const elapsed = performance.now() - started;
    console.log(`amd64 probe: ${Math.round(elapsed)} ms`, JSON.stringify(result, null, 2));
    expect(result.accel).toBe("tcg");
    const kvm = result.tried.find((a) => a.accel === "kvm");
    expect(kvm?.ok).toBe(false);
    expect(kvm?.reason).toMatch(/\/dev\/kvm|KVM|vCPU|marker/);
    expect(result.reason).toContain("kvm unusable");
    expect(result.tried.at(-1)).toMatchObject({ accel: "tcg", ok: true });
    expect(elapsed).toBeLessThan(10_000);
  });

  it("answers tcg for an arm64 guest on this amd64 host without trying KVM, and the guest reaches the marker", async () => {
    expect(detectHost().arch).toBe("amd64");
    const result = await probeAccelerator({ arch: "arm64", cache: false });
    console.log("arm64 probe", JSON.stringify(result, null, 2));
    expect(result.accel).toBe("tcg");
    expect(result.tried.map((a) => a.accel)).toEqual(["tcg"]);
    expect(result.tried[0]?.reason).toContain("reached the marker");
    expect(result.reason).toContain("cross-arch");
  });

  it("kills a KVM guest that hangs at the deadline and falls back to tcg", async () => {
    // /dev/kvm is absent here; a readable stand-in passes the pre-check, and a wrapper makes
    // QEMU hang exactly when asked for KVM, as broken KVM hosts do.
    const real = (await findQemuBinary("amd64")).path;
    const fakeKvm = join(dir, "kvm");
    await writeFile(fakeKvm, "");
    const wrapper = join(dir, "qemu-hangs-under-kvm");
    await writeFile(wrapper, `#!/bin/sh\nfor a in "$@"; do [ "$a" = kvm ] && exec sleep 60; done\nexec ${real} "$@"\n`);
    await chmod(wrapper, 0o755);
    const started = performance.now();
    const result = await probeAccelerator({
      arch: "amd64",
      qemuBinary: wrapper,
      kvmDevice: fakeKvm,
      hostInfo: { ...detectHost(), os: "linux" },
      cache: false,
      deadlineMs: 1500,
      runner: execaRunner,
    });
    const elapsed = performance.now() - started;
    expect(result.accel).toBe("tcg");
    expect(result.tried[0]).toMatchObject({ accel: "kvm", ok: false });
    expect(result.tried[0]?.reason).toContain("did not reach the marker within 1500 ms");
    expect(result.tried[0]?.durationMs).toBeLessThan(5000);
    expect(elapsed).toBeLessThan(10_000);
  });

  it("caches the answer per host and QEMU, and the cache is bypassed on request", async () => {
    const cacheDir = join(dir, "cache");
    const first = await probeAccelerator({ arch: "amd64", cacheDir });
    expect(first.fromCache).toBe(false);
    const second = await probeAccelerator({ arch: "amd64", cacheDir });
    expect(second.fromCache).toBe(true);
    expect({ ...second, fromCache: false }).toEqual(first);
    const bypassed = await probeAccelerator({ arch: "amd64", cacheDir, cache: false });
    expect(bypassed.fromCache).toBe(false);
    const envBypass = await probeAccelerator({
      arch: "amd64",
      cacheDir,
      env: { ...process.env, HEXCLAVE_NO_ACCEL_CACHE: "1" },
    });
    expect(envBypass.fromCache).toBe(false);
  });
});
