import { mkdtemp, readdir, rename, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CommandRunner } from "./command-runner.js";
import { HexclaveError } from "./errors.js";
import {
  compareQemuVersions,
  MIN_QEMU_VERSION,
  parseQemuVersion,
  qemuInstallHint,
  qemuVersion,
} from "./qemu-binary.js";

describe("parseQemuVersion", () => {
  it.each([
    [
      "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022",
      [7, 2, 22],
      "Debian 1:7.2+dfsg-7+deb12u18+b3",
    ],
    ["QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)", [8, 2, 2], "Debian 1:8.2.2+ds-0ubuntu1.4"],
    ["QEMU emulator version 9.2.0\nCopyright (c) 2003-2024 Fabrice Bellard", [9, 2, 0], undefined],
    ["QEMU emulator version 6.2.0 (qemu-kvm-6.2.0-11.el9_0.3)", [6, 2, 0], "qemu-kvm-6.2.0-11.el9_0.3"],
    ["QEMU emulator version 10.0.50 (v10.0.0-1234-gdeadbeef)", [10, 0, 50], "v10.0.0-1234-gdeadbeef"],
    ["QEMU emulator version 4.2", [4, 2, 0], undefined],
  ])("%j", (text, [major, minor, micro], packageVersion) => {
    const v = parseQemuVersion(text);
    expect([v.major, v.minor, v.micro]).toEqual([major, minor, micro]);
    expect(v.version).toBe(`${major}.${minor}.${micro}`);
    expect(v.packageVersion).toBe(packageVersion);
  });

  it("rejects text without a version with QEMU_VERSION_UNREADABLE", () => {
    let error: unknown;
    try {
      parseQemuVersion("bash: qemu: command not found");
    } catch (e) {
      error = e;
    }
    expect(HexclaveError.is(error) && error.code).toBe("QEMU_VERSION_UNREADABLE");
  });

  it("orders versions against the 7.2 floor", () => {
    expect(MIN_QEMU_VERSION.version).toBe("7.2.0");
    expect(compareQemuVersions(parseQemuVersion("QEMU emulator version 7.1.0"), MIN_QEMU_VERSION)).toBeLessThan(0);
    expect(compareQemuVersions(parseQemuVersion("QEMU emulator version 7.2.0"), MIN_QEMU_VERSION)).toBe(0);
    expect(compareQemuVersions(parseQemuVersion("QEMU emulator version 10.0.0"), MIN_QEMU_VERSION)).toBeGreaterThan(0);
  });
});

describe("qemuInstallHint", () => {
  it("names the package per distribution on Linux", () => {
    const amd64 = qemuInstallHint("linux", "amd64");
    for (const name of [
      "apt-get install qemu-system-x86",
      "dnf install qemu-system-x86-core",
      "pacman -S qemu-full",
      "brew install qemu",
    ]) {
      expect(amd64).toContain(name);
    }
    const arm64 = qemuInstallHint("linux", "arm64");
    expect(arm64).toContain("apt-get install qemu-system-arm");
    expect(arm64).toContain("dnf install qemu-system-aarch64-core");
    expect(arm64).toContain("HEXCLAVE_QEMU_BINARY_ARM64");
  });
  it("names Homebrew on macOS and the installer on Windows", () => {
    expect(qemuInstallHint("darwin", "arm64")).toContain("brew install qemu");
    expect(qemuInstallHint("windows", "amd64")).toContain("winget install");
  });
});

describe("qemuVersion with a cacheDir (the version remembered per binary file)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "qemu-version-cache-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function countingRunner(say = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\n") {
    const calls: string[] = [];
    const runner: CommandRunner = async (file, args) => {
      calls.push([file, ...args].join(" "));
      return { stdout: say, stderr: "", exitCode: 0 };
    };
    return { runner, calls };
  }

  async function binary(name: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, "#!/bin/sh\n", { mode: 0o755 });
    return file;
  }

  it("runs --version once while the file is unchanged, and again after it changes or is replaced", async () => {
    const file = await binary("qemu-a");
    const cacheDir = join(dir, "cache-a");
    const { runner, calls } = countingRunner();
    const first = await qemuVersion(file, { runner, cacheDir });
    const second = await qemuVersion(file, { runner, cacheDir });
    expect(first).toEqual({ major: 7, minor: 2, micro: 22, version: "7.2.22", packageVersion: "Debian 1:7.2+dfsg-7" });
    expect(second).toEqual(first);
    expect(calls).toEqual([`${file} --version`]);
    expect(await readdir(cacheDir)).toEqual([expect.stringMatching(/^qemu-version-[0-9a-f]{16}\.json$/)]);

    await utimes(file, new Date(2020, 0, 1), new Date(2020, 0, 1)); // edited in place
    await qemuVersion(file, { runner, cacheDir });
    expect(calls).toHaveLength(2);

    const upgraded = `${file}.new`; // a package upgrade: a new file renamed over the old
    await writeFile(upgraded, "#!/bin/sh\n# 7.2.23\n", { mode: 0o755 });
    await rename(upgraded, file);
    const { runner: runner2, calls: calls2 } = countingRunner("QEMU emulator version 7.2.23\n");
    expect((await qemuVersion(file, { runner: runner2, cacheDir })).version).toBe("7.2.23");
    expect(calls2).toHaveLength(1);
    expect((await qemuVersion(file, { runner: runner2, cacheDir })).version).toBe("7.2.23");
    expect(calls2).toHaveLength(1);
  });

  it("without a cacheDir runs every time; an unreadable entry or a failed run is not trusted", async () => {
    const file = await binary("qemu-b");
    const { runner, calls } = countingRunner();
    await qemuVersion(file, { runner });
    await qemuVersion(file, { runner });
    expect(calls).toHaveLength(2);

    const cacheDir = join(dir, "cache-b");
    await qemuVersion(file, { runner, cacheDir });
    const [entry] = await readdir(cacheDir);
    await writeFile(join(cacheDir, entry!), "{ not json");
    await qemuVersion(file, { runner, cacheDir });
    expect(calls).toHaveLength(4);
    await qemuVersion(file, { runner, cacheDir }); // rewritten by the run before
    expect(calls).toHaveLength(4);

    const other = await binary("qemu-c");
    const failing: CommandRunner = async () => ({ stdout: "", stderr: "boom", exitCode: 1 });
    await expect(qemuVersion(other, { runner: failing, cacheDir })).rejects.toMatchObject({
      code: "QEMU_VERSION_UNREADABLE",
    });
    await qemuVersion(other, { runner, cacheDir });
    expect(calls).toHaveLength(5);
  });

  it("a binary that cannot be read is run as it is, and nothing is cached", async () => {
    const cacheDir = join(dir, "cache-d");
    const { runner, calls } = countingRunner();
    await qemuVersion(join(dir, "missing"), { runner, cacheDir });
    expect(calls).toHaveLength(1);
    await expect(readdir(cacheDir)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
