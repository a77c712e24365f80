/**
 * Resolves the emulator's settings from flags and the environment, purely:
 * flags win over environment variables, which win over defaults. A bad value
 * from either is a `UsageError` naming the flag or the variable.
 * The machine sizes (cpus, memoryMb) go through the runtime's one bounds table
 * (`MACHINE_SETTINGS`, `resolveSettings` in `@hexclave/emulator`), with the same words.
 *
 * | setting       | flag        | environment                                   | default          |
 * |---------------|-------------|-----------------------------------------------|------------------|
 * | home          |             | `HEXCLAVE_EMULATOR_HOME`                      | `~/.hexclave/emulator` |
 * | arch          | `--arch`    | `EMULATOR_ARCH`                               | the host's arch  |
 * | cpus          | `--cpus`    | `EMULATOR_CPUS`                               | `MACHINE_SETTINGS`|
 * | memoryMb      | `--memory`  | `EMULATOR_RAM_MB`                             | `MACHINE_SETTINGS`|
 * | ports         |             | `EMULATOR_{DASHBOARD,BACKEND,MINIO,INBUCKET}_PORT` | 26700..26703 |
 * | snapshot      | `--no-snapshot` | `EMULATOR_NO_SNAPSHOT=1`                  | on               |
 * | accel         | `--accel`   | `EMULATOR_ACCEL`                              | auto (probe)     |
 * | guestNetwork  | `--guest-network`, `--guest-reach` (repeatable) | `EMULATOR_GUEST_NETWORK`, `EMULATOR_GUEST_REACH` (comma-separated) | isolated, no port |
 */
import { join, resolve } from "node:path";
import {
  DEFAULT_GUEST_NETWORK_MODE,
  DEFAULT_HOME_SEGMENTS,
  GUEST_NETWORK_MODES,
  type GuestNetworkSettings,
  HOME_ENV,
  MACHINE_SETTINGS,
  PORT_BOUNDS,
  resolveSettings,
  type SettingSource,
} from "@hexclave/emulator";
import { ACCELERATOR_CHOICES, type AcceleratorChoice, ARCHES, type Arch, HexclaveError } from "@hexclave/qemu-core";
import { parseChoice, parseEnvBoolean, parseInteger } from "./flag-values.js";
import { UsageError } from "./usage-error.js";

/** The runtime's defaults (its settings table: `MACHINE_SETTINGS` in `@hexclave/emulator`). */
export const DEFAULT_CPUS = MACHINE_SETTINGS.cpus.default;
export const DEFAULT_MEMORY_MB = MACHINE_SETTINGS.memoryMb.default;

/** The four services forwarded to the host, in display order. */
export const SERVICE_NAMES = ["dashboard", "backend", "minio", "inbucket"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = {
  dashboard: 26700,
  backend: 26701,
  minio: 26702,
  inbucket: 26703,
};

export const PORT_ENV: Readonly<Record<ServiceName, string>> = {
  dashboard: "EMULATOR_DASHBOARD_PORT",
  backend: "EMULATOR_BACKEND_PORT",
  minio: "EMULATOR_MINIO_PORT",
  inbucket: "EMULATOR_INBUCKET_PORT",
};

export const ARCH_ENV = "EMULATOR_ARCH";
export const NO_SNAPSHOT_ENV = "EMULATOR_NO_SNAPSHOT";
export const ACCEL_ENV = "EMULATOR_ACCEL";
export const GUEST_NETWORK_ENV = "EMULATOR_GUEST_NETWORK";
export const GUEST_REACH_ENV = "EMULATOR_GUEST_REACH";

export type { SettingSource } from "@hexclave/emulator";

/** Everything the emulator commands need to know about where and how to run. */
export interface EmulatorSettings {
  /** The emulator home (images/, run/). */
  readonly home: string;
  readonly arch: Arch;
  readonly cpus: number;
  readonly memoryMb: number;
  /** Host ports on 127.0.0.1, per service. */
  readonly ports: Readonly<Record<ServiceName, number>>;
  /** Suspend on stop / resume on start (issue 8); false with `--no-snapshot` or `EMULATOR_NO_SNAPSHOT=1`. */
  readonly snapshot: boolean;
  /** `auto` probes (and falls back to tcg when the accelerator fails the guest); anything else forces it. */
  readonly accel: AcceleratorChoice;
  /** What the guest may reach (issue 15): `isolated` (default) or `open`, plus host ports granted at 10.0.2.100. */
  readonly guestNetwork: GuestNetworkSettings;
  /** Where each value came from, for `doctor` and `status`. */
  readonly sources: Readonly<{
    accel: SettingSource;
    guestNetwork: SettingSource;
    arch: SettingSource;
    cpus: SettingSource;
    memoryMb: SettingSource;
    home: SettingSource;
  }>;
}

/** Raw flag values as the parser gave them (strings, or undefined when absent). */
export interface EmulatorFlags {
  readonly arch?: string | undefined;
  readonly cpus?: string | undefined;
  readonly memory?: string | undefined;
  /** false when `--no-snapshot` was given. */
  readonly snapshot?: boolean | undefined;
  readonly accel?: string | undefined;
  /** `--guest-network isolated|open` (start). */
  readonly guestNetwork?: string | undefined;
  /** `--guest-reach PORT`, repeatable (citty gives an array for a repeated flag). */
  readonly guestReach?: string | readonly string[] | undefined;
}

export interface SettingsContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The host's arch (from qemu-core `detectHost()` or `process.arch`). */
  readonly hostArch: Arch;
  /** The user's home directory (`os.homedir()`). */
  readonly userHome: string;
  /** Resolves a relative `HEXCLAVE_EMULATOR_HOME` once, to an absolute path (default `process.cwd()`). */
  readonly cwd?: string | undefined;
  /** For the `stack <cmd> --help` pointer of usage errors. */
  readonly commandPath?: readonly string[];
}

const present = (value: string | undefined): value is string => value !== undefined && value !== "";

export function resolveEmulatorSettings(flags: EmulatorFlags, context: SettingsContext): EmulatorSettings {
  const { env } = context;
  const path = context.commandPath ?? [];

  const archFlag = flags.arch;
  const archEnv = env[ARCH_ENV];
  const arch: Arch =
    archFlag !== undefined
      ? parseChoice(archFlag, ARCHES, { flag: "--arch" }, path)
      : present(archEnv)
        ? parseChoice(archEnv, ARCHES, { env: ARCH_ENV }, path)
        : context.hostArch;

  const machine = asUsageError(() => resolveSettings({ cpus: flags.cpus, memoryMb: flags.memory }, env), path);
  const { cpus, memoryMb } = machine;

  const ports = resolvePorts(env, path);

  const accelEnv = env[ACCEL_ENV];
  const accel: AcceleratorChoice =
    flags.accel !== undefined
      ? parseChoice(flags.accel, ACCELERATOR_CHOICES, { flag: "--accel" }, path)
      : present(accelEnv)
        ? parseChoice(accelEnv, ACCELERATOR_CHOICES, { env: ACCEL_ENV }, path)
        : "auto";

  const guestNetwork = resolveGuestNetwork(flags, env, path);

  const snapshot = flags.snapshot === false ? false : !parseEnvBoolean(env[NO_SNAPSHOT_ENV], NO_SNAPSHOT_ENV, path);

  const homeEnv = env[HOME_ENV];
  // Absolute once and for all: QEMU changes directory when it daemonizes, and the suspend save runs there.
  const home = present(homeEnv)
    ? resolve(context.cwd ?? process.cwd(), homeEnv)
    : join(context.userHome, ...DEFAULT_HOME_SEGMENTS);

  const source = (flag: unknown, envValue: string | undefined): SettingSource =>
    flag !== undefined ? "flag" : present(envValue) ? "env" : "default";

  return {
    home,
    arch,
    cpus,
    memoryMb,
    ports,
    snapshot,
    accel,
    guestNetwork,
    sources: {
      accel: source(flags.accel, accelEnv),
      guestNetwork:
        flags.guestNetwork !== undefined || flags.guestReach !== undefined
          ? "flag"
          : present(env[GUEST_NETWORK_ENV]) || present(env[GUEST_REACH_ENV])
            ? "env"
            : "default",
      arch: source(archFlag, archEnv),
      cpus: machine.sources.cpus,
      memoryMb: machine.sources.memoryMb,
      home: present(homeEnv) ? "env" : "default",
    },
  };
}

/** The runtime's `EMULATOR_SETTING_INVALID` (a bad flag or variable) as the CLI's usage error, same words. */
export function asUsageError<T>(resolve: () => T, commandPath: readonly string[]): T {
  try {
    return resolve();
  } catch (error) {
    if (HexclaveError.is(error) && error.code === "EMULATOR_SETTING_INVALID") {
      throw new UsageError(error.message, commandPath);
    }
    throw error;
  }
}

/** `--guest-network` over `EMULATOR_GUEST_NETWORK`, `--guest-reach` (all of them) over `EMULATOR_GUEST_REACH`. */
function resolveGuestNetwork(
  flags: EmulatorFlags,
  env: Readonly<Record<string, string | undefined>>,
  path: readonly string[],
): GuestNetworkSettings {
  const modeEnv = env[GUEST_NETWORK_ENV];
  const mode =
    flags.guestNetwork !== undefined
      ? parseChoice(flags.guestNetwork, GUEST_NETWORK_MODES, { flag: "--guest-network" }, path)
      : present(modeEnv)
        ? parseChoice(modeEnv, GUEST_NETWORK_MODES, { env: GUEST_NETWORK_ENV }, path)
        : DEFAULT_GUEST_NETWORK_MODE;
  const bounds = PORT_BOUNDS;
  const reachEnv = env[GUEST_REACH_ENV];
  const reach =
    flags.guestReach !== undefined
      ? [flags.guestReach].flat().map((p) => parseInteger(p, { flag: "--guest-reach" }, bounds, path))
      : present(reachEnv)
        ? reachEnv.split(",").map((p) => parseInteger(p, { env: GUEST_REACH_ENV }, bounds, path))
        : [];
  return { mode, reach: [...new Set(reach)].sort((a, b) => a - b) };
}

/** The host ports, each overridable by its variable; two services on one port is a usage error. */
export function resolvePorts(
  env: Readonly<Record<string, string | undefined>>,
  commandPath: readonly string[] = [],
): Readonly<Record<ServiceName, number>> {
  const ports = { ...DEFAULT_PORTS };
  for (const service of SERVICE_NAMES) {
    const name = PORT_ENV[service];
    const raw = env[name];
    if (present(raw)) ports[service] = parseInteger(raw, { env: name }, PORT_BOUNDS, commandPath);
  }
  for (const [i, a] of SERVICE_NAMES.entries()) {
    for (const b of SERVICE_NAMES.slice(i + 1)) {
      if (ports[a] === ports[b]) {
        throw new UsageError(
          `${a} and ${b} would both use host port ${ports[a]}; give them different ports with ${PORT_ENV[a]} or ${PORT_ENV[b]}.`,
          commandPath,
        );
      }
    }
  }
  return ports;
}

/** `http://127.0.0.1:<port>` for each service, in display order. */
export function serviceUrls(ports: Readonly<Record<ServiceName, number>>): Record<ServiceName, string> {
  return {
    dashboard: `http://127.0.0.1:${ports.dashboard}`,
    backend: `http://127.0.0.1:${ports.backend}`,
    minio: `http://127.0.0.1:${ports.minio}`,
    inbucket: `http://127.0.0.1:${ports.inbucket}`,
  };
}

/** Normalises Node's `process.arch` to the emulator's arch names; other hosts fall back to amd64. */
export function archFromNode(nodeArch: string): Arch {
  return nodeArch === "arm64" ? "arm64" : "amd64";
}

// --- file bridge (issue 10): `stack emulator start --project-dir DIR --config-file PATH --no-file-bridge` ---

/** Raw file bridge flags of `start`. */
export interface FileBridgeFlags {
  readonly projectDir?: string | undefined;
  readonly configFile?: string | undefined;
  /** false when `--no-file-bridge` was given. */
  readonly fileBridge?: boolean | undefined;
  /** `--bridge-writable PATH`, repeatable (citty gives an array for a repeated flag). */
  readonly bridgeWritable?: string | readonly string[] | undefined;
}

/** What `start` hands the runtime as `fileBridge`: absolute paths. */
export interface FileBridgeSettings {
  readonly enabled: boolean;
  /** The directory served to the guest (default: the current directory). */
  readonly projectDir: string;
  /** Copied in at start, written back by `stop`. */
  readonly configFile?: string;
  /** Paths under the project directory the guest may write (absolute); none by default. */
  readonly writable: readonly string[];
}

export function resolveFileBridgeSettings(
  flags: FileBridgeFlags,
  cwd: string,
  commandPath: readonly string[] = [],
): FileBridgeSettings {
  const enabled = flags.fileBridge !== false;
  if (!enabled && present(flags.configFile)) {
    throw new UsageError(
      "--config-file travels through the file bridge: it cannot be used with --no-file-bridge.",
      commandPath,
    );
  }
  if (flags.projectDir === "" || flags.configFile === "") {
    throw new UsageError("--project-dir and --config-file take a path.", commandPath);
  }
  const writable = flags.bridgeWritable === undefined ? [] : [flags.bridgeWritable].flat();
  if (writable.some((w) => w === "")) throw new UsageError("--bridge-writable takes a path.", commandPath);
  if (!enabled && writable.length > 0) {
    throw new UsageError(
      "--bridge-writable needs the file bridge: it cannot be used with --no-file-bridge.",
      commandPath,
    );
  }
  return {
    enabled,
    writable: writable.map((w) => resolve(cwd, w)),
    projectDir: resolve(cwd, flags.projectDir ?? "."),
    ...(present(flags.configFile) ? { configFile: resolve(cwd, flags.configFile) } : {}),
  };
}
