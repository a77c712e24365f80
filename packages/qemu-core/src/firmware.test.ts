import { describe, expect, it } from "vitest";
import { firmwareCandidates, firmwareEnvVars } from "./firmware.js";

const codes = (...args: Parameters<typeof firmwareCandidates>) => firmwareCandidates(...args).map((c) => c.code);

describe("firmwareCandidates", () => {
  it("Linux amd64: next to QEMU first, then Debian/Ubuntu, Fedora, Arch, share/qemu, Nix", () => {
    const list = firmwareCandidates("linux", "amd64", {
      qemuBinary: "/opt/qemu/bin/qemu-system-x86_64",
      home: "/home/u",
    });
    expect(list[0]).toEqual({
      code: "/opt/qemu/share/qemu/edk2-x86_64-code.fd",
      varsTemplate: "/opt/qemu/share/qemu/edk2-i386-vars.fd",
      source: "qemu",
    });
    expect(list.map((c) => c.code)).toEqual([
      "/opt/qemu/share/qemu/edk2-x86_64-code.fd",
      "/usr/share/OVMF/OVMF_CODE_4M.fd",
      "/usr/share/OVMF/OVMF_CODE.fd",
      "/usr/share/edk2/ovmf/OVMF_CODE.fd",
      "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
      "/usr/share/edk2/x64/OVMF_CODE.fd",
      "/usr/share/edk2-ovmf/x64/OVMF_CODE.fd",
      "/usr/share/qemu/edk2-x86_64-code.fd",
      "/home/u/.nix-profile/share/qemu/edk2-x86_64-code.fd",
      "/run/current-system/sw/share/qemu/edk2-x86_64-code.fd",
    ]);
    expect(list.find((c) => c.code === "/usr/share/OVMF/OVMF_CODE_4M.fd")?.varsTemplate).toBe(
      "/usr/share/OVMF/OVMF_VARS_4M.fd",
    );
  });

  it("Linux arm64: AAVMF, qemu-efi-aarch64, Fedora and Arch edk2", () => {
    expect(codes("linux", "arm64", { home: "/home/u" })).toEqual([
      "/usr/share/AAVMF/AAVMF_CODE.fd",
      "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd",
      "/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw",
      "/usr/share/edk2/aarch64/QEMU_CODE.fd",
      "/usr/share/edk2-armvirt/aarch64/QEMU_CODE.fd",
      "/usr/share/qemu/edk2-aarch64-code.fd",
      "/home/u/.nix-profile/share/qemu/edk2-aarch64-code.fd",
      "/run/current-system/sw/share/qemu/edk2-aarch64-code.fd",
    ]);
  });

  it("macOS: next to QEMU, the given Homebrew prefix, the two default prefixes, MacPorts, Nix", () => {
    const list = firmwareCandidates("darwin", "arm64", {
      qemuBinary: "/opt/homebrew/bin/qemu-system-aarch64",
      homebrewPrefix: "/Users/u/brew",
      home: "/Users/u",
    });
    expect(list.map((c) => c.code)).toEqual([
      "/opt/homebrew/share/qemu/edk2-aarch64-code.fd",
      "/Users/u/brew/share/qemu/edk2-aarch64-code.fd",
      "/usr/local/share/qemu/edk2-aarch64-code.fd",
      "/opt/local/share/qemu/edk2-aarch64-code.fd",
      "/Users/u/.nix-profile/share/qemu/edk2-aarch64-code.fd",
      "/run/current-system/sw/share/qemu/edk2-aarch64-code.fd",
    ]);
    expect(list[0]?.varsTemplate).toBe("/opt/homebrew/share/qemu/edk2-arm-vars.fd");
  });

  it("Windows: the share folder beside qemu-system-x86_64.exe", () => {
    expect(codes("windows", "amd64", { qemuBinary: "D:\\qemu\\qemu-system-x86_64.exe" })).toEqual([
      "D:\\qemu\\share\\edk2-x86_64-code.fd",
      "C:\\Program Files\\qemu\\share\\edk2-x86_64-code.fd",
    ]);
  });

  it("names the override variables, arch-specific first", () => {
    expect(firmwareEnvVars("arm64")).toEqual({
      code: ["HEXCLAVE_UEFI_CODE_ARM64", "HEXCLAVE_UEFI_CODE"],
      vars: ["HEXCLAVE_UEFI_VARS_ARM64", "HEXCLAVE_UEFI_VARS"],
    });
  });
});
