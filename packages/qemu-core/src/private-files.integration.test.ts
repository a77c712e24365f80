import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstanceVmSpec } from "./instance/instance-vm-spec.js";
import { VmInstance } from "./instance/vm-instance.js";
import { ensurePrivateDir, ensurePrivateFile } from "./private-files.js";
import { qemuImg } from "./qemu-img.js";

const spec: InstanceVmSpec = { arch: "amd64", accel: "tcg", cpus: 1, memoryMb: 128, drives: [] };
const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

let work: string;
const previousUmask = process.umask(0o022); // the usual umask: files 0644 and directories 0755 unless made private
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hx-private-"));
});
afterAll(async () => {
  process.umask(previousUmask);
  await rm(work, { recursive: true, force: true });
});

describe("an instance's root and files are private", () => {
  it("keeps a 0600 file 0600 when a program truncates it with cat >, and tightens a 0755 directory to 0700", async () => {
    const dir = join(work, "loose");
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await ensurePrivateDir(dir);
    expect(await modeOf(dir)).toBe(0o700);
    const file = join(dir, "state");
    await ensurePrivateFile(file);
    await execa("sh", ["-c", 'printf secret > "$1"', "sh", file]);
    expect(await modeOf(file)).toBe(0o600);
  });

  it("a VM's home and run directory are 0700; its disk, serial log and saved RAM state are 0600", async () => {
    const home = join(work, "home");
    const vm = new VmInstance({ home, name: "private" });
    const base = join(work, "base.qcow2");
    await qemuImg.create({ file: base, format: "qcow2", size: "16M" });
    try {
      await vm.start({ spec, backingImage: { file: base, format: "qcow2" } });
      const state = join(vm.paths.dir, "suspend.vmstate");
      await vm.saveStateFile(state);
      expect(await modeOf(home)).toBe(0o700);
      expect(await modeOf(vm.paths.dir)).toBe(0o700);
      expect(await modeOf(vm.paths.overlay)).toBe(0o600);
      expect(await modeOf(vm.paths.serialLog)).toBe(0o600);
      expect(await modeOf(state)).toBe(0o600);
    } finally {
      await vm.stop({ graceMs: 0, quitMs: 3000 }).catch(() => {});
      vm.close();
    }
  });

  it("resolves a relative home once, to an absolute path", () => {
    const vm = new VmInstance({ home: "relative/home", name: "vm" });
    expect(vm.home).toBe(join(process.cwd(), "relative/home"));
    expect(isAbsolute(vm.home)).toBe(true);
    expect(isAbsolute(vm.paths.serialLog)).toBe(true);
    vm.close();
  });
});
