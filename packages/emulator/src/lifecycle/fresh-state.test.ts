import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instancePaths, type QemuImgSnapshot } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshMemoryFile, freshResume, freshStateFile, removeFreshState } from "./fresh-state.js";

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-fresh-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

function fakeVm(name: string, snapshots: Array<Pick<QemuImgSnapshot, "name" | "vmStateSize">>) {
  const reverted: string[] = [];
  const vm = {
    paths: instancePaths(home, name),
    listSnapshots: async () => snapshots as QemuImgSnapshot[],
    revertDiskSnapshot: async (snapshot: string) => {
      reverted.push(snapshot);
    },
  };
  return { vm, reverted };
}

describe("freshResume", () => {
  const cases: Array<{
    name: string;
    snapshots: Array<Pick<QemuImgSnapshot, "name" | "vmStateSize">>;
    file: boolean;
    memory?: boolean;
    expected: "incoming" | "loadvm";
  }> = [
    {
      name: "a disk-only fresh with its state file and memory resumes them",
      snapshots: [{ name: "fresh", vmStateSize: 0 }],
      file: true,
      memory: true,
      expected: "incoming",
    },
    {
      name: "a disk-only fresh whose memory is missing uses -loadvm (which fails into a cold boot)",
      snapshots: [{ name: "fresh", vmStateSize: 0 }],
      file: true,
      memory: false,
      expected: "loadvm",
    },
    {
      name: "a fresh holding its RAM (an older install) uses -loadvm",
      snapshots: [{ name: "fresh", vmStateSize: 5e8 }],
      file: true,
      expected: "loadvm",
    },
    {
      name: "a disk-only fresh without its file uses -loadvm (which fails into a cold boot)",
      snapshots: [{ name: "fresh", vmStateSize: 0 }],
      file: false,
      expected: "loadvm",
    },
    { name: "no fresh snapshot uses -loadvm", snapshots: [], file: true, expected: "loadvm" },
  ];
  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const { vm, reverted } = fakeVm(`vm${i}`, c.snapshots);
      await mkdir(vm.paths.dir, { recursive: true });
      if (c.file) await writeFile(freshStateFile(vm.paths), "state");
      if (c.memory === true) await writeFile(freshMemoryFile(vm.paths), "memory");
      const how = await freshResume(vm, undefined);
      if (c.expected === "incoming") {
        expect(how).toEqual({
          incomingStateFile: join(vm.paths.dir, "fresh.vmstate"),
          incomingMemoryImage: join(vm.paths.dir, "fresh.ram"),
        });
        expect(reverted).toEqual(["fresh"]); // the disk goes back to the instant of the state first
      } else {
        expect(how).toEqual({ loadvm: "fresh" });
        expect(reverted).toEqual([]);
      }
      await removeFreshState(vm.paths);
      await removeFreshState(vm.paths); // absent is fine
      expect(await readdir(vm.paths.dir)).toEqual([]);
    });
  }
});
