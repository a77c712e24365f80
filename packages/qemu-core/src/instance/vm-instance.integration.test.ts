import { spawn } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qemuErrors } from "../errors-data.js";
import { instancePaths } from "../instance-layout.js";
import { readProcessIdentity } from "../process-identity.js";
import { qemuImg } from "../qemu-img.js";
import type { VmInstanceEvent } from "./events.js";
import type { InstanceVmSpec } from "./instance-vm-spec.js";
import { STOP_DEFAULTS } from "./stop.js";
import { VmInstance } from "./vm-instance.js";

// Diskless q35 VMs under TCG: SeaBIOS waits for a boot device, answers QMP, and ignores the ACPI power button.
const spec: InstanceVmSpec = { arch: "amd64", accel: "tcg", cpus: 1, memoryMb: 128, drives: [] };
const FAST_STOP = { graceMs: 800, quitMs: 3000, termMs: 2000, killMs: 2000 };

let home: string;
const instances: VmInstance[] = [];
function instance(name: string): VmInstance {
  const vm = new VmInstance({ home, name });
  instances.push(vm);
  return vm;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-vm-"));
});

afterAll(async () => {
  for (const vm of instances) {
    await vm.stop({ graceMs: 0, quitMs: 2000 }).catch(() => {});
    vm.close();
  }
  await rm(home, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("VmInstance", () => {
  it("starts, reports its status, and stops a guest that ignores the power button through quit", async () => {
    const vm = instance("basic");
    const events: VmInstanceEvent[] = [];
    const started = await vm.start({ spec, fingerprint: { memoryMb: 128 }, onEvent: (e) => events.push(e) });
    expect(started.accel).toBe("tcg");
    // Detached, not -daemonize: QEMU's stderr (its accelerator error reports) must land in qemu.log.
    expect(started.args).not.toContain("-daemonize");
    expect((await stat(vm.paths.qemuLog)).isFile()).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["lock-acquired", "ports-checked", "qemu-spawned", "qmp-ready"]);

    const status = await vm.status();
    expect(status.state).toBe("running");
    expect(status.pid).toBe(started.pid);
    expect(status.accel).toBe("tcg");
    expect(status.qmpStatus?.status).toBe("running");
    expect(status.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(status.record?.args).toEqual(started.args);
    expect(status.record?.fingerprint).toEqual({ memoryMb: 128 });

    const again = await vm.start({ spec }).catch((e: unknown) => e);
    expect(qemuErrors.is(again, "INSTANCE_ALREADY_RUNNING")).toBe(true);
    expect((again as Error).message).toContain(String(started.pid));

    const stopEvents: VmInstanceEvent[] = [];
    const t0 = Date.now();
    const stopped = await vm.stop({ ...FAST_STOP, onEvent: (e) => stopEvents.push(e) });
    const took = Date.now() - t0;
    expect(stopped).toMatchObject({ wasRunning: true, how: "quit" });
    // The documented deadline: grace + quit + term + kill (plus QMP round trips).
    expect(took).toBeLessThan(FAST_STOP.graceMs + FAST_STOP.quitMs + FAST_STOP.termMs + FAST_STOP.killMs + 4000);
    expect(stopEvents.map((e) => e.type)).toEqual([
      "lock-acquired",
      "powerdown-requested",
      "stop-escalated",
      "stopped",
    ]);
    expect(alive(started.pid) && (await readProcessIdentity(started.pid)) !== undefined).toBe(false);
    expect((await vm.status()).state).toBe("stopped");
    expect((await vm.stop()).wasRunning).toBe(false);
    expect(STOP_DEFAULTS.graceMs).toBeGreaterThan(3000);
  });

  it("reads as crashed after SIGKILL, then starts again", async () => {
    const vm = instance("crash");
    const first = await vm.start({ spec });
    process.kill(first.pid, "SIGKILL");
    for (let i = 0; i < 50 && (await readProcessIdentity(first.pid)); i++) await new Promise((r) => setTimeout(r, 100));
    const status = await vm.status();
    expect(status.state).toBe("crashed");
    expect(status.pid).toBeUndefined();
    const second = await vm.start({ spec });
    expect(second.recoveredFromCrash).toBe(true);
    expect(second.pid).not.toBe(first.pid);
    expect((await vm.status()).state).toBe("running");
    await vm.stop(FAST_STOP);
  });

  it("runs the QEMU binary it is given (the caller found it already) instead of searching PATH again", async () => {
    const vm = instance("given-binary");
    const found = (await execa("sh", ["-c", "command -v qemu-system-x86_64"])).stdout.trim();
    const given = join(home, "given-qemu-system-x86_64");
    await symlink(found, given);
    const called = Date.now();
    const started = await vm.start({ spec, qemuBinary: given });
    expect(started.record.binary).toBe(given);
    // The spawn's own moment, after the preparation: what "since QEMU's spawn" timings start from.
    expect(started.spawnedAt).toBeGreaterThanOrEqual(called);
    expect(started.spawnedAt).toBeLessThanOrEqual(Date.now());
    expect(started.spawnedAt).toBeGreaterThanOrEqual(Date.parse(started.record.startedAt));
    expect(JSON.parse(await readFile(instancePaths(home, "given-binary").record, "utf8")).binary).toBe(given);
    expect((await vm.status()).state).toBe("running");
    await vm.stop(FAST_STOP);
  });

  it("refuses a second concurrent start, naming the other pid", async () => {
    const a = instance("concurrent");
    const b = new VmInstance({ home, name: "concurrent" });
    const results = await Promise.allSettled([a.start({ spec }), b.start({ spec })]);
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    const error = failed[0]!.reason as Error & { code: string; hint: string };
    expect(["INSTANCE_LOCKED", "INSTANCE_ALREADY_RUNNING"]).toContain(error.code);
    expect(error.message).toContain(String(process.pid));
    expect(error.hint).not.toBe("");
    b.close();
    await a.stop(FAST_STOP);
  });

  it("names the process holding a forwarded host port, and leaves no QEMU behind", async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const vm = instance("ports");
      const error = await vm
        .start({ spec: { ...spec, network: { kind: "user", forwards: [{ hostPort: port, guestPort: 80 }] } } })
        .catch((e: unknown) => e);
      expect(qemuErrors.is(error, "PORT_IN_USE")).toBe(true);
      const e = error as Error & { details: Record<string, unknown> };
      expect(e.details.port).toBe(port);
      expect(e.details.pid).toBe(process.pid);
      expect(e.message).toContain(String(port));
      expect(e.message).toContain(`pid ${process.pid}`);
      expect((await vm.status()).state).toBe("stopped");
    } finally {
      server.close();
    }
  });

  it("leaves alone an unrelated live process named by a stale pidfile", async () => {
    const vm = instance("stalepid");
    const sleeper = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      const paths = instancePaths(home, "stalepid");
      await mkdir(paths.dir, { recursive: true });
      await writeFile(paths.pidFile, `${sleeper.pid}\n`);
      await writeFile(paths.qmpSocket, "");
      const status = await vm.status();
      expect(status.state).toBe("stopped");
      expect(status.pid).toBeUndefined();
      expect((await vm.stop(FAST_STOP)).wasRunning).toBe(false);
      const started = await vm.start({ spec });
      expect(started.pid).not.toBe(sleeper.pid);
      await vm.stop(FAST_STOP);
      expect(sleeper.exitCode).toBeNull();
      expect(alive(sleeper.pid!)).toBe(true);
    } finally {
      sleeper.kill("SIGKILL");
    }
  });

  it("kills the QEMU it spawned when start is aborted", async () => {
    const vm = instance("abort");
    const ac = new AbortController();
    let spawnedPid = 0;
    const error = await vm
      .start({
        spec,
        signal: ac.signal,
        onEvent: (e) => {
          if (e.type === "qemu-spawned") {
            spawnedPid = e.pid;
            ac.abort();
          }
        },
      })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(error, "ABORTED")).toBe(true);
    expect(spawnedPid).toBeGreaterThan(0);
    expect(await readProcessIdentity(spawnedPid)).toBeUndefined();
    expect((await vm.status()).state).toBe("stopped");
  });

  it("saves a snapshot, resumes it with loadvm, and lists and deletes it stopped", async () => {
    const vm = instance("snap");
    const base = join(home, "base.qcow2");
    await qemuImg.create({ file: base, format: "qcow2", size: "16M" });
    const first = await vm.start({ spec, backingImage: { file: base, format: "qcow2" } });
    expect(first.record.spec.drives[0]).toMatchObject({ id: "disk", file: vm.paths.overlay, format: "qcow2" });
    expect((await qemuImg.info(vm.paths.overlay, { forceShare: true })).backingFormat).toBe("qcow2");

    await vm.saveSnapshot("suspend");
    await vm.saveSnapshot("suspend"); // replaces
    const running = await vm.listSnapshots();
    expect(running.map((s) => s.name)).toEqual(["suspend"]);
    expect(running[0]!.vmStateSize).toBeGreaterThan(0);
    // No grace: QEMU is quit as planned, which is not reported as an escalation (a warning for the user).
    const quitEvents: VmInstanceEvent[] = [];
    expect(await vm.stop({ ...FAST_STOP, graceMs: 0, onEvent: (e) => quitEvents.push(e) })).toMatchObject({
      how: "quit",
    });
    expect(quitEvents.map((e) => e.type)).toEqual(["lock-acquired", "stopped"]);

    // Write to the disk after the snapshot: loadvm must bring back the snapshot's disk.
    await execa("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 0 64k", vm.paths.overlay]);
    const readBack = async () =>
      (
        await execa("qemu-io", ["-f", "qcow2", "-r", "-U", "-c", "read -P 0xab 0 64k", vm.paths.overlay], {
          reject: false,
          all: true,
        })
      ).all;
    const before = await readBack();
    expect(before).toMatch(/read 65536\/65536 bytes/);
    expect(before).not.toMatch(/Pattern verification failed/);
    // Stopped, the list comes from the overlay's own snapshot table: what qemu-img says, the state size included.
    const stopped = await vm.listSnapshots();
    expect(stopped.map((s) => s.name)).toEqual(["suspend"]);
    expect(stopped).toEqual((await qemuImg.info(vm.paths.overlay)).snapshots);
    expect(stopped[0]!.vmStateSize).toBe(running[0]!.vmStateSize);
    const { stdout } = await execa("qemu-img", ["snapshot", "-l", vm.paths.overlay]);
    expect(stdout).toContain("suspend");

    const resumed = await vm.start({ spec, backingImage: { file: base, format: "qcow2" }, loadvm: "suspend" });
    expect(resumed.args).toEqual(expect.arrayContaining(["-loadvm", "suspend"]));
    expect((await vm.status()).state).toBe("running");
    expect(await readBack()).toMatch(/Pattern verification failed/);
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    const missing = await vm
      .start({ spec, backingImage: { file: base, format: "qcow2" }, loadvm: "nope" })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(missing, "SNAPSHOT_NOT_FOUND")).toBe(true);
    expect((missing as { details: { available: string[] } }).details.available).toEqual(["suspend"]);

    expect(await vm.deleteSnapshot("suspend")).toBe(true);
    expect(await vm.deleteSnapshot("suspend")).toBe(false);
    expect(await vm.listSnapshots()).toEqual([]);
  });

  it("saves the state to a file and resumes it with -incoming; a mismatched, damaged or missing file is refused", async () => {
    const vm = instance("statefile");
    const base = join(home, "base-state.qcow2");
    await qemuImg.create({ file: base, format: "qcow2", size: "16M" });
    const withDisk = { spec, backingImage: { file: base, format: "qcow2" as const } };
    await vm.start(withDisk);
    // A directory whose name needs quoting for the shell QEMU runs the stream through.
    const dir = join(home, "it's a $dir");
    await mkdir(dir, { recursive: true });
    const file = join(dir, "suspend.vmstate");
    const saved = await vm.saveStateFile(file);
    expect(saved.bytes).toBeGreaterThan(100_000);
    expect((await stat(file)).size).toBe(saved.bytes);
    expect(await readdir(dir)).toEqual(["suspend.vmstate"]); // the temp file was renamed
    expect((await vm.status()).state).toBe("paused");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    const resumed = await vm.start({ ...withDisk, incomingStateFile: file });
    expect(resumed.args).toEqual(
      expect.arrayContaining(["-incoming", `exec:cat '${home}/it'\\''s a $dir/suspend.vmstate'`]),
    );
    expect(resumed.qmpStatus.status).toBe("running");
    expect((await vm.status()).state).toBe("running");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    // Another machine (more memory) cannot take the state: QEMU refuses it, and nothing is left running.
    const mismatch = await vm
      .start({ ...withDisk, spec: { ...spec, memoryMb: 256 }, incomingStateFile: file })
      .catch((e: unknown) => e);
    expect(mismatch).toMatchObject({ code: "STATE_LOAD_FAILED" });
    expect((mismatch as Error).message).toContain(file);
    expect((await vm.status()).state).toBe("stopped");

    const damaged = join(dir, "damaged.vmstate");
    await writeFile(damaged, (await readFile(file)).subarray(0, 64 * 1024));
    const broken = await vm.start({ ...withDisk, incomingStateFile: damaged }).catch((e: unknown) => e);
    expect(qemuErrors.is(broken, "STATE_LOAD_FAILED")).toBe(true);
    expect((await vm.status()).state).toBe("stopped");

    const missing = await vm.start({ ...withDisk, incomingStateFile: join(dir, "none") }).catch((e: unknown) => e);
    expect(qemuErrors.is(missing, "SNAPSHOT_NOT_FOUND")).toBe(true);
    const notRunning = await vm.saveStateFile(join(dir, "x.vmstate")).catch((e: unknown) => e);
    expect(qemuErrors.is(notRunning, "INSTANCE_NOT_RUNNING")).toBe(true);
  });

  it("refuses to snapshot a VM with a writable raw drive, naming it", async () => {
    const vm = instance("rawdrive");
    const raw = join(home, "scratch.img");
    await qemuImg.create({ file: raw, format: "raw", size: "1M" });
    await vm.start({ spec: { ...spec, drives: [{ id: "scratch", file: raw, format: "raw" }] } });
    const error = await vm.saveSnapshot("s").catch((e: unknown) => e);
    expect(qemuErrors.is(error, "SNAPSHOT_FAILED")).toBe(true);
    expect((error as Error).message).toContain("scratch");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });
  });

  it("gives typed errors with hints for bad input", async () => {
    const vm = instance("bad");
    const badSpec = await vm.start({ spec: { ...spec, memoryMb: Number.NaN } }).catch((e: unknown) => e);
    expect(qemuErrors.is(badSpec, "INVALID_VM_SPEC")).toBe(true);
    expect((badSpec as { hint: string }).hint).not.toBe("");
    const badName = await vm.saveSnapshot("").catch((e: unknown) => e);
    expect(qemuErrors.is(badName, "INVALID_ARGUMENT")).toBe(true);
    const notRunning = await vm.saveSnapshot("x").catch((e: unknown) => e);
    expect(qemuErrors.is(notRunning, "INSTANCE_NOT_RUNNING")).toBe(true);
    const badStop = await vm.stop({ graceMs: -1 }).catch((e: unknown) => e);
    expect(qemuErrors.is(badStop, "INVALID_ARGUMENT")).toBe(true);
    expect(() => new VmInstance({ home, name: "../escape" })).toThrow(/Invalid instance name/);
    const noBase = await vm
      .start({ spec, backingImage: { file: join(home, "missing.qcow2"), format: "qcow2" } })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(noBase, "IMAGE_NOT_FOUND")).toBe(true);
    expect((await vm.status()).state).toBe("stopped");
  });

  it("reports a damaged instance record as broken with errors, and a start writes a new one", async () => {
    const vm = instance("damaged");
    await mkdir(vm.paths.dir, { recursive: true });
    await writeFile(vm.paths.record, "{ not json");
    const status = await vm.status();
    expect(status.state).toBe("broken");
    expect(status.errors?.[0]).toContain("instance.json is not a valid instance record");
    expect(status.pid).toBeUndefined();
    await vm.start({ spec });
    expect((await vm.status()).state).toBe("running");
    await vm.stop(FAST_STOP);
    expect((await vm.status()).state).toBe("stopped");
  });

  it("pairs a disk-only snapshot with a state file, and resumes the pair after the disk changed", async () => {
    const vm = instance("fresh-pair");
    const base = join(home, "pair-base.qcow2");
    await qemuImg.create({ file: base, format: "qcow2", size: "16M" });
    const withDisk = { spec, backingImage: { file: base, format: "qcow2" as const } };
    await vm.start(withDisk);
    const file = join(vm.paths.dir, "fresh.vmstate");
    await vm.saveStateFile(file, { diskSnapshot: "fresh" });
    expect((await vm.listSnapshots()).map((s) => s.name)).toEqual(["fresh"]);
    // The VM keeps running after the pair is saved (cont), then stops; the disk changes later on.
    await (await vm.qmp()).cont();
    expect((await vm.status()).state).toBe("running");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });
    await qemuImg.snapshotCreate(vm.paths.overlay, "later");
    const missing = await vm.revertDiskSnapshot("none").catch((e: unknown) => e);
    expect(qemuErrors.is(missing, "SNAPSHOT_NOT_FOUND")).toBe(true);
    await vm.revertDiskSnapshot("fresh");
    const resumed = await vm.start({ ...withDisk, incomingStateFile: file });
    expect(resumed.qmpStatus.status).toBe("running");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });
  });

  it("keeps a guest's RAM in its memory file: a save streams only the devices, a resume maps the file again", async () => {
    const vm = instance("memfile");
    const memoryFile = join(vm.paths.dir, "guest.ram");
    const withFile: InstanceVmSpec = { ...spec, memoryFile };
    const at = 64 * 1024 * 1024; // guest-physical 64 MiB: plain RAM on q35 with 128 MiB, untouched by SeaBIOS
    const writeRam = async (text: string) => {
      const handle = await open(memoryFile, "r+");
      await handle.write(Buffer.from(text.padEnd(16, "\0")), 0, 16, at);
      await handle.close();
    };
    /** What the running guest sees at `at` (QMP pmemsave reads guest-physical memory). */
    const readRam = async () => {
      const out = join(home, "pmem.bin");
      await (await vm.qmp()).execute("pmemsave", { val: at, size: 16, filename: out });
      return (await readFile(out, "latin1")).replace(/\0+$/, "");
    };

    const cold = await vm.start({ spec: withFile });
    expect(cold.args).toEqual(expect.arrayContaining(["-machine", "q35,memory-backend=pc.ram"]));
    expect((await stat(memoryFile)).mode & 0o777).toBe(0o600);
    expect((await stat(memoryFile)).size).toBe(128 * 1024 * 1024);
    // The file is the guest's RAM: a write to it is what the guest reads.
    await writeRam("marker-A");
    expect(await readRam()).toBe("marker-A");
    const state = join(vm.paths.dir, "s1.vmstate");
    const image = join(vm.paths.dir, "s1.ram");
    const saved = await vm.saveStateFile(state, { memoryImage: image });
    // The stream holds the devices only: the RAM (and the marker in it) stayed in the file.
    expect((await readFile(state, "latin1")).includes("marker-A")).toBe(false);
    expect(saved.bytes).toBeLessThan(4 * 1024 * 1024);
    // The copy aside is sparse: it holds what the guest touched, not its 128 MiB.
    const copy = await stat(image);
    expect(copy.size).toBe(128 * 1024 * 1024);
    expect(copy.blocks * 512).toBeLessThan(copy.size / 2);
    expect(copy.mode & 0o777).toBe(0o600);
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    // Resumed as it is: the devices from the stream, the RAM from the file.
    const events: VmInstanceEvent[] = [];
    const resumed = await vm.start({ spec: withFile, incomingStateFile: state, onEvent: (e) => events.push(e) });
    expect(resumed.qmpStatus.status).toBe("running");
    expect(resumed.args).toEqual(expect.arrayContaining(["-incoming", "defer"]));
    expect(events).toContainEqual({ type: "memory-file-prepared", file: memoryFile, plan: "keep" });
    expect(await readRam()).toBe("marker-A");
    await writeRam("marker-B");
    expect(await readRam()).toBe("marker-B");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    // Resumed from the copy: the memory is as it was at the save, whatever ran since. The copy went into a new
    // private file while QEMU started, and kept the copy's holes.
    const before = await stat(memoryFile);
    const fromCopy: VmInstanceEvent[] = [];
    await vm.start({
      spec: withFile,
      incomingStateFile: state,
      incomingMemoryImage: image,
      onEvent: (e) => fromCopy.push(e),
    });
    expect(fromCopy).toContainEqual({ type: "memory-file-prepared", file: memoryFile, plan: "copy-from" });
    expect(await readRam()).toBe("marker-A");
    const loaded = await stat(memoryFile);
    expect(loaded.ino).not.toBe(before.ino);
    expect(loaded.mode & 0o777).toBe(0o600);
    expect(loaded.size).toBe(128 * 1024 * 1024);
    expect(loaded.blocks * 512).toBeLessThan(loaded.size / 2);
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    // A copy that fails (here the saved memory is a directory) fails the start and leaves no QEMU running.
    const broken = join(vm.paths.dir, "broken.ram");
    await mkdir(broken, { recursive: true });
    const failed = await vm
      .start({ spec: withFile, incomingStateFile: state, incomingMemoryImage: broken })
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: "COMMAND_FAILED" });
    expect((failed as Error).message).toContain(broken);
    expect((await vm.status()).state).toBe("stopped");

    // A cold start begins from an empty file.
    await vm.start({ spec: withFile });
    expect(await readRam()).toBe("");
    await vm.stop({ ...FAST_STOP, graceMs: 0 });

    // A resume whose memory is gone says so before QEMU starts.
    await rm(memoryFile);
    const lost = await vm.start({ spec: withFile, incomingStateFile: state }).catch((e: unknown) => e);
    expect(qemuErrors.is(lost, "SNAPSHOT_NOT_FOUND")).toBe(true);
    expect((lost as Error).message).toContain(memoryFile);
  });
});
