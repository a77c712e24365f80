import { describe, expect, it } from "vitest";
import { HexclaveError } from "./errors.js";
import { compareQemuVersions, MIN_QEMU_VERSION, parseQemuVersion, qemuInstallHint } from "./qemu-binary.js";

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
