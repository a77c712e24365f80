/**
 * The settings of one runtime call, resolved once from the call's options and
 * the environment (`EMULATOR_*`): the arch, the machine's sizes (through the
 * bounds table of machine-settings.ts), snapshots on or off, and the host
 * port of each service. Use cases take the result and never read `env`.
 */
import { ARCHES, type Arch } from "@hexclave/qemu-core";
import type { Env } from "../context.js";
import { emulatorErrors } from "../errors-data.js";
import { type RuntimeManifest, resolveHostPorts } from "../machine/vm-spec.js";
import { MACHINE_SETTINGS, PORT_BOUNDS, parseBoundedInteger, resolveSettings } from "./machine-settings.js";

export const EMULATOR_DEFAULT_CPUS = MACHINE_SETTINGS.cpus.default;
export const EMULATOR_DEFAULT_MEMORY_MB = MACHINE_SETTINGS.memoryMb.default;
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
  const machine = resolveSettings({ cpus: o.cpus, memoryMb: o.memoryMb }, env);
  return {
    arch,
    cpus: machine.cpus,
    memoryMb: machine.memoryMb,
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
    const raw = env[s.hostPortEnv];
    if (raw === undefined || raw.trim() === "") continue;
    fromEnv[s.service] = parseBoundedInteger(raw, `environment variable ${s.hostPortEnv}`, PORT_BOUNDS);
  }
  return resolveHostPorts(manifest.services, { ...fromEnv, ...given });
}
