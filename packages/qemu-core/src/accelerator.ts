/**
 * `probeAccelerator`: the accelerator that really works here, not the one
 * whose device file exists.
 *
 * Candidates, in order: `hvf` on macOS, `kvm` on Linux, `whpx` on Windows,
 * then `tcg`. A cheap pre-check explains the obvious failures first (for KVM:
 * `/dev/kvm` missing or not accessible, with the fix). Then each candidate
 * runs a tiny guest (see `probe-guests.ts`) to a marker on the serial port
 * within a deadline; QEMU is killed when the deadline passes, which is how a
 * KVM that hangs guests is caught. A guest arch unlike the host's gets `tcg`
 * without trying the hardware accelerators.
 *
 * The deeper probe (`linuxKernel`): a tiny guest proves little on a nested,
 * paravirtual KVM that runs it but stops a real kernel (`KVM internal error`).
 * Given the kernel the VM will boot, a hardware accelerator that ran the tiny
 * guest must also boot that kernel, under the CPU model the VM uses (`-cpu
 * host`), through its whole early boot (long mode, paging, CPU feature setup,
 * MSRs, device probing) to its root mount, which fails (no disk) with a
 * panic and, with `panic=-1 -no-reboot`, QEMU's exit: about a second under
 * KVM. An answer from the tiny guest alone is not trusted from the cache
 * when a kernel is given.
 *
 * The answer is cached per host (OS, arch, kernel release, KVM device access),
 * QEMU binary and version, in `<cacheDir>/accel-probe-<hash>.json`; the
 * binary's version itself is remembered there per binary file while the file
 * is unchanged (`qemu-version-<hash>.json`, `qemu-version-cache.ts`). The
 * caller says where `cacheDir` is (the Hexclave emulator passes `<home>/cache`):
 * a library does not pick a place in the user's home on its own. Bypass the
 * cache with `cache: false` (then no `cacheDir` is needed) or
 * `HEXCLAVE_NO_ACCEL_CACHE=1`.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandRunner, execaRunner } from "./command-runner.js";
import { qemuErrors } from "./errors-data.js";
import { detectHost, type HostInfo, normalizeArch } from "./host.js";
import { AMD64_PROBE_DEVICE, PROBE_MARKER, probeGuest } from "./probe-guests.js";
import { buildQemuArgs } from "./qemu-args.js";
import { findQemuBinary, type QemuVersion, qemuVersion } from "./qemu-binary.js";
import { acceleratorErrorInOutput, oneLine } from "./run-state-watch.js";
import type { Accelerator, Arch, VmSpec } from "./vm-spec.js";

/** One candidate's outcome. */
export interface AcceleratorAttempt {
  readonly accel: Accelerator;
  readonly ok: boolean;
  /** Why it worked or, more usefully, why not (with the fix when known). */
  readonly reason: string;
  readonly durationMs: number;
}

export interface AcceleratorProbeResult {
  /** The accelerator to use. */
  readonly accel: Accelerator;
  /** One sentence for users: why this accelerator (and why not the better ones). */
  readonly reason: string;
  /** Every candidate tried, in order. */
  readonly tried: readonly AcceleratorAttempt[];
  /** True when this answer came from the cache (no QEMU was run). */
  readonly fromCache: boolean;
  readonly arch: Arch;
  readonly qemuBinary: string;
  readonly qemuVersion: string;
  /**
   * `runtime`: a real guest failed under the hardware accelerator after the probe had passed it, and this answer
   * (tcg) was recorded by {@link recordAcceleratorFailure}; `probe` (or absent): the probe's own answer.
   */
  readonly verdict?: "probe" | "runtime";
  /** `forced`: the user chose the accelerator (`--accel`, `EMULATOR_ACCEL`); nothing was probed. */
  readonly chosenBy?: "probe" | "forced";
  /** How deep the winning hardware accelerator was tested: the tiny guest only, or the guest's own kernel too. */
  readonly depth?: "tiny-guest" | "linux-kernel";
}

/** What the user may ask for: `auto` probes; any other value forces that accelerator. */
export type AcceleratorChoice = "auto" | Accelerator;
export const ACCELERATOR_CHOICES: readonly AcceleratorChoice[] = ["auto", "kvm", "hvf", "whpx", "tcg"];

export type AcceleratorProbeEvent =
  | { readonly type: "accel-cache-hit"; readonly file: string; readonly accel: Accelerator }
  | { readonly type: "accel-try"; readonly accel: Accelerator }
  | { readonly type: "accel-result"; readonly attempt: AcceleratorAttempt };

/**
 * Where the probe's answer is cached: a directory the caller owns
 * (`accel-probe-<hash>.json` files, created when first written), or no cache.
 */
export type ProbeCacheOptions =
  | {
      /** Use and update the cache (the default; `HEXCLAVE_NO_ACCEL_CACHE=1` also disables it). */
      readonly cache?: true | undefined;
      /** The cache directory; the Hexclave emulator passes `<home>/cache`. */
      readonly cacheDir: string;
    }
  | { readonly cache: false; readonly cacheDir?: string | undefined };

export type ProbeAcceleratorOptions = ProbeOptions & ProbeCacheOptions;

export interface ProbeOptions {
  /** Guest arch. */
  readonly arch: Arch | string;
  /** QEMU binary for that arch; found with `findQemuBinary` when omitted. */
  readonly qemuBinary?: string | undefined;
  /** This host; `detectHost()` when omitted (tests inject other hosts). */
  readonly hostInfo?: HostInfo | undefined;
  /** Deadline for each hardware accelerator's guest to reach the marker; default 3000 ms. TCG gets at least 8000 ms. */
  readonly deadlineMs?: number | undefined;
  readonly runner?: CommandRunner | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** The KVM device, default `/dev/kvm` (tests point it elsewhere). */
  readonly kvmDevice?: string | undefined;
  /** The guest's own Linux kernel: a hardware accelerator must also boot it to its root mount (see the module doc). */
  readonly linuxKernel?: string | undefined;
  /** Deadline of that kernel boot; default 15000 ms. */
  readonly kernelDeadlineMs?: number | undefined;
  readonly onEvent?: ((event: AcceleratorProbeEvent) => void) | undefined;
}

export const DEFAULT_PROBE_DEADLINE_MS = 3000;
export const DEFAULT_KERNEL_PROBE_DEADLINE_MS = 15_000;
/** Console lines of a kernel that got through its early boot to the root mount (none here: no disk, no initrd). */
export const KERNEL_PROBE_REACHED = /Kernel panic - not syncing|VFS: Unable to mount root|Run \/init as init process/;
const TCG_MIN_DEADLINE_MS = 8000;
export const NO_ACCEL_CACHE_ENV = "HEXCLAVE_NO_ACCEL_CACHE";
const CACHE_FORMAT = 1;

/** The candidates for a host and guest arch, best first; always ends with `tcg`. Pure. */
export function acceleratorCandidates(host: Pick<HostInfo, "os" | "arch">, guestArch: Arch): Accelerator[] {
  if (host.arch !== guestArch) return ["tcg"];
  const hardware: Accelerator = host.os === "darwin" ? "hvf" : host.os === "windows" ? "whpx" : "kvm";
  return [hardware, "tcg"];
}

type KvmAccess = "ok" | "missing" | "denied";

async function kvmAccess(device: string): Promise<KvmAccess> {
  try {
    await stat(device);
  } catch {
    return "missing";
  }
  try {
    await access(device, constants.R_OK | constants.W_OK);
    return "ok";
  } catch {
    return "denied";
  }
}

async function cpuVirtFlag(): Promise<boolean | undefined> {
  try {
    const info = await readFile("/proc/cpuinfo", "utf8");
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(info);
  } catch {
    return undefined;
  }
}

/** Explains a KVM that cannot work without running anything; undefined when it may work. */
async function kvmPrecheck(device: string, host: HostInfo): Promise<string | undefined> {
  const state = await kvmAccess(device);
  if (state === "ok") return undefined;
  if (state === "denied") {
    return (
      `${device} exists but is not readable and writable by this user: add the user to group kvm ` +
      "(sudo usermod -aG kvm $USER, then log in again) or fix the device's permissions"
    );
  }
  const flag = host.arch === "amd64" ? await cpuVirtFlag() : undefined;
  const cpu =
    flag === false
      ? "the CPU shows no vmx/svm flag: enable VT-x/AMD-V in the firmware, or nested virtualisation on a cloud VM"
      : "load the kvm module (modprobe kvm_intel or kvm_amd) or enable virtualisation in the firmware or hypervisor";
  return `${device} does not exist: KVM is not available on this host; ${cpu}`;
}

async function hvfPrecheck(runner: CommandRunner, signal: AbortSignal | undefined): Promise<string | undefined> {
  const result = await runner("sysctl", ["-n", "kern.hv_support"], { timeoutMs: 5000, signal });
  if (result.exitCode === 0 && result.stdout.trim() === "0") {
    return "Hypervisor.framework is not supported here (kern.hv_support = 0): macOS runs in a VM without nested virtualisation";
  }
  return undefined;
}

function probeSpec(arch: Arch, accel: Accelerator, guestFile: string): VmSpec {
  const common = { name: "hexclave-accel-probe", arch, accel, cpus: 1, memoryMb: 128, drives: [] } as const;
  return arch === "amd64"
    ? { ...common, serial: "stdio", noReboot: true, extraArgs: ["-bios", guestFile, "-device", AMD64_PROBE_DEVICE] }
    : { ...common, serial: "stdio", noReboot: true, kernelBoot: { kernel: guestFile } };
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return lines[lines.length - 1] ?? "";
}

async function tryAccelerator(
  accel: Accelerator,
  arch: Arch,
  hostArch: Arch,
  qemuBinary: string,
  guestFile: string,
  deadlineMs: number,
  runner: CommandRunner,
  signal: AbortSignal | undefined,
): Promise<{ ok: boolean; reason: string }> {
  const args = buildQemuArgs(probeSpec(arch, accel, guestFile), { hostArch });
  const started = performance.now();
  const result = await runner(qemuBinary, args, { timeoutMs: deadlineMs, signal, forceKillAfterMs: 1000 });
  const ms = Math.round(performance.now() - started);
  if (result.stdout.includes(PROBE_MARKER))
    return { ok: true, reason: `the ${arch} probe guest reached the marker in ${ms} ms` };
  if (result.spawnError !== undefined) {
    return { ok: false, reason: `QEMU could not be started (${result.spawnError.code}: ${result.spawnError.message})` };
  }
  const said = lastLine(result.stderr);
  if (result.timedOut === true) {
    return {
      ok: false,
      reason:
        `QEMU started but the guest did not reach the marker within ${deadlineMs} ms (the vCPU hangs)` +
        (said === "" ? "" : `; QEMU said: ${said}`),
    };
  }
  const how =
    result.exitCode === null ? `was killed by ${result.signal ?? "a signal"}` : `exited with code ${result.exitCode}`;
  return { ok: false, reason: `QEMU ${how} before the guest reached the marker${said === "" ? "" : `: ${said}`}` };
}

/** The kernel-boot probe's VM: no disk, the console on stdio, a panic reboots and -no-reboot makes QEMU exit. */
function kernelProbeSpec(arch: Arch, accel: Accelerator, kernel: string): VmSpec {
  const console = arch === "amd64" ? "ttyS0" : "ttyAMA0";
  return {
    name: "hexclave-accel-probe-kernel",
    arch,
    accel,
    cpus: 1,
    memoryMb: 512,
    drives: [],
    serial: "stdio",
    noReboot: true,
    kernelBoot: { kernel, append: `console=${console} quiet panic=-1` },
  };
}

async function tryKernel(
  accel: Accelerator,
  arch: Arch,
  hostArch: Arch,
  qemuBinary: string,
  kernel: string,
  deadlineMs: number,
  runner: CommandRunner,
  signal: AbortSignal | undefined,
): Promise<{ ok: boolean; reason: string }> {
  const args = buildQemuArgs(kernelProbeSpec(arch, accel, kernel), { hostArch });
  const started = performance.now();
  const result = await runner(qemuBinary, args, {
    timeoutMs: deadlineMs,
    signal,
    forceKillAfterMs: 1000,
    // QEMU reports the failure, then holds the VM paused: end it at once, not at the deadline.
    stopWhen: ({ stderr }) => acceleratorErrorInOutput(stderr) !== undefined,
  });
  const ms = Math.round(performance.now() - started);
  const said = acceleratorErrorInOutput(result.stderr);
  if (said === undefined && KERNEL_PROBE_REACHED.test(result.stdout)) {
    return { ok: true, reason: `the guest's kernel booted to its root mount in ${ms} ms` };
  }
  if (said !== undefined) {
    return { ok: false, reason: `the guest's kernel could not run under ${accel}: QEMU said: ${oneLine(said)}` };
  }
  if (result.spawnError !== undefined) {
    return { ok: false, reason: `QEMU could not be started (${result.spawnError.code}: ${result.spawnError.message})` };
  }
  const lastSaid = lastLine(result.stderr);
  return {
    ok: false,
    reason:
      (result.timedOut === true
        ? `the guest's kernel did not reach its root mount within ${deadlineMs} ms (the vCPU hangs)`
        : `QEMU exited (code ${String(result.exitCode)}) before the guest's kernel reached its root mount`) +
      (lastSaid === "" ? "" : `; QEMU said: ${lastSaid}`),
  };
}

interface CacheKey {
  readonly format: number;
  readonly os: string;
  readonly hostArch: Arch;
  readonly kernelRelease: string;
  readonly kvm: KvmAccess | null;
  readonly arch: Arch;
  readonly qemuBinary: string;
  readonly qemuVersion: string;
}

function cacheFile(dir: string, key: CacheKey): string {
  const hash = createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16);
  return join(dir, `accel-probe-${hash}.json`);
}

async function readCache(file: string, key: CacheKey): Promise<AcceleratorProbeResult | undefined> {
  try {
    const data = JSON.parse(await readFile(file, "utf8")) as { key?: unknown; result?: AcceleratorProbeResult };
    if (JSON.stringify(data.key) !== JSON.stringify(key) || data.result === undefined) return undefined;
    if (typeof data.result.accel !== "string" || !Array.isArray(data.result.tried)) return undefined;
    return { ...data.result, fromCache: true };
  } catch {
    return undefined;
  }
}

async function writeCache(file: string, key: CacheKey, result: AcceleratorProbeResult): Promise<void> {
  const dir = join(file, "..");
  await mkdir(dir, { recursive: true });
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify({ key, savedAt: new Date().toISOString(), result }, null, 2)}\n`);
    await rename(temp, file);
  } catch {
    await rm(temp, { force: true });
    // A cache we cannot write is not an error: the next probe runs again.
  }
}

function versionText(v: QemuVersion): string {
  return v.packageVersion === undefined ? v.version : `${v.version} (${v.packageVersion})`;
}

async function probeContext(options: ProbeAcceleratorOptions) {
  const arch = normalizeArch(options.arch);
  const env = options.env ?? process.env;
  const runner = options.runner ?? execaRunner;
  const host = options.hostInfo ?? detectHost();
  const kvmDevice = options.kvmDevice ?? "/dev/kvm";
  const signal = options.signal;
  if (options.cache !== false && (typeof options.cacheDir !== "string" || options.cacheDir === "")) {
    throw qemuErrors.create("INVALID_ARGUMENT", "The accelerator probe needs a cacheDir, or cache: false", {
      hint: "Pass cacheDir: a directory of yours for its accel-probe-<hash>.json files.",
    });
  }

  const useCache = options.cache !== false && env[NO_ACCEL_CACHE_ENV] !== "1";
  // The binary's version is remembered beside the probe's answer, per binary file (qemu-version-cache.ts).
  const versionCache = useCache && options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {};
  let qemuBinary: string;
  let version: QemuVersion;
  if (options.qemuBinary === undefined) {
    const found = await findQemuBinary(arch, { env, runner, os: host.os, signal, ...versionCache });
    qemuBinary = found.path;
    version = found.version;
  } else {
    qemuBinary = options.qemuBinary;
    version = await qemuVersion(qemuBinary, { runner, signal, ...versionCache });
  }

  const candidates = acceleratorCandidates(host, arch);
  const key: CacheKey = {
    format: CACHE_FORMAT,
    os: host.os,
    hostArch: host.arch,
    kernelRelease: host.kernelRelease,
    kvm: candidates.includes("kvm") ? await kvmAccess(kvmDevice) : null,
    arch,
    qemuBinary,
    qemuVersion: versionText(version),
  };
  const file = options.cacheDir === undefined ? undefined : cacheFile(options.cacheDir, key);
  // The file a probe reads and writes; undefined: no cache (`cache: false`, or bypassed by the environment).
  const cacheAt = useCache ? file : undefined;
  return { arch, env, runner, host, kvmDevice, signal, qemuBinary, version, candidates, cacheAt, key, file };
}

/**
 * Records that `accel` passed the probe but could not run a real guest here
 * (`reason`: QEMU's words), in the probe's cache: every later
 * {@link probeAccelerator} for this host and QEMU answers `tcg` at once,
 * saying why, until the cache is bypassed (`HEXCLAVE_NO_ACCEL_CACHE=1`) or
 * the host or QEMU changes. Returns the answer now cached.
 */
export async function recordAcceleratorFailure(
  options: ProbeOptions & { readonly cacheDir: string; readonly accel: Accelerator; readonly reason: string },
): Promise<AcceleratorProbeResult> {
  const { arch, qemuBinary, key, file } = await probeContext(options);
  if (file === undefined) {
    throw qemuErrors.create("INVALID_ARGUMENT", "recordAcceleratorFailure needs the probe's cacheDir", {
      hint: "Pass the cacheDir the probe uses.",
    });
  }
  const previous = await readCache(file, key);
  const failed: AcceleratorAttempt = {
    accel: options.accel,
    ok: false,
    reason: `a real guest failed under ${options.accel}: ${options.reason}`,
    durationMs: 0,
  };
  const tcg = previous?.tried.find((t) => t.accel === "tcg" && t.ok);
  const result: AcceleratorProbeResult = {
    accel: "tcg",
    reason: `${options.accel} cannot run this guest on this host: ${options.reason}; using tcg`,
    tried: [failed, ...(tcg === undefined ? [] : [tcg])],
    fromCache: false,
    arch,
    qemuBinary,
    qemuVersion: key.qemuVersion,
    verdict: "runtime",
  };
  await writeCache(file, key, result);
  return result;
}

/**
 * The accelerator to run with: `auto` probes (see {@link probeAccelerator});
 * a forced choice is used as it is, after the checks that need no QEMU run
 * (the accelerator exists on this OS, runs this guest arch, and for KVM the
 * device is usable). A forced choice that cannot work throws
 * `ACCEL_UNAVAILABLE` with the reason: it never falls back.
 */
export async function chooseAccelerator(
  options: ProbeAcceleratorOptions & { readonly choice: AcceleratorChoice },
): Promise<AcceleratorProbeResult> {
  if (!ACCELERATOR_CHOICES.includes(options.choice)) {
    throw qemuErrors.create("INVALID_ARGUMENT", `Unknown accelerator ${JSON.stringify(options.choice)}`, {
      hint: `Use one of ${ACCELERATOR_CHOICES.join(", ")}.`,
    });
  }
  if (options.choice === "auto") return { ...(await probeAccelerator(options)), chosenBy: "probe" };
  const accel = options.choice;
  const { arch, host, kvmDevice, qemuBinary, version, candidates } = await probeContext(options);
  const unavailable = (why: string) =>
    qemuErrors.create("ACCEL_UNAVAILABLE", `The accelerator ${accel} was asked for, but ${why}`, {
      details: { accel, arch, os: host.os, hostArch: host.arch },
    });
  if (!candidates.includes(accel)) {
    throw unavailable(
      host.arch !== arch
        ? `a ${arch} guest on a ${host.arch} host runs only under tcg`
        : `${accel} does not exist on ${host.os} (here: ${candidates.join(", ")})`,
    );
  }
  const why =
    accel === "kvm"
      ? await kvmPrecheck(kvmDevice, host)
      : accel === "hvf"
        ? await hvfPrecheck(options.runner ?? execaRunner, options.signal)
        : undefined;
  if (why !== undefined) throw unavailable(why);
  return {
    accel,
    reason: `${accel} was chosen (--accel or EMULATOR_ACCEL); not probed`,
    tried: [],
    fromCache: false,
    arch,
    qemuBinary,
    qemuVersion: versionText(version),
    chosenBy: "forced",
  };
}

/**
 * Finds the accelerator that really runs a guest of `arch` here. Never
 * throws for a failing hardware accelerator (that is in `tried`); throws
 * `ACCEL_PROBE_FAILED` only when even TCG cannot run the probe guest, and
 * `ABORTED` when `signal` fires (QEMU is killed first).
 *
 * @example
 * ```ts
 * const probe = await probeAccelerator({ arch: "amd64" });
 * // { accel: "tcg", reason: "kvm failed: /dev/kvm does not exist ...; using tcg ...", tried: [...] }
 * ```
 */
export async function probeAccelerator(options: ProbeAcceleratorOptions): Promise<AcceleratorProbeResult> {
  const { arch, runner, host, kvmDevice, signal, qemuBinary, version, candidates, cacheAt, key } =
    await probeContext(options);
  if (cacheAt !== undefined) {
    const cached = await readCache(cacheAt, key);
    // A hardware accelerator that ran only the tiny guest is tested again when the guest's kernel is at hand.
    const tooShallow =
      options.linuxKernel !== undefined &&
      cached !== undefined &&
      cached.accel !== "tcg" &&
      cached.depth !== "linux-kernel";
    if (cached !== undefined && !tooShallow) {
      options.onEvent?.({ type: "accel-cache-hit", file: cacheAt, accel: cached.accel });
      return cached;
    }
  }

  const deadline = options.deadlineMs ?? DEFAULT_PROBE_DEADLINE_MS;
  const tried: AcceleratorAttempt[] = [];
  const workDir = await mkdtemp(join(tmpdir(), "hexclave-accel-probe-"));
  try {
    const guest = probeGuest(arch);
    const guestFile = join(workDir, guest.fileName);
    await writeFile(guestFile, guest.bytes);
    for (const accel of candidates) {
      if (signal?.aborted === true) throw qemuErrors.create("ABORTED", "The accelerator probe was cancelled");
      options.onEvent?.({ type: "accel-try", accel });
      const started = performance.now();
      let outcome: { ok: boolean; reason: string } | undefined;
      if (accel === "kvm") {
        const why = await kvmPrecheck(kvmDevice, host);
        if (why !== undefined) outcome = { ok: false, reason: why };
      } else if (accel === "hvf") {
        const why = await hvfPrecheck(runner, signal);
        if (why !== undefined) outcome = { ok: false, reason: why };
      }
      outcome ??= await tryAccelerator(
        accel,
        arch,
        host.arch,
        qemuBinary,
        guestFile,
        accel === "tcg" ? Math.max(deadline, TCG_MIN_DEADLINE_MS) : deadline,
        runner,
        signal,
      );
      if (outcome.ok && accel !== "tcg" && options.linuxKernel !== undefined) {
        const deep = await tryKernel(
          accel,
          arch,
          host.arch,
          qemuBinary,
          options.linuxKernel,
          options.kernelDeadlineMs ?? DEFAULT_KERNEL_PROBE_DEADLINE_MS,
          runner,
          signal,
        );
        outcome = { ok: deep.ok, reason: deep.ok ? `${outcome.reason}, and ${deep.reason}` : deep.reason };
      }
      const attempt: AcceleratorAttempt = { accel, ...outcome, durationMs: Math.round(performance.now() - started) };
      tried.push(attempt);
      options.onEvent?.({ type: "accel-result", attempt });
      if (attempt.ok) break;
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }

  const winner = tried.find((a) => a.ok);
  if (winner === undefined) {
    throw qemuErrors.create(
      "ACCEL_PROBE_FAILED",
      `No accelerator could run a ${arch} guest with ${qemuBinary}: ${tried.map((a) => `${a.accel}: ${a.reason}`).join("; ")}`,
      { details: { arch, qemuBinary, tried } },
    );
  }
  const failed = tried.filter((a) => !a.ok);
  let reason: string;
  if (host.arch !== arch) {
    reason = `cross-arch: ${arch} guest on ${host.arch} host, so tcg (hardware accelerators run only same-arch guests); ${winner.reason}`;
  } else if (failed.length === 0) {
    reason = `${winner.accel} works: ${winner.reason}`;
  } else {
    reason = `${failed.map((a) => `${a.accel} unusable: ${a.reason}`).join("; ")}; using ${winner.accel} (${winner.reason})`;
  }
  const result: AcceleratorProbeResult = {
    accel: winner.accel,
    reason,
    tried,
    fromCache: false,
    arch,
    qemuBinary,
    qemuVersion: versionText(version),
    ...(winner.accel === "tcg" ? {} : { depth: options.linuxKernel === undefined ? "tiny-guest" : "linux-kernel" }),
  };
  if (cacheAt !== undefined) await writeCache(cacheAt, key, result);
  return result;
}
