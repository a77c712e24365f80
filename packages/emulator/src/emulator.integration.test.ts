/**
 * The runtime's state machine against the real QEMU here, with a VM that
 * needs no guest OS: the image's "kernel" is a tiny multiboot binary that
 * prints a banner and a kernel-panic line on the serial console, then spins
 * forever (QEMU loads it with -kernel, the vCPU runs, RAM is real;
 * test-support/tiny-kernels.ts). Services never answer (ready: false after
 * a short deadline), there is no guest agent (flush and clock fix-up are
 * skipped with a warning), but QEMU, snapshots, resume, fingerprints and
 * crash handling are real. The shared self-test image covers the rest
 * (emulator.e2e.test.ts).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfile } from "@hexclave/image-builder";
import {
  imageFileName,
  initrdFileName,
  kernelFileName,
  RUNTIME_ENV_FW_CFG_FILE,
  readManifest,
  writeManifest,
} from "@hexclave/image-builder/image";
import { createQemuImg, isProcessAlive } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleMultibootKernel } from "#fixtures/image-builder/tiny-kernels.js";
import { amd64ConsoleRom } from "#fixtures/qemu-core/test-guests.js";
import { createEmulator, type Emulator } from "./emulator.js";
import type { EmulatorEvent } from "./events.js";
import { imagePaths } from "./layout.js";
import { guestMemoryFile, SHARED_MEMORY_DIR, suspendMemoryFile } from "./machine/guest-memory.js";
import { readSnapshotRecord, updateSnapshotRecord } from "./store/snapshot-record.js";

let home: string;
let emulator: Emulator;
/** The running VM's memory file: in /dev/shm on this host (a tmpfs with room for the test VMs). */
const liveMemory = () => guestMemoryFile(emulator.paths, { kind: "tmpfs", dir: SHARED_MEMORY_DIR });
const base = 41000 + Math.floor(Math.random() * 2000) * 4;
const ports = { dashboard: base, backend: base + 1, minio: base + 2, inbucket: base + 3 };
const common = { arch: "amd64" as const, cpus: 1, memoryMb: 256, timeoutMs: 1500, ports };

/** What the guest-less VM's kernel prints on its console before it spins: a banner, then a panic line. */
const TINY_KERNEL_BANNER = "hexclave tiny kernel";
const TINY_KERNEL_PANIC = "Kernel panic - not syncing: tiny kernel test";

/**
 * The guest-less VM never becomes healthy, and `stop` saves only a machine that did (issue 14): the tests of the
 * suspend mechanism record it as healthy first, as a start does once every service answers.
 */
async function markHealthy(): Promise<void> {
  await updateSnapshotRecord(emulator.recordFile, (r) => ({ ...r, healthySinceStart: true }));
}

function collect(): { events: EmulatorEvent[]; onEvent: (e: EmulatorEvent) => void } {
  const events: EmulatorEvent[] = [];
  return { events, onEvent: (e) => events.push(e) };
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-emulator-"));
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
  emulator = createEmulator({ home, env: {} });
});

afterAll(async () => {
  await emulator?.reset({ hard: true }).catch(() => {});
  emulator?.close();
  await rm(home, { recursive: true, force: true });
});

describe("emulator runtime on a guest-less VM", () => {
  it("a missing image is a clear error with the way to get one", async () => {
    const other = createEmulator({ home: join(home, "nowhere"), env: {} });
    await expect(other.start({ arch: "amd64" })).rejects.toMatchObject({
      code: "EMULATOR_IMAGE_MISSING",
      hint: expect.stringContaining("stack emulator pull"),
    });
  });

  it("first start boots cold; not ready lists the failing services; status is degraded", async () => {
    const { events, onEvent } = collect();
    const r = await emulator.start({ ...common, onEvent });
    expect(r).toMatchObject({ alreadyRunning: false, ready: false, bootKind: "cold", accel: "tcg" });
    expect(r.reason).toMatch(/first start/);
    expect(r.failing).toEqual(["dashboard", "backend", "minio", "inbucket"]);
    expect(events.find((e) => e.type === "accelerator")).toMatchObject({ accel: "tcg" });
    expect(events.find((e) => e.type === "boot-mode")).toMatchObject({ mode: "cold" });
    // The panic line on the guest's console is reported while the start waits.
    expect(events).toContainEqual({
      type: "message",
      level: "warn",
      text: expect.stringMatching(/^The guest kernel panicked \(tiny kernel test\); it restarts by itself/),
    });
    const status = await emulator.status({ arch: "amd64" });
    expect(status.health).toBe("degraded");
    expect(status.vm).toMatchObject({ state: "running", cpus: 1, memoryMb: 256, accelerator: "tcg" });
    expect(status.services.map((s) => [s.name, s.up, s.url])).toEqual([
      ["dashboard", false, `http://127.0.0.1:${ports.dashboard}`],
      ["backend", false, `http://127.0.0.1:${ports.backend}`],
      ["minio", false, `http://127.0.0.1:${ports.minio}`],
      ["inbucket", false, `http://127.0.0.1:${ports.inbucket}`],
    ]);
    expect(status.lastStart).toMatchObject({ kind: "cold" });
  });

  it("stop never saves a VM that did not reach healthy since its last start (issue 14)", async () => {
    const { events, onEvent } = collect();
    const stop = await emulator.stop({ onEvent });
    expect(stop).toMatchObject({
      wasRunning: true,
      suspended: false,
      reason: expect.stringMatching(/did not reach healthy/),
    });
    expect(events).toContainEqual(
      expect.objectContaining({ type: "message", level: "warn", text: expect.stringMatching(/^Not suspending/) }),
    );
    expect(existsSync(emulator.paths.suspendState)).toBe(false);
    // Nothing will resume the guest's memory: its file is gone with the VM, and no copy was made.
    expect(existsSync(liveMemory())).toBe(false);
    expect(existsSync(suspendMemoryFile(emulator.paths))).toBe(false);
    const r = await emulator.start({ ...common });
    expect(r.bootKind).toBe("cold");
  });

  it("stop suspends into a state file; start resumes it with the identical machine and consumes it", async () => {
    await markHealthy();
    const stop = await emulator.stop();
    expect(stop).toMatchObject({ wasRunning: true, suspended: true, method: "suspend" });
    // The state is a file beside the overlay holding the devices, and the guest's memory is copied beside it (a
    // sparse copy of the VM's 256 MB); the memory file in /dev/shm is gone with QEMU. The overlay holds no suspend.
    expect((await stat(emulator.paths.suspendState)).size).toBeGreaterThan(10_000);
    expect((await stat(suspendMemoryFile(emulator.paths))).size).toBe(256 * 2 ** 20);
    expect(existsSync(liveMemory())).toBe(false);
    // The saved state carries the digest of the runtime environment its guest runs with (this start's fw_cfg file).
    const envDigest = createHash("sha256")
      .update(await readFile(join(emulator.paths.dir, RUNTIME_ENV_FW_CFG_FILE)))
      .digest("hex");
    expect((await readSnapshotRecord(emulator.recordFile)).snapshots.suspend?.runtimeEnvSha256).toBe(envDigest);
    const snaps = await createQemuImg().snapshotList(emulator.paths.overlay, { forceShare: true });
    expect(snaps.map((s) => s.name)).not.toContain("suspend");
    expect((await emulator.status({ arch: "amd64" })).health).toBe("stopped");

    const { events, onEvent } = collect();
    const r = await emulator.start({ ...common, onEvent });
    expect(r.reason).toMatch(/resuming the state saved at stop/);
    expect(r.bootKind).toBe("resume");
    expect(r.snapshot).toBe("suspend");
    expect(r.reason).toMatch(/resuming the state saved at stop/);
    const record = JSON.parse(await readFile(emulator.paths.record, "utf8")) as { args: string[]; loadvm?: string };
    expect(record.loadvm).toBeUndefined();
    // Loaded with -incoming defer: the stream (the devices) starts once QEMU knows the RAM is the memory file, into
    // which the start copied the saved memory back.
    expect(record.args).toEqual(expect.arrayContaining(["-incoming", "defer"]));
    expect(record.args.join(" ")).toContain(`mem-path=${liveMemory().replaceAll(",", ",,")},share=on`);
    expect((await stat(liveMemory())).size).toBe(256 * 2 ** 20);
    // Consumed: the disk moves on from here, so the state is never resumed twice.
    expect(existsSync(emulator.paths.suspendState)).toBe(false);
    expect(existsSync(suspendMemoryFile(emulator.paths))).toBe(false);
    expect(events).toContainEqual({ type: "snapshot-deleted", name: "suspend" });
    // The same ports and secrets: the guest is not asked to refresh its environment.
    const fixup = events.find((e) => e.type === "stage-end" && e.stage === "guest-fixup");
    expect(fixup).toMatchObject({
      // The same guest network: its link is kept (no bounce, which costs a resume about 0.5 s).
      detail: expect.stringMatching(/^runtime environment unchanged \(same digest as the saved run's\), link kept/),
    });
    const status = await emulator.status({ arch: "amd64" });
    expect(status.lastStart).toMatchObject({ kind: "resume", snapshot: "suspend" });
    expect((await readSnapshotRecord(emulator.recordFile)).current?.runtimeEnvSha256).toBe(envDigest);
  });

  it("a resume on a moved host port asks the guest to refresh its environment; unanswered, it is unknown", async () => {
    await markHealthy();
    await emulator.stop();
    const { events, onEvent } = collect();
    const moved = { ...ports, backend: ports.backend + 10_000 };
    const r = await emulator.start({ ...common, ports: moved, onEvent });
    expect(r).toMatchObject({ bootKind: "resume", snapshot: "suspend" });
    const fixup = events.find((e) => e.type === "stage-end" && e.stage === "guest-fixup");
    expect(fixup).toMatchObject({ detail: expect.not.stringContaining("runtime environment unchanged") });
    // The guest-less VM has no agent: the refresh could not run, so the next resume refreshes again.
    expect(events).toContainEqual(
      expect.objectContaining({ type: "message", text: expect.stringContaining("guest agent did not answer") }),
    );
    expect((await readSnapshotRecord(emulator.recordFile)).current?.runtimeEnvSha256).toBeUndefined();
    await markHealthy();
    await emulator.stop();
    expect((await readSnapshotRecord(emulator.recordFile)).snapshots.suspend?.runtimeEnvSha256).toBeUndefined();
    const back = await emulator.start({ ...common, timeoutMs: 1500 });
    expect(back).toMatchObject({ bootKind: "resume", snapshot: "suspend" });
  });

  it("already running: start is a no-op that says so", async () => {
    const r = await emulator.start({ ...common, timeoutMs: 500 });
    expect(r).toMatchObject({ alreadyRunning: true, bootKind: "none", ready: false });
  });

  it("a changed memory size does not resume: visible cold boot with the reason, then a new suspend", async () => {
    await markHealthy();
    await emulator.stop();
    const { events, onEvent } = collect();
    const r = await emulator.start({ ...common, memoryMb: 320, onEvent });
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/memory \(MB\) 256 -> 320/);
    expect(events.find((e) => e.type === "boot-mode")).toMatchObject({ mode: "cold", reason: r.reason });
    // The state that did not fit was dropped: it can never be resumed later.
    expect(existsSync(emulator.paths.suspendState)).toBe(false);
    await markHealthy();
    await emulator.stop();
    const again = await emulator.start({ ...common, memoryMb: 320 });
    expect(again.bootKind).toBe("resume");
  });

  it("kill -9 of QEMU: the next start boots the disk cold and says why", async () => {
    const status = await emulator.status({ arch: "amd64" });
    expect(status.vm.pid).toBeGreaterThan(0);
    process.kill(status.vm.pid!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 500));
    expect((await emulator.status({ arch: "amd64" })).health).toBe("crashed");
    // The dead QEMU's memory file is still in /dev/shm: a stop gives that RAM back.
    expect(existsSync(liveMemory())).toBe(true);
    expect(await emulator.stop()).toMatchObject({ wasRunning: false, method: "none" });
    expect(existsSync(liveMemory())).toBe(false);
    const r = await emulator.start({ ...common, memoryMb: 320 });
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/ended without a stop/);
    const after = await emulator.status({ arch: "amd64" });
    expect(after.lastStart).toMatchObject({ kind: "cold", reason: r.reason });
  });

  it("no-snapshot stop powers off; the next start is cold and says so", async () => {
    const stop = await emulator.stop({ noSnapshot: true });
    expect(stop.suspended).toBe(false);
    expect(stop.wasRunning).toBe(true);
    const r = await emulator.start({ ...common, memoryMb: 320 });
    expect(r.bootKind).toBe("cold");
    expect(r.reason).toMatch(/saved no state/);
  });

  it("reset without a fresh snapshot deletes the overlay; reset --hard then start is a first cold boot", async () => {
    const reset = await emulator.reset();
    expect(reset).toMatchObject({ mode: "overlay-deleted", stoppedFirst: true });
    expect(reset.reason).toMatch(/no fresh snapshot/);
    // The running VM's memory file goes with the disk it belonged to.
    expect(existsSync(liveMemory())).toBe(false);
    const r = await emulator.start(common);
    expect(r.reason).toMatch(/first start/);
    expect(existsSync(liveMemory())).toBe(true);
    const hard = await emulator.reset({ hard: true });
    expect(hard.mode).toBe("overlay-deleted");
    expect(existsSync(liveMemory())).toBe(false);
    expect(() => execFileSync("qemu-img", ["info", emulator.paths.overlay], { stdio: "ignore" })).toThrow();
  });

  it("serial logs are readable as lines", async () => {
    const lines: string[] = [];
    for await (const line of emulator.logs({ source: "serial" })) lines.push(line);
    expect(lines).toEqual(expect.arrayContaining([TINY_KERNEL_BANNER, TINY_KERNEL_PANIC]));
  });
});

/** Resolves once `events` holds an event of `type` (polled), or fails after `ms`. */
async function eventSeen(events: readonly EmulatorEvent[], type: EmulatorEvent["type"], ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!events.some((e) => e.type === type)) {
    if (Date.now() > deadline) throw new Error(`no ${type} event within ${ms} ms: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("other commands while a start waits", () => {
  it("a second start is refused, status says starting, and a stop ends the waiting start with a clear error", async () => {
    const { events, onEvent } = collect();
    const waiting = emulator.start({ ...common, timeoutMs: 120_000, onEvent });
    waiting.catch(() => {});
    await eventSeen(events, "qemu-up");
    const other = createEmulator({ home, env: {} });
    try {
      await expect(other.start(common)).rejects.toMatchObject({
        code: "EMULATOR_START_IN_PROGRESS",
        message: expect.stringContaining(`pid ${process.pid}`),
      });
      const status = await other.status({ arch: "amd64" });
      expect(status).toMatchObject({ health: "degraded", vm: { state: "starting" } });
      const stop = await other.stop();
      expect(stop.wasRunning).toBe(true);
    } finally {
      other.close();
    }
    await expect(waiting).rejects.toMatchObject({
      code: "EMULATOR_STOPPED_DURING_START",
      message: expect.stringMatching(/stopped by another command .* while this start waited/),
    });
    expect((await emulator.status({ arch: "amd64" })).vm.state).toBe("stopped");
  });

  it("an aborted start stops the QEMU it launched; the next start says why it boots cold", async () => {
    const controller = new AbortController();
    const { events, onEvent } = collect();
    const aborted = emulator.start({ ...common, timeoutMs: 120_000, signal: controller.signal, onEvent });
    aborted.catch(() => {});
    await eventSeen(events, "qemu-up");
    const pid = (await emulator.status({ arch: "amd64" })).vm.pid;
    expect(pid).toBeGreaterThan(0);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: "ABORTED" });
    expect(events.some((e) => e.type === "message" && /Interrupted: stopping the VM/.test(e.text))).toBe(true);
    expect(await isProcessAlive(pid!)).toBe(false);
    expect((await emulator.status({ arch: "amd64" })).health).toBe("stopped");
    const next = await emulator.start(common);
    expect(next.bootKind).toBe("cold");
    expect(next.reason).toMatch(/last start was interrupted/);
    await emulator.stop();
  });

  it("a base image replaced under the data disk refuses to start with the fix; reset --hard starts on the new base", async () => {
    const paths = imagePaths(home, "amd64");
    const before = await readManifest(paths.manifest);
    // What `stack emulator pull` or `build-image` leaves behind: the same path, another image.
    await writeManifest(paths.manifest, { ...before, image: { ...before.image, sha256: "1".repeat(64) } });
    await expect(emulator.start(common)).rejects.toMatchObject({
      code: "EMULATOR_BASE_CHANGED",
      message: expect.stringContaining(
        `created on base image ${"0".repeat(12)}, but the installed image is ${"1".repeat(12)}`,
      ),
      hint: expect.stringContaining("stack emulator reset --hard"),
    });
    expect((await emulator.status({ arch: "amd64" })).vm.state).toBe("stopped");
    await emulator.reset({ hard: true });
    const fresh = await emulator.start(common);
    expect(fresh.bootKind).toBe("cold");
    expect(fresh.reason).toMatch(/first start/);
    await emulator.stop({ noSnapshot: true });
    await writeManifest(paths.manifest, before);
  });
});

describe("a firmware-booted guest whose kernel panics", () => {
  it("is reset by QEMU twice, then the start gives up at once, not ready, and names the panic", async () => {
    // The image boots through firmware (as cloud images do): a tiny firmware prints Linux's panic line and spins, as a
    // kernel whose boot loader set no panic= would. Each reset runs it again from the reset vector.
    const fwHome = await mkdtemp(join(tmpdir(), "hx-emulator-fw-"));
    const paths = imagePaths(fwHome, "amd64");
    await mkdir(paths.dir, { recursive: true });
    await createQemuImg().create({ file: paths.image, format: "qcow2", size: "64M" });
    const code = join(fwHome, "panic-firmware.bin");
    await writeFile(code, amd64ConsoleRom("Kernel panic - not syncing: tiny firmware test\n"));
    const varsTemplate = join(fwHome, "vars.bin");
    await writeFile(varsTemplate, Buffer.alloc(64 * 1024));
    const kernelImage = await readManifest(imagePaths(home, "amd64").manifest);
    await writeManifest(paths.manifest, { ...kernelImage, boot: { kind: "firmware" } });
    const fw = createEmulator({
      home: fwHome,
      env: { HEXCLAVE_UEFI_CODE_AMD64: code, HEXCLAVE_UEFI_VARS_AMD64: varsTemplate },
    });
    try {
      const { events, onEvent } = collect();
      const r = await fw.start({ ...common, timeoutMs: 120_000, onEvent });
      expect(r).toMatchObject({ ready: false, bootKind: "cold" });
      const panics = events.flatMap((e) => (e.type === "message" && /panicked/.test(e.text) ? [e.text] : []));
      expect(panics).toEqual([
        expect.stringMatching(/^The guest kernel panicked \(tiny firmware test\); resetting the VM \(restart 1 of 2;/),
        expect.stringMatching(/^The guest kernel panicked \(tiny firmware test\); resetting the VM \(restart 2 of 2;/),
        expect.stringMatching(
          /^The guest kernel panicked \(tiny firmware test\) again after 2 restarts; the start gives/,
        ),
      ]);
      // The console holds the three boots, each ending in the panic.
      const console = await readFile(fw.paths.serialLog, "utf8");
      expect(console.match(/Kernel panic - not syncing: tiny firmware test/g)).toHaveLength(3);
      expect((await fw.status({ arch: "amd64" })).health).toBe("degraded");
    } finally {
      await fw.reset({ hard: true }).catch(() => {});
      fw.close();
      await rm(fwHome, { recursive: true, force: true });
    }
  });
});
