/**
 * The effects behind `stack emulator doctor`: each probe looks at one thing on
 * this host and returns facts (or the error it met). Injectable, so tests can
 * swap one probe; the default set uses qemu-core, dockerode and the file system.
 */
import { constants } from "node:fs";
import { access, readFile, stat, statfs } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname } from "node:path";
import { DEFAULT_INSTANCE, probeCacheDir } from "@hexclave/emulator";
import {
  type Arch,
  checkPortsFree,
  detectHost,
  execaRunner,
  findFirmware,
  findQemuBinary,
  HexclaveError,
  type HostInfo,
  instancePaths,
  probeAccelerator,
} from "@hexclave/qemu-core";
import type { ServiceName } from "../emulator-settings.js";
import { locateImage, readImageManifest, sha256File } from "../image-store.js";
import type { AcceleratorFacts, ImageFacts, KvmFacts, PortFact, Probed } from "./doctor-checks.js";

export interface DoctorProbes {
  host(): HostInfo;
  qemuBinary(arch: Arch): Promise<Probed<{ path: string; version: string; packageVersion?: string | undefined }>>;
  qemuImg(): Promise<Probed<{ path: string; version: string }>>;
  firmware(
    arch: Arch,
    qemuBinary: string | undefined,
  ): Promise<Probed<{ code: string; varsTemplate?: string; source: string }>>;
  accelerator(
    arch: Arch,
    qemuBinary: string | undefined,
    home: string,
    signal: AbortSignal,
  ): Promise<Probed<AcceleratorFacts>>;
  /** Null off Linux. */
  kvm(): Promise<KvmFacts | null>;
  ports(home: string, ports: Readonly<Record<ServiceName, number>>): Promise<PortFact[]>;
  disk(home: string): Promise<Probed<{ path: string; freeBytes: number }>>;
  docker(): Promise<Probed<{ endpoint: string; version: string | null }>>;
  image(home: string, arch: Arch, signal: AbortSignal): Promise<ImageFacts>;
}

/** Runs `fn`, turning a throw into a failed {@link Probed} that keeps a HexclaveError's code and hint. */
export async function probe<T>(fn: () => Promise<T>): Promise<Probed<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    if (HexclaveError.is(error)) return { ok: false, message: error.message, hint: error.hint, code: error.code };
    return { ok: false, message: error instanceof Error ? error.message : String(error), hint: "", code: null };
  }
}

export interface DefaultProbeOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function createDefaultProbes(options: DefaultProbeOptions): DoctorProbes {
  const { env } = options;
  return {
    host: () => detectHost(),
    qemuBinary: (arch) =>
      probe(async () => {
        const found = await findQemuBinary(arch, { env });
        return { path: found.path, version: found.version.version, packageVersion: found.version.packageVersion };
      }),
    qemuImg: () =>
      probe(async () => {
        const result = await execaRunner("qemu-img", ["--version"], { timeoutMs: 10_000 });
        if (result.spawnError !== undefined || result.exitCode !== 0) {
          throw new HexclaveError(
            "QEMU_NOT_FOUND",
            `qemu-img does not run: ${result.spawnError?.message ?? result.stderr.trim()}`,
            {
              hint: "Install qemu-utils (Debian/Ubuntu), qemu-img (Fedora), qemu-img (Arch) or qemu (Homebrew).",
            },
          );
        }
        const version = /version\s+([0-9][0-9.]*)/.exec(result.stdout)?.[1] ?? "unknown";
        return { path: "qemu-img", version };
      }),
    firmware: (arch, qemuBinary) => probe(() => findFirmware(arch, { env, qemuBinary })),
    accelerator: (arch, qemuBinary, home, signal) =>
      probe(async () => {
        const answer = await probeAccelerator({ arch, env, signal, qemuBinary, cacheDir: probeCacheDir(home) });
        return {
          accel: answer.accel,
          reason: answer.reason,
          tried: answer.tried.map((t) => ({ accel: t.accel, ok: t.ok, reason: t.reason, durationMs: t.durationMs })),
          fromCache: answer.fromCache,
          verdict: answer.verdict ?? "probe",
        };
      }),
    kvm: () => (process.platform === "linux" ? readKvmFacts() : Promise.resolve(null)),
    ports: (home, ports) => readPortFacts(home, ports),
    disk: (home) => probe(() => freeDisk(home)),
    docker: () => probe(() => pingDocker(env)),
    image: (home, arch, signal) => readImageFacts(home, arch, signal),
  };
}

async function readKvmFacts(): Promise<KvmFacts> {
  const user = safeUserName();
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(/\s+/) ?? []);
  const nestedText =
    (await readFile("/sys/module/kvm_intel/parameters/nested", "utf8").catch(() => undefined)) ??
    (await readFile("/sys/module/kvm_amd/parameters/nested", "utf8").catch(() => undefined));
  const nested = nestedText === undefined ? null : /^(y|Y|1)/.test(nestedText.trim());
  const base = {
    user,
    cpuVirtualization: flags.has("vmx") || flags.has("svm"),
    insideVm: flags.has("hypervisor"),
    nested,
  };
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat("/dev/kvm");
  } catch {
    return { ...base, deviceExists: false, accessible: false, group: null, inGroup: false };
  }
  const accessible = await access("/dev/kvm", constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  const groups = await readFile("/etc/group", "utf8").catch(() => "");
  const groupLine = groups.split("\n").find((line) => line.split(":")[2] === String(info.gid));
  const group = groupLine?.split(":")[0] ?? String(info.gid);
  const inGroup = typeof process.getgroups === "function" && process.getgroups().includes(Number(info.gid));
  return { ...base, deviceExists: true, accessible, group, inGroup };
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "your user";
  }
}

async function readPortFacts(home: string, ports: Readonly<Record<ServiceName, number>>): Promise<PortFact[]> {
  const emulatorPid = await readFile(instancePaths(home, DEFAULT_INSTANCE).pidFile, "utf8")
    .then((text) => Number.parseInt(text.trim(), 10))
    .catch(() => Number.NaN);
  const facts: PortFact[] = [];
  for (const [service, port] of Object.entries(ports) as [ServiceName, number][]) {
    let reason: string | null = null;
    let holder: { pid: number; command: string } | null = null;
    try {
      await checkPortsFree([port], "127.0.0.1");
    } catch (error) {
      if (!HexclaveError.is(error) || error.code !== "PORT_IN_USE") throw error;
      const taken = Array.isArray(error.details.taken)
        ? (error.details.taken[0] as Record<string, unknown> | undefined)
        : undefined;
      reason = typeof taken?.reason === "string" ? taken.reason : "in use";
      const pid = error.details.pid;
      const command = error.details.command;
      if (typeof pid === "number") holder = { pid, command: typeof command === "string" ? command : "?" };
    }
    facts.push({
      service,
      port,
      free: reason === null,
      holder,
      reason,
      heldByEmulator: holder !== null && holder.pid === emulatorPid,
    });
  }
  return facts;
}

/** Free bytes for the emulator home, measured on its nearest existing ancestor. */
async function freeDisk(home: string): Promise<{ path: string; freeBytes: number }> {
  let path = home;
  for (;;) {
    try {
      const fs = await statfs(path);
      return { path, freeBytes: Number(fs.bavail) * Number(fs.bsize) };
    } catch (error) {
      const parent = dirname(path);
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || parent === path) throw error;
      path = parent;
    }
  }
}

async function pingDocker(
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ endpoint: string; version: string | null }> {
  const host = env.DOCKER_HOST;
  const { default: Docker } = await import("dockerode");
  const docker = new Docker({ timeout: 5000 });
  await docker.ping();
  const version = await docker
    .version()
    .then((v) => v.Version)
    .catch(() => null);
  return { endpoint: host !== undefined && host !== "" ? host : "/var/run/docker.sock", version };
}

async function readImageFacts(home: string, arch: Arch, signal: AbortSignal): Promise<ImageFacts> {
  const located = await locateImage(home, arch);
  const facts = {
    arch,
    imagePath: located.imagePath,
    manifestPath: located.manifestPath,
    imagePresent: located.imagePresent,
    manifestPresent: located.manifestPresent,
    sizeBytes: located.sizeBytes,
    expectedSha256: null,
    actualSha256: null,
    manifestError: null,
    version: null,
    source: null,
  };
  if (!located.imagePresent || !located.manifestPresent) return facts;
  try {
    const manifest = await readImageManifest(located.manifestPath);
    const actual = await sha256File(located.imagePath, signal);
    return {
      ...facts,
      expectedSha256: manifest.sha256,
      actualSha256: actual,
      version: manifest.version,
      source: manifest.source,
    };
  } catch (error) {
    if (signal.aborted) throw error;
    return { ...facts, manifestError: error instanceof Error ? error.message : String(error) };
  }
}
