/**
 * End to end, with the shared self-test image (built once per run by the
 * e2e globalSetup): its manifest matches its files; a fresh overlay on it
 * boots under qemu-core and all four forwarded health paths answer 200 on
 * 127.0.0.1; and an aborted build leaves nothing behind.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildQemuArgs,
  detectHost,
  httpProbe,
  probeAccelerator,
  qemuImg,
  qemuSystemBinaryName,
  type VmSpec,
  waitForReady,
} from "@hexclave/qemu-core";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { selftestImage } from "../test-support/selftest-image.global-setup.js";
import { defaultCacheDir } from "./cache-dir.js";
import { readManifest } from "./image/manifest.js";
import { generateRuntimeSecrets } from "./image/runtime-secrets.js";
import { buildImage } from "./pipeline.js";
import { loadProfile } from "./profiles.js";
import { runtimeEnvFwCfgEntry, writeRuntimeEnvFwCfg } from "./provisioning/runtime-env-fwcfg.js";

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** QEMU processes whose command line mentions `path`. */
async function qemuProcessesMentioning(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes("qemu-system") && cmdline.includes(path))
      found.push(`${pid}: ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}

describe("the self-test image", () => {
  it("has a manifest that matches its files and the profile", async () => {
    const img = selftestImage();
    const manifest = await readManifest(img.manifest);
    expect(manifest.formatVersion).toBe(1);
    expect(manifest.arch).toBe("amd64");
    expect(manifest.profile).toBe("selftest");
    expect(manifest.image.compression).toBe("zstd");
    expect(manifest.image.sha256).toBe(await sha256(img.image));
    expect(manifest.image.virtualSize).toBe(12 * 1024 ** 3);
    expect(manifest.boot.kind).toBe("kernel");
    if (manifest.boot.kind === "kernel") {
      expect(manifest.boot.kernel.sha256).toBe(await sha256(img.kernel));
      expect(manifest.boot.initrd.sha256).toBe(await sha256(img.initrd));
      expect(manifest.boot.append).toContain("root=/dev/vda");
    }
    expect(manifest.base.kind).toBe("bootstrap");
    if (manifest.base.kind === "bootstrap") {
      const names = manifest.base.packages.map((p) => p.name);
      expect(names).toEqual(expect.arrayContaining(["linux-image-amd64", "docker.io", "cloud-init", "systemd"]));
    }
    expect(manifest.payload.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    const profile = await loadProfile("selftest");
    expect(manifest.services).toEqual(profile.exposed);
    expect(Object.keys(manifest.durations)).toEqual(
      expect.arrayContaining(["payload", "base", "warm-boot", "compaction", "guest:services-healthy"]),
    );
  });

  it("boots from a fresh overlay and answers 200 on all four forwarded health paths", async () => {
    const img = selftestImage();
    const manifest = await readManifest(img.manifest);
    if (manifest.boot.kind !== "kernel") throw new Error("expected a kernel-booting image");
    const work = await mkdtemp(join(tmpdir(), "hexclave-e2e-boot-"));
    const overlay = join(work, "disk.qcow2");
    await qemuImg.createOverlay({ file: overlay, backingFile: img.image, backingFormat: "qcow2" });
    const ports = await Promise.all(manifest.services.map(() => freePort()));
    const { accel } = await probeAccelerator({ arch: "amd64", cacheDir: defaultCacheDir() });
    // The image's contract: its runtime environment arrives through fw_cfg at every boot, as the emulator gives it.
    const portOf = (service: string) => ports[manifest.services.findIndex((s) => s.service === service)] ?? 0;
    await writeRuntimeEnvFwCfg(work, {
      ports: {
        dashboard: portOf("dashboard"),
        backend: portOf("backend"),
        minio: portOf("minio"),
        inbucket: portOf("inbucket"),
      },
      secrets: generateRuntimeSecrets(),
    });
    const spec: VmSpec = {
      name: "hexclave-e2e",
      arch: "amd64",
      accel,
      cpus: 2,
      memoryMb: 2048,
      drives: [{ id: "disk", file: overlay, format: "qcow2", discard: true }],
      kernelBoot: { kernel: img.kernel, initrd: img.initrd, append: manifest.boot.append },
      network: {
        kind: "user",
        forwards: manifest.services.map((s, i) => ({ hostPort: ports[i] ?? 0, guestPort: s.guestPort })),
      },
      serial: { file: join(work, "serial.log") },
      fwCfg: [runtimeEnvFwCfgEntry(work)],
      rng: true,
      noReboot: true,
    };
    const args = buildQemuArgs(spec, { hostArch: detectHost().arch });
    expect(args.join(" ")).toMatch(/hostfwd=tcp:127\.0\.0\.1:\d+-:8102/);
    const started = Date.now();
    const qemu = execa(qemuSystemBinaryName("amd64"), args, { reject: false, stdin: "ignore" });
    try {
      const results = await waitForReady(
        manifest.services.map((s, i) =>
          httpProbe({
            name: s.service,
            url: `http://127.0.0.1:${ports[i]}${s.health.path}`,
            expectStatus: [200],
          }),
        ),
        { deadlineMs: 600_000, intervalMs: 1_000 },
      );
      console.log(
        `cold boot to healthy: ${Math.round((Date.now() - started) / 1000)} s (${results.map((r) => `${r.name} ${Math.round((r.upAtMs ?? 0) / 1000)} s`).join(", ")})`,
      );
      expect(results.map((r) => [r.name, r.state])).toEqual(manifest.services.map((s) => [s.service, "up"]));
      for (const [i, s] of manifest.services.entries()) {
        const response = await fetch(`http://127.0.0.1:${ports[i]}${s.health.path}`);
        expect(response.status, s.service).toBe(200);
      }
    } catch (error) {
      const serial = await readFile(join(work, "serial.log"), "utf8").catch(() => "");
      console.log(`serial log tail:\n${serial.split("\n").slice(-40).join("\n")}`);
      throw error;
    } finally {
      qemu.kill("SIGKILL");
      await qemu;
      await rm(work, { recursive: true, force: true });
    }
  });

  it("leaves no QEMU, temp directory or image behind when a build is aborted during the warm boot", async () => {
    const outDir = await mkdtemp(join(tmpdir(), "hexclave-e2e-abort-"));
    const controller = new AbortController();
    let qemuSeen: string[] = [];
    const build = buildImage({
      arch: "amd64",
      profile: "selftest",
      base: "bootstrap",
      outDir,
      cpus: 1,
      memoryMb: 1024,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "warm-boot-started") {
          // Let QEMU really run for a moment, then Ctrl-C.
          setTimeout(async () => {
            qemuSeen = await qemuProcessesMentioning(outDir);
            controller.abort(new Error("Ctrl-C"));
          }, 2_000);
        }
      },
    });
    await expect(build).rejects.toMatchObject({ code: "ABORTED" });
    expect(qemuSeen.length).toBe(1);
    expect(await qemuProcessesMentioning(outDir)).toEqual([]);
    expect(await readdir(outDir)).toEqual([]);
    await rm(outDir, { recursive: true, force: true });
  });
});
