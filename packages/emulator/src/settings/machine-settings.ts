/**
 * The machine's sizes, resolved once: one table with each setting's flag,
 * variable, default and bounds, and a pure resolver (flag > variable >
 * default) used by the CLI, `build-image` and the runtime alike. A bad value
 * is `EMULATOR_SETTING_INVALID` naming where it came from, what it was and
 * what is allowed.
 */
import { emulatorErrors } from "../errors-data.js";

export interface IntegerSetting {
  /** The CLI flag that sets it. */
  readonly flag: string;
  /** The environment variable that sets it when the flag is absent. */
  readonly env: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  /** A unit for messages. */
  readonly unit?: string;
}

export const MACHINE_SETTINGS = {
  cpus: { flag: "--cpus", env: "EMULATOR_CPUS", default: 4, min: 1, max: 256 },
  // The floor is what the tiny test guests boot in (256 MB, in the integration tests); the Hexclave image
  // itself needs about 2 GB (its e2e tests use 2048), which the default leaves room for.
  memoryMb: { flag: "--memory", env: "EMULATOR_RAM_MB", default: 4096, min: 256, max: 1_048_576, unit: "MB" },
} as const satisfies Record<string, IntegerSetting>;

export type MachineSettingName = keyof typeof MACHINE_SETTINGS;

/** A host port on 127.0.0.1 (`EMULATOR_*_PORT`, `--guest-reach`). */
export const PORT_BOUNDS = { min: 1, max: 65_535 } as const;

/** Where a value came from: the flag (or the API option of that name), the variable, or the default. */
export type SettingSource = "flag" | "env" | "default";

export interface MachineSettings {
  readonly cpus: number;
  readonly memoryMb: number;
  readonly sources: Readonly<Record<MachineSettingName, SettingSource>>;
}

/** Flag values as given: strings from a command line, numbers from an API caller; undefined when absent. */
export type MachineFlags = { readonly [K in MachineSettingName]?: string | number | undefined };

const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== "";

/** `a whole number from 1 to 256`, `... (MB)`. */
export function describeAllowed(bounds: { min: number; max: number; unit?: string }): string {
  return `a whole number from ${bounds.min} to ${bounds.max}${bounds.unit === undefined ? "" : ` (${bounds.unit})`}`;
}

/**
 * One value checked against `bounds`; `origin` names it in the error (`--cpus`, `environment variable
 * EMULATOR_CPUS`). Strings must be plain decimal digits.
 */
export function parseBoundedInteger(
  raw: string | number,
  origin: string,
  bounds: { min: number; max: number; unit?: string },
): number {
  const allowed = describeAllowed(bounds);
  const text = typeof raw === "number" ? String(raw) : raw.trim();
  const invalid = (message: string) =>
    emulatorErrors.create("EMULATOR_SETTING_INVALID", message, {
      details: { setting: origin, value: String(raw), min: bounds.min, max: bounds.max },
    });
  if (text === "") throw invalid(`${origin} needs a value: ${allowed}.`);
  const value = /^[0-9]+$/.test(text) ? Number.parseInt(text, 10) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw invalid(`${origin} must be ${allowed}, got "${String(raw)}".`);
  }
  return value;
}

/** One machine setting from its flag, else its variable, else its default. */
export function resolveSetting(
  name: MachineSettingName,
  flag: string | number | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { value: number; source: SettingSource } {
  const setting: IntegerSetting = MACHINE_SETTINGS[name];
  if (flag !== undefined) return { value: parseBoundedInteger(flag, setting.flag, setting), source: "flag" };
  const raw = env[setting.env];
  if (present(raw)) {
    return { value: parseBoundedInteger(raw, `environment variable ${setting.env}`, setting), source: "env" };
  }
  return { value: setting.default, source: "default" };
}

/** The machine's CPU count and memory: flags win over the environment, which wins over the defaults. */
export function resolveSettings(
  flags: MachineFlags,
  env: Readonly<Record<string, string | undefined>>,
): MachineSettings {
  const cpus = resolveSetting("cpus", flags.cpus, env);
  const memoryMb = resolveSetting("memoryMb", flags.memoryMb, env);
  return { cpus: cpus.value, memoryMb: memoryMb.value, sources: { cpus: cpus.source, memoryMb: memoryMb.source } };
}
