/**
 * Finding UEFI firmware: the read-only code image and, where the distribution
 * ships one, a variables template to copy for each VM.
 *
 * Overrides: `HEXCLAVE_UEFI_CODE_<ARCH>` / `HEXCLAVE_UEFI_VARS_<ARCH>` (ARCH is
 * `AMD64` or `ARM64`), then `HEXCLAVE_UEFI_CODE` / `HEXCLAVE_UEFI_VARS`.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { homedir } from "node:os";
import { posix, win32 } from "node:path";
import { qemuErrors } from "./errors-data.js";
import { type HostOs, normalizeArch, normalizeOs } from "./host.js";
import type { Arch } from "./vm-spec.js";

export interface FirmwareCandidate {
  /** UEFI code image (mapped read-only as pflash unit 0). */
  readonly code: string;
  /** Variables template that goes with it (copy it per VM; pflash unit 1). */
  readonly varsTemplate?: string;
  /** Where this pair comes from, for messages: `qemu`, `homebrew`, `debian`, `fedora`, `arch`, `nix`, `env`. */
  readonly source: string;
}

export interface Firmware {
  readonly code: string;
  /** Present when a template exists beside the code image. */
  readonly varsTemplate?: string;
  readonly source: string;
}

export interface FirmwareCandidateOptions {
  /** The QEMU binary in use: firmware shipped with it (`<bin>/../share/qemu`) is tried first. */
  readonly qemuBinary?: string | undefined;
  /** Homebrew's prefix when known (`brew --prefix`); `/opt/homebrew` and `/usr/local` are tried anyway. */
  readonly homebrewPrefix?: string | undefined;
  /** Home directory for `~/.nix-profile`; default the current user's. */
  readonly home?: string | undefined;
}

/** QEMU's own firmware file names (as installed by QEMU, Homebrew, Nix, Fedora and Arch under share/qemu). */
function qemuShipped(arch: Arch): { code: string; vars: string } {
  return arch === "amd64"
    ? { code: "edk2-x86_64-code.fd", vars: "edk2-i386-vars.fd" }
    : { code: "edk2-aarch64-code.fd", vars: "edk2-arm-vars.fd" };
}

/**
 * The places UEFI firmware usually lives for an OS and guest arch, in the
 * order they are tried. Pure: nothing is checked on disk.
 */
export function firmwareCandidates(
  os: HostOs,
  arch: Arch,
  options: FirmwareCandidateOptions = {},
): FirmwareCandidate[] {
  const path = os === "windows" ? win32 : posix;
  const shipped = qemuShipped(arch);
  const out: FirmwareCandidate[] = [];
  const inShare = (dir: string, source: string) =>
    out.push({ code: path.join(dir, shipped.code), varsTemplate: path.join(dir, shipped.vars), source });

  if (options.qemuBinary !== undefined) {
    const binDir = path.dirname(options.qemuBinary);
    inShare(os === "windows" ? path.join(binDir, "share") : path.join(binDir, "..", "share", "qemu"), "qemu");
  }
  if (os === "windows") {
    inShare("C:\\Program Files\\qemu\\share", "qemu");
    return dedupe(out);
  }
  if (os === "darwin") {
    const prefixes = [options.homebrewPrefix, "/opt/homebrew", "/usr/local"].filter((p) => p !== undefined);
    for (const prefix of prefixes) inShare(path.join(prefix, "share", "qemu"), "homebrew");
    inShare("/opt/local/share/qemu", "macports");
  } else if (arch === "amd64") {
    const pairs: Array<[string, string, string]> = [
      ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", "debian"],
      ["/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd", "debian"],
      ["/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd", "fedora"],
      ["/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd", "arch"],
      ["/usr/share/edk2/x64/OVMF_CODE.fd", "/usr/share/edk2/x64/OVMF_VARS.fd", "arch"],
      ["/usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd", "arch"],
    ];
    for (const [code, varsTemplate, source] of pairs) out.push({ code, varsTemplate, source });
    inShare("/usr/share/qemu", "qemu");
  } else {
    const pairs: Array<[string, string | undefined, string]> = [
      ["/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd", "debian"],
      ["/usr/share/qemu-efi-aarch64/QEMU_EFI.fd", "/usr/share/qemu-efi-aarch64/QEMU_VARS.fd", "debian"],
      ["/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw", "/usr/share/edk2/aarch64/vars-template-pflash.raw", "fedora"],
      ["/usr/share/edk2/aarch64/QEMU_CODE.fd", "/usr/share/edk2/aarch64/QEMU_VARS.fd", "arch"],
      ["/usr/share/edk2-armvirt/aarch64/QEMU_CODE.fd", "/usr/share/edk2-armvirt/aarch64/QEMU_VARS.fd", "arch"],
    ];
    for (const [code, varsTemplate, source] of pairs) {
      out.push(varsTemplate === undefined ? { code, source } : { code, varsTemplate, source });
    }
    inShare("/usr/share/qemu", "qemu");
  }
  inShare(path.join(options.home ?? homedir(), ".nix-profile", "share", "qemu"), "nix");
  inShare("/run/current-system/sw/share/qemu", "nix");
  return dedupe(out);
}

function dedupe(list: FirmwareCandidate[]): FirmwareCandidate[] {
  const seen = new Set<string>();
  return list.filter((c) => !seen.has(c.code) && seen.add(c.code) !== undefined);
}

/** The override variables for an arch, most specific first. */
export function firmwareEnvVars(arch: Arch): { code: string[]; vars: string[] } {
  const suffix = arch.toUpperCase();
  return {
    code: [`HEXCLAVE_UEFI_CODE_${suffix}`, "HEXCLAVE_UEFI_CODE"],
    vars: [`HEXCLAVE_UEFI_VARS_${suffix}`, "HEXCLAVE_UEFI_VARS"],
  };
}

export interface FindFirmwareOptions extends FirmwareCandidateOptions {
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Host OS; default this host's. */
  readonly os?: HostOs | undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function firmwarePackageHint(os: HostOs, arch: Arch): string {
  if (os === "darwin") return "Install QEMU with Homebrew (brew install qemu): it ships the UEFI firmware.";
  if (os === "windows") return "Reinstall QEMU for Windows: its share folder holds the UEFI firmware.";
  return arch === "amd64"
    ? "Install OVMF: Debian/Ubuntu: sudo apt-get install ovmf; Fedora: sudo dnf install edk2-ovmf; Arch: sudo pacman -S edk2-ovmf."
    : "Install AAVMF: Debian/Ubuntu: sudo apt-get install qemu-efi-aarch64; Fedora: sudo dnf install edk2-aarch64; Arch: sudo pacman -S edk2-aarch64.";
}

/**
 * Finds UEFI firmware for a guest arch: the environment override, else the
 * first existing {@link firmwareCandidates} entry. Throws `FIRMWARE_NOT_FOUND`
 * whose `details.searched` lists every path tried.
 */
export async function findFirmware(archName: Arch | string, options: FindFirmwareOptions = {}): Promise<Firmware> {
  const arch = normalizeArch(archName);
  const env = options.env ?? process.env;
  const os = options.os ?? normalizeOs(process.platform);
  const vars = firmwareEnvVars(arch);
  const fromEnv = (names: string[]) => {
    for (const name of names) {
      const value = env[name];
      if (value !== undefined && value !== "") return { name, value };
    }
    return undefined;
  };
  const codeEnv = fromEnv(vars.code);
  const varsEnv = fromEnv(vars.vars);
  if (codeEnv !== undefined) {
    for (const entry of [codeEnv, varsEnv]) {
      if (entry !== undefined && !(await exists(entry.value))) {
        throw qemuErrors.create(
          "FIRMWARE_NOT_FOUND",
          `${entry.name} points at ${entry.value}, which is not a readable file`,
          {
            hint: `Fix or unset ${entry.name}.`,
            details: { arch, searched: [entry.value] },
          },
        );
      }
    }
    return varsEnv === undefined
      ? { code: codeEnv.value, source: "env" }
      : { code: codeEnv.value, varsTemplate: varsEnv.value, source: "env" };
  }
  const searched: string[] = [];
  for (const candidate of firmwareCandidates(os, arch, options)) {
    searched.push(candidate.code);
    if (!(await exists(candidate.code))) continue;
    const template = varsEnv?.value ?? candidate.varsTemplate;
    if (template !== undefined && (await exists(template))) {
      return { code: candidate.code, varsTemplate: template, source: candidate.source };
    }
    return { code: candidate.code, source: candidate.source };
  }
  throw qemuErrors.create(
    "FIRMWARE_NOT_FOUND",
    `No UEFI firmware for ${arch} guests; looked in:\n  ${searched.join("\n  ")}`,
    {
      hint: `${firmwarePackageHint(os, arch)} Or set ${vars.code[0]} (and ${vars.vars[0]}) to the firmware files.`,
      details: { arch, searched },
    },
  );
}
