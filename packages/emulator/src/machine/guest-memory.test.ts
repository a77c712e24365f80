import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { instancePaths } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import {
  chooseMemoryPlacement,
  guestMemoryFile,
  guestMemoryFiles,
  readTmpfs,
  removeGuestMemory,
  suspendMemoryFile,
  TMPFS_HEADROOM_BYTES,
  tmpfsMemoryFileName,
} from "./guest-memory.js";

const MiB = 2 ** 20;

describe("chooseMemoryPlacement", () => {
  const cases: Array<{
    name: string;
    tmpfs: Parameters<typeof chooseMemoryPlacement>[0];
    memoryMb: number;
    expected: ReturnType<typeof chooseMemoryPlacement>;
  }> = [
    {
      name: "a tmpfs with room for the whole guest and the headroom",
      tmpfs: { dir: "/dev/shm", isTmpfs: true, freeBytes: 4096 * MiB + TMPFS_HEADROOM_BYTES },
      memoryMb: 4096,
      expected: { kind: "tmpfs", dir: "/dev/shm" },
    },
    {
      name: "one byte short of the headroom: the instance directory, naming both sizes",
      tmpfs: { dir: "/dev/shm", isTmpfs: true, freeBytes: 4096 * MiB + TMPFS_HEADROOM_BYTES - 1 },
      memoryMb: 4096,
      expected: {
        kind: "instance",
        reason: "/dev/shm has 4351 MiB free, less than the guest's 4096 MiB plus 256 MiB",
      },
    },
    {
      name: "no /dev/shm (macOS)",
      tmpfs: undefined,
      memoryMb: 2048,
      expected: { kind: "instance", reason: "/dev/shm does not exist on this host" },
    },
    {
      name: "a /dev/shm that is not a tmpfs",
      tmpfs: { dir: "/dev/shm", isTmpfs: false, freeBytes: 64 * 1024 * MiB },
      memoryMb: 2048,
      expected: { kind: "instance", reason: "/dev/shm is not a tmpfs" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => expect(chooseMemoryPlacement(c.tmpfs, c.memoryMb)).toEqual(c.expected));
  }
});

describe("the memory file's paths", () => {
  const a = instancePaths("/home/a/.hexclave/emulator", "vm");
  const b = instancePaths("/home/b/.hexclave/emulator", "vm");

  it("names one tmpfs file per instance directory, the same every time", () => {
    expect(tmpfsMemoryFileName(a)).toMatch(/^hexclave-emulator-[0-9a-f]{16}\.ram$/);
    expect(tmpfsMemoryFileName(a)).toBe(tmpfsMemoryFileName(instancePaths("/home/a/.hexclave/emulator/", "vm")));
    expect(tmpfsMemoryFileName(a)).not.toBe(tmpfsMemoryFileName(b));
  });

  it("puts the file in the tmpfs or the instance directory, and the suspend's copy beside the device state", () => {
    expect(guestMemoryFile(a, { kind: "tmpfs", dir: "/dev/shm" })).toBe(`/dev/shm/${tmpfsMemoryFileName(a)}`);
    expect(guestMemoryFile(a, { kind: "instance", reason: "x" })).toBe(join(a.dir, "guest-memory.ram"));
    expect(guestMemoryFiles(a)).toEqual([`/dev/shm/${tmpfsMemoryFileName(a)}`, join(a.dir, "guest-memory.ram")]);
    expect(suspendMemoryFile(a)).toBe(join(a.dir, "suspend.ram"));
  });
});

describe("on this host", () => {
  it("reads /dev/shm as a tmpfs with its free space, and a missing directory as none", async () => {
    const shm = await readTmpfs();
    expect(shm).toMatchObject({ dir: "/dev/shm", isTmpfs: true });
    expect(shm?.freeBytes).toBeGreaterThan(0);
    expect(await readTmpfs("/nonexistent/hexclave")).toBeUndefined();
  });

  it("removes the memory file from the instance directory (and no other file)", async () => {
    const home = await mkdtemp(join(tmpdir(), "hx-mem-"));
    try {
      const paths = instancePaths(home, "vm");
      await mkdir(paths.dir, { recursive: true });
      await writeFile(guestMemoryFile(paths, { kind: "instance", reason: "test" }), "ram");
      await writeFile(suspendMemoryFile(paths), "saved");
      await removeGuestMemory(paths);
      expect(await readdir(paths.dir)).toEqual(["suspend.ram"]);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
