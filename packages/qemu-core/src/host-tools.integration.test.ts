import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HexclaveError } from "./errors.js";
import { findFirmware } from "./firmware.js";
import { findQemuBinary, qemuVersion } from "./qemu-binary.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "host-tools-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function caught(promise: Promise<unknown>): Promise<HexclaveError> {
  try {
    await promise;
  } catch (e) {
    if (HexclaveError.is(e)) return e;
    throw e;
  }
  throw new Error("expected a HexclaveError");
}

describe("findQemuBinary (real QEMU 7.2 here)", () => {
  it.each([
    ["amd64", "qemu-system-x86_64"],
    ["arm64", "qemu-system-aarch64"],
    ["x86_64", "qemu-system-x86_64"],
  ])("%s -> %s with its version", async (arch, binary) => {
    const found = await findQemuBinary(arch);
    expect(found.path).toMatch(new RegExp(`/${binary}$`));
    expect(found.version.major).toBeGreaterThanOrEqual(7);
    expect(await qemuVersion(found.path)).toEqual(found.version);
  });

  it("is missing from an empty PATH: QEMU_NOT_FOUND naming the packages and where it looked", async () => {
    const error = await caught(findQemuBinary("arm64", { env: { PATH: dir }, os: "darwin" }));
    expect(error.code).toBe("QEMU_NOT_FOUND");
    expect(error.hint).toContain("brew install qemu");
    expect(error.details.searched).toContain(join(dir, "qemu-system-aarch64"));
  });

  it("honours HEXCLAVE_QEMU_BINARY_<ARCH>, and says so when it points nowhere", async () => {
    const real = (await findQemuBinary("amd64")).path;
    const viaEnv = await findQemuBinary("amd64", { env: { PATH: "", HEXCLAVE_QEMU_BINARY_AMD64: real } });
    expect(viaEnv.path).toBe(real);
    const error = await caught(findQemuBinary("amd64", { env: { HEXCLAVE_QEMU_BINARY_AMD64: join(dir, "nope") } }));
    expect(error.code).toBe("QEMU_NOT_FOUND");
    expect(error.message).toContain("HEXCLAVE_QEMU_BINARY_AMD64");
  });

  it("refuses a QEMU older than 7.2 with QEMU_TOO_OLD", async () => {
    const old = join(dir, "qemu-system-x86_64");
    await writeFile(old, "#!/bin/sh\necho 'QEMU emulator version 6.2.0 (Debian 1:6.2+dfsg-2ubuntu6)'\n");
    await chmod(old, 0o755);
    const error = await caught(findQemuBinary("amd64", { env: { PATH: dir }, os: "linux" }));
    expect(error.code).toBe("QEMU_TOO_OLD");
    expect(error.message).toContain("6.2.0");
    expect(error.hint).toContain("qemu-system-x86");
  });

  it("rejects an unknown arch with INVALID_ARCH", async () => {
    expect((await caught(findQemuBinary("riscv64"))).code).toBe("INVALID_ARCH");
  });
});

describe("findFirmware (OVMF and AAVMF installed here)", () => {
  it("finds Debian's OVMF 4M pair for amd64 and AAVMF for arm64", async () => {
    expect(await findFirmware("amd64", { env: {} })).toEqual({
      code: "/usr/share/OVMF/OVMF_CODE_4M.fd",
      varsTemplate: "/usr/share/OVMF/OVMF_VARS_4M.fd",
      source: "debian",
    });
    expect(await findFirmware("arm64", { env: {} })).toEqual({
      code: "/usr/share/AAVMF/AAVMF_CODE.fd",
      varsTemplate: "/usr/share/AAVMF/AAVMF_VARS.fd",
      source: "debian",
    });
  });

  it("honours HEXCLAVE_UEFI_CODE / HEXCLAVE_UEFI_VARS", async () => {
    const code = join(dir, "code.fd");
    const vars = join(dir, "vars.fd");
    await writeFile(code, "c");
    await writeFile(vars, "v");
    expect(await findFirmware("arm64", { env: { HEXCLAVE_UEFI_CODE: code, HEXCLAVE_UEFI_VARS: vars } })).toEqual({
      code,
      varsTemplate: vars,
      source: "env",
    });
    const error = await caught(findFirmware("arm64", { env: { HEXCLAVE_UEFI_CODE_ARM64: join(dir, "missing.fd") } }));
    expect(error.code).toBe("FIRMWARE_NOT_FOUND");
    expect(error.message).toContain("HEXCLAVE_UEFI_CODE_ARM64");
  });

  it("lists every place it looked when nothing is there (macOS layout on this Linux machine)", async () => {
    const error = await caught(
      findFirmware("arm64", { env: {}, os: "darwin", home: dir, qemuBinary: join(dir, "bin", "qemu-system-aarch64") }),
    );
    expect(error.code).toBe("FIRMWARE_NOT_FOUND");
    expect(error.details.searched).toEqual(
      expect.arrayContaining([
        join(dir, "share", "qemu", "edk2-aarch64-code.fd"),
        "/opt/homebrew/share/qemu/edk2-aarch64-code.fd",
      ]),
    );
    expect(error.message).toContain("/opt/homebrew/share/qemu/edk2-aarch64-code.fd");
    expect(error.hint).toContain("HEXCLAVE_UEFI_CODE_ARM64");
  });
});
