/**
 * Instant restart with the user's data (issue 8), end to end, on the shared
 * self-test image under TCG. One VM, in order: first cold boot (saves
 * `fresh`); a row survives stop -> resume; reset reverts to `fresh`; kill -9
 * then a crash-consistent cold boot keeps a committed row; a changed memory
 * size gives a visible cold boot and a new snapshot; stop --no-snapshot shuts
 * the guest down cleanly; reset --hard then a cold boot. Prints cold and resume times (phases since QEMU spawned).
 */
import { existsSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQemuImg } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selftestImage } from "#fixtures/image-builder/selftest-image.global-setup.js";
import { createEmulator, type Emulator, type EmulatorStartResult } from "./emulator.js";
import type { EmulatorEvent } from "./events.js";
import { imagePaths } from "./layout.js";

// Ports of our own, so a concurrent run of another package's e2e tests on the defaults does not collide.
const ports = { dashboard: 27700, backend: 27701, minio: 27702, inbucket: 27703 };
const settings = { arch: "amd64" as const, cpus: 2, memoryMb: 2048, ports, timeoutMs: 10 * 60_000 };
const backend = `http://127.0.0.1:${ports.backend}`;

let home: string;
let emulator: Emulator;
const timings: Array<{ step: string; kind: string; allHealthyMs: number | undefined; totalMs: number }> = [];

async function linkOrCopy(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

async function start(step: string, extra: Partial<typeof settings> = {}): Promise<EmulatorStartResult> {
  const events: EmulatorEvent[] = [];
  const r = await emulator.start({ ...settings, ...extra, onEvent: (e) => events.push(e) });
  timings.push({ step, kind: r.bootKind, allHealthyMs: r.phases["all-healthy"], totalMs: r.durationMs });
  if (!r.ready) console.log(`[emulator e2e] ${step} not ready: ${r.failing.join(", ")}\n${r.serialTail.join("\n")}`);
  expect(r.ready).toBe(true);
  // The boot kind and its reason are always announced before QEMU starts.
  const modes = events.filter((e) => e.type === "boot-mode");
  expect(modes.at(-1)).toMatchObject({ mode: r.bootKind, reason: r.reason });
  return r;
}

async function putRow(key: string, value: string): Promise<void> {
  const res = await fetch(`${backend}/rows/${key}`, { method: "PUT", body: value });
  expect(res.status).toBe(204);
}

async function getRow(key: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${backend}/rows/${key}`);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-emulator-e2e-"));
  const shared = selftestImage();
  const dest = imagePaths(home, "amd64");
  await mkdir(dest.dir, { recursive: true });
  await linkOrCopy(shared.image, dest.image);
  await linkOrCopy(shared.manifest, dest.manifest);
  await linkOrCopy(shared.kernel, dest.kernel);
  await linkOrCopy(shared.initrd, dest.initrd);
  emulator = createEmulator({ home, env: {} });
});

afterAll(async () => {
  await emulator?.reset({ hard: true }).catch(() => {});
  emulator?.close();
  if (timings.length > 0) console.table(timings);
  await rm(home, { recursive: true, force: true });
});

describe("emulator instant restart on the self-test image", () => {
  it("first start boots cold, gets healthy, and saves the fresh snapshot", async () => {
    const r = await start("first start");
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/first start/);
    expect(r.savedSnapshot).toBe("fresh");
    expect(r.phases["guest-booted"]).toBeGreaterThan(0);
    const status = await emulator.status({ arch: "amd64" });
    expect(status.health).toBe("healthy");
    expect(status.snapshots).toEqual(["fresh"]);
  });

  it("a row written before stop is there after start, and start resumed", async () => {
    await putRow("kept", "survives suspend");
    const stop = await emulator.stop();
    expect(stop).toMatchObject({ wasRunning: true, suspended: true });
    const r = await start("resume after stop");
    expect(r).toMatchObject({ bootKind: "resume", snapshot: "suspend" });
    expect(await getRow("kept")).toEqual({ status: 200, body: "survives suspend" });
    const status = await emulator.status({ arch: "amd64" });
    expect(status.lastStart).toMatchObject({ kind: "resume", reason: expect.stringMatching(/saved at stop/) });
    // Consumed: the suspend state file is gone; the overlay holds only fresh.
    expect(existsSync(emulator.paths.suspendState)).toBe(false);
    const names = (await createQemuImg().snapshotList(emulator.paths.overlay, { forceShare: true })).map((s) => s.name);
    expect(names).toEqual(["fresh"]);
  });

  it("reset reverts to fresh: the row is gone and the services are healthy", async () => {
    const reset = await emulator.reset();
    expect(reset).toMatchObject({ mode: "snapshot", stoppedFirst: true });
    const r = await start("resume fresh after reset");
    expect(r).toMatchObject({ bootKind: "resume", snapshot: "fresh" });
    expect((await getRow("kept")).status).toBe(404);
    expect(r.services.every((s) => s.up)).toBe(true);
  });

  it("kill -9 of QEMU: the next start boots cold, PostgreSQL recovers, the committed row is there", async () => {
    await putRow("committed", "before the kill");
    const before = await emulator.status({ arch: "amd64" });
    process.kill(before.vm.pid!, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await emulator.status({ arch: "amd64" })).health).toBe("crashed");
    const r = await start("cold after kill -9");
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/ended without a stop/);
    expect(await getRow("committed")).toEqual({ status: 200, body: "before the kill" });
    const status = await emulator.status({ arch: "amd64" });
    expect(status.lastStart).toMatchObject({ kind: "cold", reason: r.reason });
  });

  it("a changed memory size gives a visible cold boot with the reason, then a new snapshot", async () => {
    await emulator.stop();
    const r = await start("cold on changed memory", { memoryMb: 2304 });
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/memory \(MB\) 2048 -> 2304/);
    expect(await getRow("committed")).toEqual({ status: 200, body: "before the kill" });
    expect((await emulator.stop()).suspended).toBe(true);
    const again = await start("resume with the new machine", { memoryMb: 2304 });
    expect(again.bootKind).toBe("resume");
  });

  it("stop --no-snapshot shuts the guest down cleanly through its agent, not by cutting the power", async () => {
    // The minimal guest ignores the ACPI power button; without the agent's shutdown QEMU would be quit after 30 s.
    const stop = await emulator.stop({ noSnapshot: true });
    expect(stop).toMatchObject({ wasRunning: true, suspended: false, method: "powerdown" });
    expect((await emulator.status({ arch: "amd64" })).health).toBe("stopped");
  });

  it("reset --hard, then start is a cold boot of a new overlay", async () => {
    const reset = await emulator.reset({ hard: true });
    expect(reset.mode).toBe("overlay-deleted");
    const r = await start("cold after reset --hard");
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/first start/);
    // The body says which database error a 503 was.
    expect(await getRow("committed")).toEqual({ status: 404, body: expect.any(String) });
  });
});
