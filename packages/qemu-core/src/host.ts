/**
 * What machine are we on: OS, normalised arch, CPUs, memory, kernel release.
 */
import { availableParallelism, arch as osArch, platform, release, totalmem } from "node:os";
import { qemuErrors } from "./errors-data.js";
import type { Arch } from "./vm-spec.js";

export type HostOs = "linux" | "darwin" | "windows";

export interface HostInfo {
  readonly os: HostOs;
  readonly arch: Arch;
  /** Logical CPUs available to this process. */
  readonly cpus: number;
  /** Total physical memory in MiB. */
  readonly memoryMb: number;
  /** `uname -r` (Linux, macOS's Darwin version) or Windows' build number. */
  readonly kernelRelease: string;
}

const ARCH_ALIASES: Readonly<Record<string, Arch>> = {
  amd64: "amd64",
  x86_64: "amd64",
  "x86-64": "amd64",
  x64: "amd64",
  arm64: "arm64",
  aarch64: "arm64",
};

/**
 * Normalises an arch name: `x86_64`, `amd64`, `x64` -> `amd64`; `aarch64`,
 * `arm64` -> `arm64` (case-insensitive). Anything else throws `INVALID_ARCH`.
 */
export function normalizeArch(name: string): Arch {
  const arch = typeof name === "string" ? ARCH_ALIASES[name.trim().toLowerCase()] : undefined;
  if (arch === undefined) {
    throw qemuErrors.create("INVALID_ARCH", `Unknown architecture ${JSON.stringify(name)}: expected amd64 or arm64`, {
      details: { arch: name },
    });
  }
  return arch;
}

/** Maps Node's `process.platform` to a {@link HostOs}; throws `UNSUPPORTED_HOST` for others. */
export function normalizeOs(name: string): HostOs {
  if (name === "linux" || name === "darwin") return name;
  if (name === "win32" || name === "windows") return "windows";
  throw qemuErrors.create("UNSUPPORTED_HOST", `Unsupported host OS ${JSON.stringify(name)}`, { details: { os: name } });
}

/** Describes this machine. Throws `UNSUPPORTED_HOST` on an OS or CPU the emulator does not run on. */
export function detectHost(): HostInfo {
  const os = normalizeOs(platform());
  let arch: Arch;
  try {
    arch = normalizeArch(osArch());
  } catch (cause) {
    throw qemuErrors.create("UNSUPPORTED_HOST", `Unsupported host CPU architecture ${osArch()}`, {
      cause,
      details: { arch: osArch() },
    });
  }
  return {
    os,
    arch,
    cpus: availableParallelism(),
    memoryMb: Math.floor(totalmem() / (1024 * 1024)),
    kernelRelease: release(),
  };
}
