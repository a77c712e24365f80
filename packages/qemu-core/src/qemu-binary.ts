/**
 * Finding the right `qemu-system-*` binary and reading its version.
 *
 * Lookup order for a guest arch: the environment override
 * `HEXCLAVE_QEMU_BINARY_AMD64` / `HEXCLAVE_QEMU_BINARY_ARM64` (a path), then
 * every directory of `PATH`, then the usual install directories of the OS
 * (Homebrew's `/opt/homebrew/bin` and `/usr/local/bin`, `C:\Program Files\qemu`).
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { type CommandRunner, execaRunner } from "./command-runner.js";
import { qemuErrors } from "./errors-data.js";
import { type HostOs, normalizeArch, normalizeOs } from "./host.js";
import { qemuSystemBinaryName } from "./qemu-args.js";
import { binaryIdentity, readCachedVersion, writeCachedVersion } from "./qemu-version-cache.js";
import type { Arch } from "./vm-spec.js";

export interface QemuVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** `major.minor.micro` */
  readonly version: string;
  /** The distribution's package version in parentheses, when present (`Debian 1:7.2+dfsg-7`). */
  readonly packageVersion?: string | undefined;
}

/** The oldest QEMU qemu-core supports: 7.2 (Debian 12), for `-accel` options, `pauth-impdef`, qcow2 zstd. */
export const MIN_QEMU_VERSION: QemuVersion = { major: 7, minor: 2, micro: 0, version: "7.2.0" };

export interface QemuBinary {
  readonly path: string;
  readonly arch: Arch;
  readonly version: QemuVersion;
}

/** The environment variable that overrides the QEMU binary for an arch: `HEXCLAVE_QEMU_BINARY_AMD64` or `..._ARM64`. */
export function qemuBinaryEnvVar(arch: Arch): string {
  return `HEXCLAVE_QEMU_BINARY_${arch.toUpperCase()}`;
}

/**
 * Parses the first line of `qemu-system-* --version`, for example
 * `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`. Pure.
 * Throws `QEMU_VERSION_UNREADABLE` when there is no version in the text.
 */
export function parseQemuVersion(text: string): QemuVersion {
  const match = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?[^\s(]*(?:\s*\(([^)]*)\))?/.exec(text);
  if (match === null) {
    throw qemuErrors.create("QEMU_VERSION_UNREADABLE", `No QEMU version in ${JSON.stringify(text.slice(0, 200))}`, {
      details: { text: text.slice(0, 1000) },
    });
  }
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const micro = Number(match[3] ?? "0");
  const packageVersion = match[4]?.trim();
  return {
    major,
    minor,
    micro,
    version: `${major}.${minor}.${micro}`,
    ...(packageVersion === undefined || packageVersion === "" ? {} : { packageVersion }),
  };
}

/** Negative when `a` is older than `b`, zero when equal, positive when newer. */
export function compareQemuVersions(a: QemuVersion, b: QemuVersion): number {
  return a.major - b.major || a.minor - b.minor || a.micro - b.micro;
}

/** Where to get QEMU for a guest arch, per OS: the package names of Debian/Ubuntu, Fedora, Arch and Homebrew. */
export function qemuInstallHint(os: HostOs, arch: Arch): string {
  const binary = qemuSystemBinaryName(arch);
  if (os === "darwin") return `Install QEMU with Homebrew: brew install qemu (provides ${binary}).`;
  if (os === "windows") {
    return `Install QEMU for Windows (winget install SoftwareFreedomConservancy.QEMU) and add its folder to PATH, or set ${qemuBinaryEnvVar(arch)}.`;
  }
  const [debian, fedora] =
    arch === "amd64" ? ["qemu-system-x86", "qemu-system-x86-core"] : ["qemu-system-arm", "qemu-system-aarch64-core"];
  return (
    `Install the package that provides ${binary}: Debian/Ubuntu: sudo apt-get install ${debian}; ` +
    `Fedora: sudo dnf install ${fedora}; Arch: sudo pacman -S qemu-full; Homebrew: brew install qemu. ` +
    `Or point ${qemuBinaryEnvVar(arch)} at the binary.`
  );
}

export interface QemuVersionOptions {
  readonly runner?: CommandRunner | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * A directory of the caller's where the version is remembered per binary file (`qemu-version-<hash>.json`,
   * see `qemu-version-cache.ts`): the same file, unchanged since, is not run again. Without it, always run.
   */
  readonly cacheDir?: string | undefined;
}

/**
 * Runs `<binary> --version` and parses it (or, with `cacheDir`, reads what it said while the file is unchanged).
 * Throws `QEMU_VERSION_UNREADABLE` when it does not run or say.
 */
export async function qemuVersion(binary: string, options: QemuVersionOptions = {}): Promise<QemuVersion> {
  if (options.cacheDir === undefined) return runQemuVersion(binary, options);
  const identity = await binaryIdentity(binary);
  if (identity === undefined) return runQemuVersion(binary, options);
  const cached = await readCachedVersion(options.cacheDir, identity);
  if (cached !== undefined) return cached;
  const version = await runQemuVersion(binary, options);
  await writeCachedVersion(options.cacheDir, identity, version);
  return version;
}

async function runQemuVersion(binary: string, options: QemuVersionOptions): Promise<QemuVersion> {
  const runner = options.runner ?? execaRunner;
  const result = await runner(binary, ["--version"], { timeoutMs: 15_000, signal: options.signal });
  if (result.exitCode !== 0) {
    const why = result.spawnError?.message ?? (result.stderr.trim() || `exit code ${result.exitCode}`);
    throw qemuErrors.create("QEMU_VERSION_UNREADABLE", `${binary} --version failed: ${why}`, {
      hint: `Check that the binary runs: ${binary} --version.`,
      details: { binary, exitCode: result.exitCode, stderr: result.stderr },
    });
  }
  try {
    return parseQemuVersion(result.stdout);
  } catch (cause) {
    throw qemuErrors.create("QEMU_VERSION_UNREADABLE", `${binary} --version printed no QEMU version`, {
      cause,
      hint: `Is ${binary} really QEMU? Run it with --version.`,
      details: { binary, stdout: result.stdout.slice(0, 1000) },
    });
  }
}

export interface FindQemuBinaryOptions extends QemuVersionOptions {
  /** Environment for `PATH` and the override variable; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Host OS (for the binary's name, fallback directories and the install hint); default this host's. */
  readonly os?: HostOs | undefined;
  /** Version floor; default {@link MIN_QEMU_VERSION}. */
  readonly minVersion?: QemuVersion | undefined;
}

async function isExecutable(path: string, os: HostOs): Promise<boolean> {
  try {
    await access(path, os === "windows" ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directories searched after `PATH` on each OS. */
export function qemuFallbackDirs(os: HostOs): string[] {
  if (os === "darwin") return ["/opt/homebrew/bin", "/usr/local/bin", "/opt/local/bin"];
  if (os === "windows") return ["C:\\Program Files\\qemu"];
  return ["/usr/bin", "/usr/local/bin", "/run/current-system/sw/bin"];
}

/**
 * Finds `qemu-system-x86_64` (amd64) or `qemu-system-aarch64` (arm64), runs
 * it for its version and checks the floor. Throws `QEMU_NOT_FOUND` (hint names
 * the package per OS, `details.searched` lists the paths), `QEMU_TOO_OLD` or
 * `QEMU_VERSION_UNREADABLE`.
 */
export async function findQemuBinary(
  archName: Arch | string,
  options: FindQemuBinaryOptions = {},
): Promise<QemuBinary> {
  const arch = normalizeArch(archName);
  const env = options.env ?? process.env;
  const os = options.os ?? normalizeOs(process.platform);
  const name = qemuSystemBinaryName(arch) + (os === "windows" ? ".exe" : "");
  const override = env[qemuBinaryEnvVar(arch)];
  let path: string | undefined;
  const searched: string[] = [];
  if (override !== undefined && override !== "") {
    searched.push(override);
    if (!(await isExecutable(override, os))) {
      throw qemuErrors.create(
        "QEMU_NOT_FOUND",
        `${qemuBinaryEnvVar(arch)} points at ${override}, which is not an executable file`,
        { hint: `Fix or unset ${qemuBinaryEnvVar(arch)}.`, details: { arch, searched } },
      );
    }
    path = override;
  } else {
    const pathVar = env.PATH ?? env.Path ?? "";
    const dirs = [
      ...pathVar.split(os === "windows" ? ";" : delimiter).filter((d) => d !== ""),
      ...qemuFallbackDirs(os),
    ];
    for (const dir of [...new Set(dirs)]) {
      const candidate = join(dir, name);
      searched.push(candidate);
      if (await isExecutable(candidate, os)) {
        path = candidate;
        break;
      }
    }
  }
  if (path === undefined) {
    throw qemuErrors.create("QEMU_NOT_FOUND", `${name} (QEMU for ${arch} guests) was not found on PATH`, {
      hint: qemuInstallHint(os, arch),
      details: { arch, binary: name, searched },
    });
  }
  const version = await qemuVersion(path, options);
  const floor = options.minVersion ?? MIN_QEMU_VERSION;
  if (compareQemuVersions(version, floor) < 0) {
    throw qemuErrors.create(
      "QEMU_TOO_OLD",
      `${path} is QEMU ${version.version}; at least ${floor.major}.${floor.minor} is needed`,
      {
        hint: `Upgrade QEMU to ${floor.major}.${floor.minor} or newer. ${qemuInstallHint(os, arch)}`,
        details: { path, version: version.version, minimum: floor.version },
      },
    );
  }
  return { path, arch, version };
}
