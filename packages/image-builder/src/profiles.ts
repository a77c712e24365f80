/**
 * Build profiles, read from the declarative `docker/services.json` (the same
 * list the images' supervisor reads): which Dockerfile builds the payload,
 * which endpoints are forwarded to the host, and which health checks the
 * warm boot waits for inside the guest.
 *
 * `parseServicesFile` is pure (validates and collects every problem);
 * `loadServicesFile` finds and reads the file.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { imageBuilderErrors } from "./errors-data.js";

export type ProfileName = "hexclave" | "selftest";
export const PROFILE_NAMES: readonly ProfileName[] = ["hexclave", "selftest"];

export type HealthCheck =
  | { readonly kind: "http"; readonly port: number; readonly path: string; readonly expectStatus: readonly number[] }
  | { readonly kind: "exec"; readonly command: readonly string[]; readonly expectOutput?: string };

/** One endpoint forwarded to the host on 127.0.0.1 (`exposed` in services.json; copied into the manifest). */
export interface ExposedService {
  readonly service: string;
  readonly guestPort: number;
  readonly hostPort: number;
  readonly hostPortEnv?: string;
  readonly health: {
    readonly kind: "http";
    readonly port: number;
    readonly path: string;
    readonly expectStatus: readonly number[];
  };
}

export interface ProfileService {
  readonly name: string;
  readonly stage: number;
  readonly health: HealthCheck;
  readonly startTimeoutSeconds?: number;
  /** The deadline in the image build's warm boot, which runs migrations and seed (`services.json`). */
  readonly buildStartTimeoutSeconds?: number;
}

export interface BuildProfile {
  readonly name: ProfileName;
  readonly description: string;
  /** Absolute build context directory. */
  readonly context: string;
  /** Dockerfile path relative to the context. */
  readonly dockerfile: string;
  readonly needsRegistry: boolean;
  readonly startTimeoutSeconds: number;
  readonly services: readonly ProfileService[];
  readonly exposed: readonly ExposedService[];
}

export interface ServicesFile {
  readonly formatVersion: 1;
  readonly exposed: readonly ExposedService[];
  readonly profiles: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isPort = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536;

function invalid(source: string, problems: readonly string[]): never {
  throw imageBuilderErrors.create("SERVICES_FILE_INVALID", `${source} is invalid: ${problems.join("; ")}`, {
    details: { file: source, problems },
  });
}

function parseHealth(value: unknown, path: string, problems: string[]): HealthCheck | undefined {
  if (!isObject(value)) {
    problems.push(`${path}: must be an object`);
    return undefined;
  }
  if (value.kind === "http") {
    const status = value.expectStatus ?? [200];
    if (!isPort(value.port)) problems.push(`${path}.port: must be a port number`);
    if (typeof value.path !== "string" || !value.path.startsWith("/")) problems.push(`${path}.path: must start with /`);
    if (!Array.isArray(status) || !status.every((s) => Number.isInteger(s)))
      problems.push(`${path}.expectStatus: must be a list of HTTP status codes`);
    return { kind: "http", port: value.port as number, path: value.path as string, expectStatus: status as number[] };
  }
  if (value.kind === "exec") {
    if (
      !Array.isArray(value.command) ||
      value.command.length === 0 ||
      !value.command.every((c) => typeof c === "string")
    )
      problems.push(`${path}.command: must be a non-empty list of strings`);
    return {
      kind: "exec",
      command: value.command as string[],
      ...(typeof value.expectOutput === "string" ? { expectOutput: value.expectOutput } : {}),
    };
  }
  problems.push(`${path}.kind: must be "http" or "exec"`);
  return undefined;
}

/** Validates services.json's content and returns one profile, resolved against `dockerDir`. Pure. */
export function parseServicesFile(
  text: string,
  profile: ProfileName,
  dockerDir: string,
  source = "services.json",
): BuildProfile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw imageBuilderErrors.create("SERVICES_FILE_INVALID", `${source} is not JSON: ${(cause as Error).message}`, {
      cause,
      details: { file: source },
    });
  }
  const problems: string[] = [];
  if (!isObject(data)) return invalid(source, ["the top level must be an object"]);
  if (data.formatVersion !== 1) problems.push(`formatVersion: must be 1, got ${JSON.stringify(data.formatVersion)}`);
  const exposed: ExposedService[] = [];
  if (!Array.isArray(data.exposed) || data.exposed.length === 0) problems.push("exposed: must be a non-empty list");
  else
    data.exposed.forEach((e: unknown, i) => {
      const p = `exposed[${i}]`;
      if (!isObject(e)) {
        problems.push(`${p}: must be an object`);
        return;
      }
      if (typeof e.service !== "string" || e.service === "") problems.push(`${p}.service: must be a name`);
      if (!isPort(e.guestPort)) problems.push(`${p}.guestPort: must be a port number`);
      if (!isPort(e.hostPort)) problems.push(`${p}.hostPort: must be a port number`);
      const health = parseHealth(e.health, `${p}.health`, problems);
      if (health !== undefined && health.kind !== "http") problems.push(`${p}.health.kind: must be "http"`);
      if (health?.kind === "http")
        exposed.push({
          service: e.service as string,
          guestPort: e.guestPort as number,
          hostPort: e.hostPort as number,
          ...(typeof e.hostPortEnv === "string" ? { hostPortEnv: e.hostPortEnv } : {}),
          health,
        });
    });
  const profiles = isObject(data.profiles) ? data.profiles : {};
  const entry = profiles[profile];
  if (!isObject(entry)) {
    problems.push(`profiles.${profile}: missing (known: ${Object.keys(profiles).join(", ") || "none"})`);
    return invalid(source, problems);
  }
  const p = `profiles.${profile}`;
  const build = isObject(entry.build) ? entry.build : {};
  if (typeof build.context !== "string") problems.push(`${p}.build.context: must be a path`);
  if (typeof build.dockerfile !== "string") problems.push(`${p}.build.dockerfile: must be a path`);
  const defaults = isObject(entry.defaults) ? entry.defaults : {};
  const services: ProfileService[] = [];
  if (!Array.isArray(entry.services) || entry.services.length === 0)
    problems.push(`${p}.services: must be a non-empty list`);
  else
    entry.services.forEach((s: unknown, i) => {
      const sp = `${p}.services[${i}]`;
      if (!isObject(s)) {
        problems.push(`${sp}: must be an object`);
        return;
      }
      if (typeof s.name !== "string") problems.push(`${sp}.name: must be a name`);
      const health = parseHealth(s.health, `${sp}.health`, problems);
      if (health !== undefined)
        services.push({
          name: s.name as string,
          stage: typeof s.stage === "number" ? s.stage : 1,
          health,
          ...(typeof s.startTimeoutSeconds === "number" ? { startTimeoutSeconds: s.startTimeoutSeconds } : {}),
          ...(typeof s.buildStartTimeoutSeconds === "number"
            ? { buildStartTimeoutSeconds: s.buildStartTimeoutSeconds }
            : {}),
        });
    });
  if (problems.length > 0) invalid(source, problems);
  return {
    name: profile,
    description: typeof entry.description === "string" ? entry.description : "",
    context: resolve(dockerDir, build.context as string),
    dockerfile: build.dockerfile as string,
    needsRegistry: build.needsRegistry === true,
    startTimeoutSeconds: typeof defaults.startTimeoutSeconds === "number" ? defaults.startTimeoutSeconds : 180,
    services,
    exposed,
  };
}

/** The repository's `docker/` directory: walks up from this module until `docker/services.json` exists. */
export function findDockerDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "docker", "services.json"))) return join(dir, "docker");
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw imageBuilderErrors.create("SERVICES_FILE_INVALID", `No docker/services.json found above ${start}`, {
    hint: "Run from a checkout of the Hexclave emulator repository, or pass dockerDir.",
    details: { start },
  });
}

export function isProfileName(value: string): value is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(value);
}

/** Reads `<dockerDir>/services.json` and returns the named profile. */
export async function loadProfile(profile: ProfileName, dockerDir: string = findDockerDir()): Promise<BuildProfile> {
  const file = join(dockerDir, "services.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw imageBuilderErrors.create("SERVICES_FILE_INVALID", `Cannot read ${file}`, { cause, details: { file } });
  }
  return parseServicesFile(text, profile, dockerDir, file);
}
