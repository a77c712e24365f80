/**
 * Per-install secrets of the Hexclave image's runtime environment
 * (provisioning/runtime-env.ts): made once from the system's random source
 * into `<home>/runtime-secrets.json` (0600, temp file then an exclusive link,
 * so two racing starts agree on one set), and reused by every start. They are
 * never in the image, nor in the recorded QEMU arguments: each start hands
 * them to the guest through fw_cfg.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileExclusive } from "@hexclave/qemu-core";
import { imageBuilderErrors } from "../errors-data.js";
import {
  DEFAULT_RUNTIME_HOST_PORTS,
  type RuntimeSecrets,
  runtimeEnvInputProblem,
} from "../provisioning/runtime-env.js";

/**
 * The secrets file's name in the directory given to {@link loadOrCreateRuntimeSecrets} (the emulator passes its
 * home; its layout module lists the name with the home's other files).
 */
export const RUNTIME_SECRETS_FILE = "runtime-secrets.json";
export const RUNTIME_SECRETS_FORMAT_VERSION = 1;

interface SecretsFile extends RuntimeSecrets {
  readonly formatVersion: typeof RUNTIME_SECRETS_FORMAT_VERSION;
  readonly createdAt: string;
}

/** A new set from the system's random source (64 hex characters each; the server secret base64url). */
export function generateRuntimeSecrets(now: Date = new Date()): RuntimeSecrets {
  const hex = () => randomBytes(32).toString("hex");
  return {
    serverSecret: randomBytes(32).toString("base64url"),
    internalPublishableClientKey: hex(),
    internalSecretServerKey: hex(),
    internalSuperSecretAdminKey: hex(),
    cronSecret: hex(),
    svixJwtSecret: hex(),
    issuedAt: Math.floor(now.getTime() / 1000),
  };
}

/** The secrets in a file's text, or why they are unusable. Pure. */
export function parseRuntimeSecrets(text: string): RuntimeSecrets | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return "it is not JSON";
  }
  if (typeof data !== "object" || data === null) return "it is not a JSON object";
  const d = data as Partial<SecretsFile>;
  if (d.formatVersion !== RUNTIME_SECRETS_FORMAT_VERSION) return `formatVersion is ${String(d.formatVersion)}, not 1`;
  const secrets: RuntimeSecrets = {
    serverSecret: String(d.serverSecret),
    internalPublishableClientKey: String(d.internalPublishableClientKey),
    internalSecretServerKey: String(d.internalSecretServerKey),
    internalSuperSecretAdminKey: String(d.internalSuperSecretAdminKey),
    cronSecret: String(d.cronSecret),
    svixJwtSecret: String(d.svixJwtSecret),
    issuedAt: typeof d.issuedAt === "number" ? d.issuedAt : Number.NaN,
  };
  return runtimeEnvInputProblem({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets }) ?? secrets;
}

export interface LoadedRuntimeSecrets {
  readonly secrets: RuntimeSecrets;
  readonly path: string;
  /** True when this call made them (first start of this emulator home). */
  readonly created: boolean;
}

/** Reads this home's secrets, making them first when there are none. A damaged file is an error naming it. */
export async function loadOrCreateRuntimeSecrets(home: string, now: Date = new Date()): Promise<LoadedRuntimeSecrets> {
  const path = join(home, RUNTIME_SECRETS_FILE);
  const existing = await readSecrets(path);
  if (existing !== undefined) return { secrets: existing, path, created: false };
  await mkdir(home, { recursive: true, mode: 0o700 });
  const secrets = generateRuntimeSecrets(now);
  const file: SecretsFile = {
    formatVersion: RUNTIME_SECRETS_FORMAT_VERSION,
    createdAt: now.toISOString(),
    ...secrets,
  };
  const created = await writeFileExclusive(path, Buffer.from(`${JSON.stringify(file, null, 2)}\n`), { mode: 0o600 });
  if (created) return { secrets, path, created: true };
  // Another start made them first: use those.
  const theirs = await readSecrets(path);
  if (theirs === undefined) throw damaged(path, "it vanished while this start read it");
  return { secrets: theirs, path, created: false };
}

async function readSecrets(path: string): Promise<RuntimeSecrets | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw damaged(path, (error as Error).message, error);
  }
  const parsed = parseRuntimeSecrets(text);
  if (typeof parsed === "string") throw damaged(path, parsed);
  return parsed;
}

function damaged(path: string, why: string, cause?: unknown) {
  return imageBuilderErrors.create("RUNTIME_SECRETS_INVALID", `Cannot use ${path}: ${why}`, {
    details: { path },
    ...(cause === undefined ? {} : { cause }),
  });
}
