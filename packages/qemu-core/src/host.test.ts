import { describe, expect, it } from "vitest";
import { HexclaveError } from "./errors.js";
import { detectHost, normalizeArch, normalizeOs } from "./host.js";

describe("normalizeArch", () => {
  it.each([
    ["x86_64", "amd64"],
    ["amd64", "amd64"],
    ["x64", "amd64"],
    ["AMD64", "amd64"],
    ["aarch64", "arm64"],
    ["arm64", "arm64"],
  ])("%s -> %s", (input, want) => {
    expect(normalizeArch(input)).toBe(want);
  });

  it.each(["riscv64", "i386", "", "arm"])("rejects %j with INVALID_ARCH and a hint", (input) => {
    let error: unknown;
    try {
      normalizeArch(input);
    } catch (e) {
      error = e;
    }
    expect(HexclaveError.is(error) && error.code).toBe("INVALID_ARCH");
    expect((error as HexclaveError).hint).toContain("amd64 or arm64");
  });
});

describe("host", () => {
  it("maps Node platforms to the three supported OSes", () => {
    expect([normalizeOs("linux"), normalizeOs("darwin"), normalizeOs("win32")]).toEqual(["linux", "darwin", "windows"]);
    expect(() => normalizeOs("freebsd")).toThrow(/Unsupported host OS/);
  });

  it("describes this machine", () => {
    const host = detectHost();
    expect(host.os).toBe("linux");
    expect(["amd64", "arm64"]).toContain(host.arch);
    expect(host.cpus).toBeGreaterThanOrEqual(1);
    expect(host.memoryMb).toBeGreaterThan(128);
    expect(host.kernelRelease).toMatch(/^\d+\.\d+/);
  });
});
