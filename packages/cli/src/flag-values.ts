/**
 * Pure parsers for flag and environment values. Each throws a `UsageError`
 * that names where the value came from (`--cpus` or `EMULATOR_CPUS`), what
 * was wrong and what is allowed.
 */
import { UsageError } from "./usage-error.js";

/** Where a value came from, for messages: a flag (`--cpus`) or a variable (`EMULATOR_CPUS`). */
export type ValueOrigin = { readonly flag: string } | { readonly env: string };

export function describeOrigin(origin: ValueOrigin): string {
  return "flag" in origin ? origin.flag : `environment variable ${origin.env}`;
}

export interface IntegerBounds {
  readonly min?: number;
  readonly max?: number;
  /** A unit for the message (`MB`, `seconds`). */
  readonly unit?: string;
}

/** A whole decimal number within bounds: `"4"` -> 4; `"0"`, `"lots"`, `"1.5"`, `""` are usage errors. */
export function parseInteger(
  raw: string | undefined,
  origin: ValueOrigin,
  bounds: IntegerBounds = {},
  commandPath: readonly string[] = [],
): number {
  const what = describeOrigin(origin);
  const text = raw?.trim() ?? "";
  const allowed = describeBounds(bounds);
  if (text === "") throw new UsageError(`${what} needs a value: ${allowed}.`, commandPath);
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${what} must be ${allowed}, got "${raw}".`, commandPath);
  const value = Number.parseInt(text, 10);
  if (!Number.isSafeInteger(value) || (bounds.min !== undefined && value < bounds.min)) {
    throw new UsageError(`${what} must be ${allowed}, got "${raw}".`, commandPath);
  }
  if (bounds.max !== undefined && value > bounds.max) {
    throw new UsageError(`${what} must be ${allowed}, got "${raw}".`, commandPath);
  }
  return value;
}

function describeBounds(bounds: IntegerBounds): string {
  const unit = bounds.unit === undefined ? "" : ` (${bounds.unit})`;
  if (bounds.min !== undefined && bounds.max !== undefined) {
    return `a whole number from ${bounds.min} to ${bounds.max}${unit}`;
  }
  if (bounds.min !== undefined) return `a whole number of at least ${bounds.min}${unit}`;
  return `a whole number${unit}`;
}

/** One of a fixed set of words, case-sensitive: `parseChoice("arm64", ["amd64", "arm64"], ...)`. */
export function parseChoice<const T extends string>(
  raw: string | undefined,
  choices: readonly T[],
  origin: ValueOrigin,
  commandPath: readonly string[] = [],
): T {
  const what = describeOrigin(origin);
  const text = raw?.trim() ?? "";
  const found = choices.find((choice) => choice === text);
  if (found === undefined) {
    const got = text === "" ? "nothing" : `"${raw}"`;
    throw new UsageError(`${what} must be one of ${choices.join(", ")}, got ${got}.`, commandPath);
  }
  return found;
}

/** A non-empty string (a path, a version, a URL). */
export function parseNonEmpty(
  raw: string | undefined,
  origin: ValueOrigin,
  commandPath: readonly string[] = [],
): string {
  const text = raw?.trim() ?? "";
  if (text === "") throw new UsageError(`${describeOrigin(origin)} needs a value.`, commandPath);
  return text;
}

/** An environment flag: `1`, `true`, `yes` are on; `0`, `false`, `no`, empty are off; anything else is a usage error. */
export function parseEnvBoolean(raw: string | undefined, name: string, commandPath: readonly string[] = []): boolean {
  const text = raw?.trim().toLowerCase() ?? "";
  if (text === "" || text === "0" || text === "false" || text === "no") return false;
  if (text === "1" || text === "true" || text === "yes") return true;
  throw new UsageError(`environment variable ${name} must be 1 or 0 (true or false), got "${raw}".`, commandPath);
}

/** An http:// or https:// URL (a mirror, a download host): anything else is a usage error naming the origin. */
export function parseHttpUrl(
  raw: string | undefined,
  origin: ValueOrigin,
  commandPath: readonly string[] = [],
): string {
  const text = parseNonEmpty(raw, origin, commandPath);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw new UsageError(
      `${describeOrigin(origin)} must be an http:// or https:// URL (for example https://cloud.debian.org/images/cloud/trixie/latest/), got "${raw}".`,
      commandPath,
    );
  return url.href;
}

/**
 * Docker build arguments from repeated `--build-arg NAME=VALUE` (docker's own spelling): a name as Docker takes
 * it (letters, digits, `_`; not starting with a digit), then `=` and the value (which may be empty or hold `=`).
 * A name given twice is a usage error rather than a silent last-one-wins.
 */
export function parseBuildArgs(
  raw: string | readonly string[] | undefined,
  commandPath: readonly string[] = [],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of raw === undefined ? [] : [raw].flat()) {
    const at = item.indexOf("=");
    const name = at < 0 ? item : item.slice(0, at);
    if (at < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new UsageError(
        `--build-arg must be NAME=VALUE with NAME made of letters, digits and _ (e.g. HEXCLAVE_SERVER_TAG=main), got "${item}".`,
        commandPath,
      );
    }
    if (name in out) throw new UsageError(`--build-arg ${name} is given twice; give it once.`, commandPath);
    out[name] = item.slice(at + 1);
  }
  return out;
}
