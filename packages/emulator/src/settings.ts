/**
 * The machine settings of a call, resolved from the call's options and the
 * environment (`EMULATOR_*`), and the host port of each service.
 */
import { ARCHES, type Arch } from "@hexclave/qemu-core";
import type { Env } from "./context.js";
import { emulatorErrors } from "./errors-data.js";
import { type RuntimeManifest, resolveHostPorts } from "./machine/vm-spec.js";

export const EMULATOR_DEFAULT_CPUS = 4;
export const EMULATOR_DEFAULT_MEMORY_MB = 4096;
export const EMULATOR_NO_SNAPSHOT_ENV = "EMULATOR_NO_SNAPSHOT";

export interface ResolvedSettings {
  readonly arch: Arch;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly noSnapshot: boolean;
}

export interface SettingsOptions {
  arch?: Arch | undefined;
  cpus?: number | undefined;
  memoryMb?: number | undefined;
  ports?: Readonly<Record<string, number>> | undefined;
  noSnapshot?: boolean | undefined;
}

export function envTruthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function envInt(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw emulatorErrors.create("EMULATOR_SETTING_INVALID", `${name}=${raw} is not a positive integer`, {
      details: { variable: name, value: raw },
    });
  }
  return n;
}

/** Options first, then `EMULATOR_ARCH`, `EMULATOR_CPUS`, `EMULATOR_RAM_MB`, `EMULATOR_NO_SNAPSHOT`, then the defaults. */
export function resolveRuntimeSettings(env: Env, o: SettingsOptions): ResolvedSettings {
  const envArch = env.EMULATOR_ARCH;
  let arch: Arch = o.arch ?? (process.arch === "arm64" ? "arm64" : "amd64");
  if (o.arch === undefined && envArch !== undefined && envArch !== "") {
    if (!ARCHES.includes(envArch as Arch)) {
      throw emulatorErrors.create("EMULATOR_SETTING_INVALID", `EMULATOR_ARCH=${envArch} is not amd64 or arm64`, {
        details: { variable: "EMULATOR_ARCH", value: envArch },
      });
    }
    arch = envArch as Arch;
  }
  return {
    arch,
    cpus: o.cpus ?? envInt(env, "EMULATOR_CPUS") ?? EMULATOR_DEFAULT_CPUS,
    memoryMb: o.memoryMb ?? envInt(env, "EMULATOR_RAM_MB") ?? EMULATOR_DEFAULT_MEMORY_MB,
    ports: o.ports ?? {},
    noSnapshot: o.noSnapshot === true || envTruthy(env[EMULATOR_NO_SNAPSHOT_ENV]),
  };
}

/** Host port per service: given ports, then `EMULATOR_*_PORT`, then the manifest's. */
export function hostPortsFor(
  env: Env,
  manifest: RuntimeManifest,
  given: Readonly<Record<string, number>>,
): Record<string, number> {
  const fromEnv: Record<string, number> = {};
  for (const s of manifest.services) {
    if (s.hostPortEnv === undefined) continue;
    const n = envInt(env, s.hostPortEnv);
    if (n !== undefined) fromEnv[s.service] = n;
  }
  return resolveHostPorts(manifest.services, { ...fromEnv, ...given });
}
