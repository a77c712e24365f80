/**
 * `build-image amd64 --base cloud`, end to end, against the local stand-in
 * of Debian's cloud image host (test-support/cloud-image-host.ts): the base
 * is downloaded and checked against the host's SHA512SUMS, booted under
 * OVMF from its own GRUB, its root partition 1 grown, provisioned (Docker
 * installed from the Debian mirror, the self-test payload loaded, services
 * healthy, cloud-init disabled), compressed; then the emulator starts the
 * image and its four ports answer on 127.0.0.1.
 *
 * Cost: the stand-in disk is built once and cached (about 3-5 min); the
 * build's warm boot installs Docker in the guest under TCG (the longest part).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BuildEvent, type BuiltImage, buildImage } from "@hexclave/image-builder";
import { readManifest } from "@hexclave/image-builder/image";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CloudImageHost, startCloudImageHost } from "#fixtures/image-builder/cloud-image-host.js";
import { fourPortStatuses } from "#fixtures/image-builder/four-ports.js";
import { createEmulator, type Emulator } from "./emulator.js";
import { imagePaths } from "./layout.js";

// Ports of our own, so the other e2e files' emulators (27700..., the defaults) never collide with this one.
const ports = { dashboard: 28700, backend: 28701, minio: 28702, inbucket: 28703 };

let host: CloudImageHost;
let home: string;
let built: BuiltImage;
let emulator: Emulator | undefined;
const events: BuildEvent[] = [];
const log = (line: string) => console.log(`[cloud e2e] ${line}`);

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-cloud-e2e-"));
  host = await startCloudImageHost(["amd64"], { log });
  const started = Date.now();
  const result = await buildImage({
    arch: "amd64",
    profile: "selftest",
    base: "cloud",
    cloudMirror: host.latestUrl,
    outDir: imagePaths(home, "amd64").dir,
    cacheDir: join(home, "cache"),
    cpus: 2,
    memoryMb: 3072,
    diskSizeGb: 12,
    deadlineMs: 50 * 60_000,
    onEvent: (e) => {
      events.push(e);
      if (e.type === "build-stage-done" || e.type === "warm-boot-stage")
        log(`[${Math.round((Date.now() - started) / 1000)} s] ${JSON.stringify(e)}`);
    },
  });
  const first = result.images[0];
  if (first === undefined) throw new Error("the build returned no image");
  built = first;
}, 3_600_000);

afterAll(async () => {
  await emulator?.reset({ hard: true }).catch(() => {});
  emulator?.close();
  await host?.close();
  await rm(home, { recursive: true, force: true });
});

describe("build-image amd64 --base cloud against the stand-in host", () => {
  it("downloaded the base from the host with its SHA512SUMS digest and booted it under firmware", async () => {
    const disk = host.disks[0];
    const manifest = await readManifest(built.manifestPath);
    expect(manifest.base).toEqual({
      kind: "cloud",
      file: "debian-13-generic-amd64.qcow2",
      sha512: disk?.sha512,
      url: `${host.latestUrl}debian-13-generic-amd64.qcow2`,
    });
    expect(manifest.boot).toEqual({ kind: "firmware" });
    expect(events.some((e) => e.type === "base-download" && e.event.type === "base-checksums")).toBe(true);
    // The guest reached every provisioning stage, the grown disk and cloud-init's switch-off included.
    const stages = events.flatMap((e) => (e.type === "warm-boot-stage" ? [e.stage] : []));
    expect(stages).toEqual(
      expect.arrayContaining(["disk-grown", "payload-loaded", "services-healthy", "cloud-init-disabled"]),
    );
    expect(manifest.image.compression).toBe("zstd");
  });

  it("starts from the built image to the four ports answering on 127.0.0.1", async () => {
    emulator = createEmulator({ home, env: {} });
    const r = await emulator.start({
      arch: "amd64",
      cpus: 2,
      memoryMb: 2048,
      ports,
      timeoutMs: 15 * 60_000,
      fileBridge: { enabled: false },
    });
    if (!r.ready) log(`not ready: ${r.failing.join(", ")}\n${r.serialTail.join("\n")}`);
    expect(r.ready).toBe(true);
    expect(await fourPortStatuses(ports)).toEqual({ dashboard: 200, backend: 200, minio: 200, inbucket: 200 });
  });
});
