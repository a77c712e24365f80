/**
 * The run-state watch against real QEMU: a guest that panics through pvpanic
 * (run state guest-panicked, really), a QEMU killed under a running guest
 * (an exit), and a host whose KVM fails real guests, simulated by the
 * lying-KVM wrapper (real QEMU under TCG; its `KVM internal error` report is
 * printed by the wrapper and the VM is really paused; only the run state
 * name `internal-error` comes from the wrapper's QMP proxy).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installLyingKvmQemu } from "../test-support/lying-kvm/lying-kvm.js";
import { amd64PanicRom, amd64SpinRom } from "../test-support/test-guests.js";
import { chooseAccelerator, probeAccelerator, recordAcceleratorFailure } from "./accelerator.js";
import { qemuErrors } from "./errors-data.js";
import { detectHost } from "./host.js";
import type { InstanceVmSpec } from "./instance/instance-vm-spec.js";
import { VmInstance } from "./instance/vm-instance.js";
import { readProcessIdentity } from "./process-identity.js";

let dir: string;
let home: string;
let panicRom: string;
let spinRom: string;
let lyingQemu: string;
let fakeKvm: string;
const instances: VmInstance[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-watch-"));
  home = join(dir, "home");
  panicRom = join(dir, "panic.rom");
  spinRom = join(dir, "spin.rom");
  await writeFile(panicRom, amd64PanicRom());
  await writeFile(spinRom, amd64SpinRom());
  lyingQemu = await installLyingKvmQemu(dir, { tripMs: 500 });
  fakeKvm = join(dir, "kvm"); // the probe only checks that the device is there and read-write
  await writeFile(fakeKvm, "");
});

afterAll(async () => {
  for (const vm of instances) {
    await vm.stop({ graceMs: 0, quitMs: 3000 }).catch(() => {});
    vm.close();
  }
  await rm(dir, { recursive: true, force: true });
});

function instance(name: string, qemuBinary?: string): VmInstance {
  const vm = new VmInstance({ home, name, ...(qemuBinary === undefined ? {} : { qemuBinary }) });
  instances.push(vm);
  return vm;
}

const guest = (rom: string, extra: readonly string[] = []): InstanceVmSpec => ({
  arch: "amd64",
  accel: "tcg",
  cpus: 1,
  memoryMb: 128,
  drives: [],
  extraArgs: ["-bios", rom, ...extra],
});

describe("VmInstance.watch (real QEMU)", () => {
  it("a guest that panics through pvpanic: guest-panicked, the guest's fault; status says broken", async () => {
    const vm = instance("panic");
    await vm.start({ spec: guest(panicRom, ["-device", "pvpanic", "-action", "panic=pause"]) });
    const watch = vm.watch({ pollMs: 200 });
    const failure = await watch.failure;
    expect(failure).toMatchObject({ kind: "guest-panicked", fault: "guest", runState: "guest-panicked" });
    const status = await vm.status();
    expect(status.state).toBe("broken");
    expect(status.failure?.kind).toBe("guest-panicked");
    const stopped = await vm.stop({ graceMs: 0, quitMs: 3000 });
    expect(stopped.how).toBe("quit");
  });

  it("a QEMU that is killed: an exit, with its last words", async () => {
    const vm = instance("killed");
    const started = await vm.start({ spec: guest(spinRom) });
    const identity = await readProcessIdentity(started.pid);
    expect(identity).toBeDefined();
    const watch = vm.watch({ pollMs: 200, ...(identity ? { identity } : {}) });
    process.kill(started.pid, "SIGKILL");
    const failure = await watch.failure;
    expect(failure).toMatchObject({ kind: "exited" });
    expect((await vm.status()).state).toBe("crashed");
  });

  it("a KVM that fails real guests: internal-error with QEMU's words, within seconds; status says broken", async () => {
    const vm = instance("lying-kvm", lyingQemu);
    const started = await vm.start({ spec: { ...guest(spinRom), accel: "kvm" } });
    expect(started.accel).toBe("kvm");
    const began = Date.now();
    const failure = await vm.watch({ pollMs: 200 }).failure;
    const seenAfterMs = Date.now() - began;
    console.log(`lying KVM: failure seen ${seenAfterMs} ms after QMP answered: ${failure?.message}`);
    expect(failure).toMatchObject({ kind: "internal-error", fault: "accelerator", runState: "internal-error" });
    expect(failure?.qemuSaid).toContain("KVM internal error. Suberror: 1");
    expect(failure?.qemuSaid).not.toContain("RAX=");
    const status = await vm.status();
    expect(status.state).toBe("broken");
    expect(status.failure?.message).toContain("KVM internal error. Suberror: 1");
    expect((await vm.stop({ graceMs: 0, quitMs: 3000 })).wasRunning).toBe(true);
  });
});

describe("the accelerator verdict (real QEMU, lying KVM)", () => {
  const host = { ...detectHost(), os: "linux" as const, arch: "amd64" as const };

  it("the tiny probe guest passes the lying KVM; a recorded runtime failure makes later probes answer tcg", async () => {
    const cacheDir = join(dir, "cache");
    const options = { arch: "amd64", qemuBinary: lyingQemu, hostInfo: host, kvmDevice: fakeKvm, cacheDir } as const;
    const first = await probeAccelerator(options);
    expect(first.accel).toBe("kvm"); // as on the real host: the probe guest reached its marker
    const recorded = await recordAcceleratorFailure({
      ...options,
      accel: "kvm",
      reason: "KVM internal error. Suberror: 1",
    });
    expect(recorded).toMatchObject({ accel: "tcg", verdict: "runtime" });
    const later = await probeAccelerator(options);
    expect(later).toMatchObject({ accel: "tcg", fromCache: true, verdict: "runtime" });
    expect(later.reason).toBe("kvm cannot run this guest on this host: KVM internal error. Suberror: 1; using tcg");
    const auto = await chooseAccelerator({ ...options, choice: "auto" });
    expect(auto.accel).toBe("tcg");
    // A forced accelerator is not second-guessed by the cache.
    const forced = await chooseAccelerator({ ...options, choice: "kvm" });
    expect(forced).toMatchObject({ accel: "kvm", chosenBy: "forced", tried: [] });
  });

  it("a forced accelerator that cannot work is an error with the reason, never tcg", async () => {
    const options = { arch: "amd64", qemuBinary: lyingQemu, hostInfo: host, cacheDir: join(dir, "cache2") } as const;
    const missing = chooseAccelerator({ ...options, kvmDevice: join(dir, "no-such-kvm"), choice: "kvm" });
    await expect(missing).rejects.toSatisfy(
      (e) => qemuErrors.is(e, "ACCEL_UNAVAILABLE") && /does not exist/.test(e.message),
    );
    const hvf = chooseAccelerator({ ...options, kvmDevice: fakeKvm, choice: "hvf" });
    await expect(hvf).rejects.toSatisfy(
      (e) => qemuErrors.is(e, "ACCEL_UNAVAILABLE") && /hvf does not exist on linux/.test(e.message),
    );
    expect((await chooseAccelerator({ ...options, kvmDevice: fakeKvm, choice: "tcg" })).accel).toBe("tcg");
  });
});
