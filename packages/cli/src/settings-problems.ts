/**
 * Settings for the commands that must run even when the environment is wrong
 * (`doctor`, `status`): a bad `EMULATOR_*` variable becomes a reported
 * problem and its default is used, instead of a usage error. A bad flag is
 * still a usage error: the user just typed it.
 *
 * The same parsers decide what is bad (`resolveEmulatorSettings`); this only
 * drops the variable a usage error names and resolves again.
 */
import type { EmulatorSettings } from "./emulator-settings.js";
import { UsageError } from "./usage-error.js";

export interface SettingProblem {
  /** The environment variable (`EMULATOR_CPUS`). */
  readonly variable: string;
  /** Its value as set. */
  readonly value: string;
  /** What is wrong and what is allowed, as the usage error said it. */
  readonly message: string;
}

export interface SettingsWithProblems {
  /** Resolved with every bad variable ignored (its default used). */
  readonly settings: EmulatorSettings;
  readonly problems: readonly SettingProblem[];
  /** The environment without the bad variables: what the runtime and probes get, so they do not refuse it either. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const EMULATOR_VARIABLE = /^EMULATOR_[A-Z0-9_]+$/;

/** Runs `resolve` (the commands' strict resolution) on `env`, dropping each `EMULATOR_*` variable it refuses. */
export function resolveReportingProblems(
  env: Readonly<Record<string, string | undefined>>,
  resolve: (env: Readonly<Record<string, string | undefined>>) => EmulatorSettings,
): SettingsWithProblems {
  const current: Record<string, string | undefined> = { ...env };
  const problems: SettingProblem[] = [];
  for (;;) {
    try {
      return { settings: resolve(current), problems, env: current };
    } catch (error) {
      if (!UsageError.is(error)) throw error;
      // The variable the message names (longest name first, so no name is mistaken for a prefix of another).
      const culprit = Object.keys(current)
        .filter((name) => EMULATOR_VARIABLE.test(name) && current[name] !== undefined && current[name] !== "")
        .sort((a, b) => b.length - a.length)
        .find((name) => error.message.includes(name));
      if (culprit === undefined) throw error;
      problems.push({ variable: culprit, value: current[culprit] ?? "", message: error.message });
      delete current[culprit];
    }
  }
}
