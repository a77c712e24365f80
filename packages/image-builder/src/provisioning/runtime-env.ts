/**
 * The runtime environment of the Hexclave image: what upstream's
 * `render-stack-env` (docker/local-emulator/qemu/cloud-init/emulator/user-data)
 * writes into `--env-file`, computed here from the host ports and the
 * per-install secrets. Pure: same input, same lines, same order.
 *
 * Every start renders it (the host ports may have moved, see
 * `EMULATOR_*_PORT`) and hands it to the guest through fw_cfg
 * (runtime-env-fwcfg.ts); the guest's `hexclave.service` writes it to a 0600
 * file and gives it to `docker run --env-file`. Nothing of it is in the image.
 *
 * Names: the renamed upstream reads both `HEXCLAVE_*` and `STACK_*` spellings
 * and throws when both are set to different values; images built before the
 * rename read only `STACK_*`. So every `STACK_` name is written, and beside it
 * its `HEXCLAVE_` spelling with the identical value ({@link hexclaveSpelling}).
 *
 * The contract with the image (docker/, engineer B's side):
 * - `mode: "run"` (every emulator start): `STACK_SKIP_MIGRATIONS=true`,
 *   `STACK_SKIP_SEED_SCRIPT=true`, `HEXCLAVE_RUN_BUILD_MIGRATIONS=0`.
 * - `mode: "build"` (the warm boot of `build-image --profile hexclave`, once):
 *   `STACK_SKIP_MIGRATIONS=false`, `STACK_SKIP_SEED_SCRIPT=false`,
 *   `HEXCLAVE_RUN_BUILD_MIGRATIONS=1`: the server entrypoint runs
 *   `node dist/db-migrations.mjs migrate` then `seed` from `apps/backend`, as
 *   upstream's `run-build-migrations` does; its secrets are the public
 *   {@link BUILD_PLACEHOLDER_SECRETS} (the entrypoint's `ApiKeySet` upsert
 *   replaces the keys with the install's own at every start).
 * - Service-side settings of the container's own programs, same values as the
 *   apps get: `POSTGRES_PASSWORD`, `CLICKHOUSE_PASSWORD` (admin user
 *   `CLICKHOUSE_ADMIN_USER`), `MINIO_ROOT_USER`/`MINIO_ROOT_PASSWORD`,
 *   `HEXCLAVE_MINIO_BUCKETS`, `SVIX_JWT_SECRET`, `QSTASH_TOKEN`.
 */
import { createHmac } from "node:crypto";
import { imageBuilderErrors } from "../errors-data.js";

/** First line of every rendered file (a comment to `docker --env-file`). */
export const RUNTIME_ENV_MAGIC = "# hexclave-env/1";

/** Host ports of the four exposed services (26700-26703 unless moved). */
export interface RuntimeHostPorts {
  readonly dashboard: number;
  readonly backend: number;
  readonly minio: number;
  readonly inbucket: number;
}

/** The default host ports (docker/services.json `exposed`). */
export const DEFAULT_RUNTIME_HOST_PORTS: RuntimeHostPorts = {
  dashboard: 26700,
  backend: 26701,
  minio: 26702,
  inbucket: 26703,
};

/** Per-install secrets (runtime-secrets.ts makes them once per emulator home). */
export interface RuntimeSecrets {
  /** `STACK_SERVER_SECRET`: the backend's signing secret (base64url of 32 random bytes). */
  readonly serverSecret: string;
  /** The internal project's keys, 64 hex characters each (the server entrypoint upserts them as `ApiKeySet`). */
  readonly internalPublishableClientKey: string;
  readonly internalSecretServerKey: string;
  readonly internalSuperSecretAdminKey: string;
  /** `CRON_SECRET` (64 hex). */
  readonly cronSecret: string;
  /** `SVIX_JWT_SECRET` of svix-server, which signs `STACK_SVIX_API_KEY` (64 hex). */
  readonly svixJwtSecret: string;
  /** When they were made, in seconds since the epoch: `iat`/`nbf` of the Svix API key, so it is the same every start. */
  readonly issuedAt: number;
}

/**
 * Secrets of the build's warm boot only: public, deterministic placeholders
 * (as upstream's snapshot-build mode has). Never used at run time: every start
 * passes the install's own, and the upsert replaces the keys in the database.
 */
export const BUILD_PLACEHOLDER_SECRETS: RuntimeSecrets = {
  serverSecret: "build-placeholder-server-secret-never-used-at-run-time",
  internalPublishableClientKey: `${"0".repeat(32)}${"f".repeat(32)}`,
  internalSecretServerKey: `${"0".repeat(32)}${"e".repeat(32)}`,
  internalSuperSecretAdminKey: `${"0".repeat(32)}${"d".repeat(32)}`,
  cronSecret: `${"0".repeat(32)}${"c".repeat(32)}`,
  svixJwtSecret: `${"0".repeat(32)}${"b".repeat(32)}`,
  issuedAt: 1_767_225_600,
};

export type RuntimeEnvMode = "run" | "build";

export interface RuntimeEnvInput {
  readonly ports: RuntimeHostPorts;
  readonly secrets: RuntimeSecrets;
  /** `build`: the warm boot that runs migrations and seed once; `run`: every start. Default `run`. */
  readonly mode?: RuntimeEnvMode;
  /** `STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT`: where host files appear inside the container (default `/host`). */
  readonly hostMountRoot?: string;
  /**
   * `HEXCLAVE_START_TIMEOUT_FACTOR`: the supervisor multiplies every service's start deadline and the init's by it
   * (a whole number from 1 to {@link MAX_START_TIMEOUT_FACTOR}; default 1). A guest of another architecture under
   * TCG runs about three times slower: its postgres missed the self-test profile's 120 s on a loaded host.
   */
  readonly startTimeoutFactor?: number;
}

/** The largest {@link RuntimeEnvInput.startTimeoutFactor}; supervise.sh refuses more. */
export const MAX_START_TIMEOUT_FACTOR = 10;

/** Ports inside the guest (the container runs on the guest's host network). */
export const GUEST_PORTS = {
  dashboard: 8101,
  backend: 8102,
  postgres: 5432,
  clickhouseHttp: 8123,
  minio: 9090,
  inbucketWeb: 9001,
  inbucketSmtp: 2500,
  svix: 8071,
  qstash: 8080,
  freestyleMock: 8180,
  stripeMock: 12111,
  mockOauth: 8114,
} as const;

/**
 * Credentials of the container's internal services. Fixed, like upstream's
 * `PASSWORD-PLACEHOLDER--*` values: PostgreSQL, ClickHouse, Svix and QStash
 * listen only inside the guest, the database is created at image build (its
 * password with it), and MinIO's keys are the ones every S3 client of the
 * emulator is given. Secrets that guard the apps are per install.
 */
export const INTERNAL_CREDENTIALS = {
  postgresUser: "postgres",
  postgresPassword: "PASSWORD-PLACEHOLDER--uqfEC1hmmv",
  database: "stackframe",
  clickhouseAdminUser: "stackframe",
  clickhouseAdminPassword: "PASSWORD-PLACEHOLDER--9gKyMxJeMx",
  clickhouseExternalPassword: "PASSWORD-PLACEHOLDER--EZeHscBMzE",
  clickhouseDatabase: "default",
  s3Region: "us-east-1",
  s3AccessKeyId: "s3mockroot",
  s3SecretAccessKey: "s3mockroot",
  s3Bucket: "stack-storage",
  s3PrivateBucket: "stack-storage-private",
} as const;

/** The QStash dev server's built-in user and signing keys (it accepts no others). */
export const QSTASH_DEV_SERVER = {
  token: "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
  currentSigningKey: "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
  nextSigningKey: "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
} as const;

/** Svix's organisation id in the API key (svix-server's default organisation). */
export const SVIX_ORG_ID = "org_23rb8YdGqMT0qIzpgGwdXfHirMu";
/** How long a Svix API key is valid (10 years from `issuedAt`). */
export const SVIX_API_KEY_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

const HEX64 = /^[0-9a-f]{64}$/;

const invalid = (message: string) => imageBuilderErrors.create("RUNTIME_ENV_INVALID", message);

/**
 * A Svix API key: an HS256 JWT that svix-server accepts when `secret` is its
 * `SVIX_JWT_SECRET` (claims `iat`, `exp`, `nbf`, `iss: svix-server`, `sub`:
 * the organisation), as `svix-server jwt generate` makes it.
 */
export function signSvixApiKey(options: {
  readonly secret: string;
  readonly issuedAt: number;
  readonly expiresAt?: number;
  readonly orgId?: string;
}): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = b64({ alg: "HS256", typ: "JWT" });
  const payload = b64({
    iat: options.issuedAt,
    exp: options.expiresAt ?? options.issuedAt + SVIX_API_KEY_LIFETIME_SECONDS,
    nbf: options.issuedAt,
    iss: "svix-server",
    sub: options.orgId ?? SVIX_ORG_ID,
  });
  const signature = createHmac("sha256", options.secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** `STACK_X` -> `HEXCLAVE_X`, `NEXT_PUBLIC_STACK_X` -> `NEXT_PUBLIC_HEXCLAVE_X`, `NEXT_PUBLIC_BROWSER_STACK_X` -> `..._HEXCLAVE_X`; other names: undefined. */
export function hexclaveSpelling(name: string): string | undefined {
  const match = /^((?:NEXT_PUBLIC_(?:BROWSER_|SERVER_)?)?)STACK_(.+)$/.exec(name);
  return match === null ? undefined : `${match[1]}HEXCLAVE_${match[2]}`;
}

/** Why a rendering input is unusable, or undefined when it is fine. */
export function runtimeEnvInputProblem(input: RuntimeEnvInput): string | undefined {
  for (const [name, port] of Object.entries(input.ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) return `host port of ${name} is ${port}, not 1-65535`;
  }
  const s = input.secrets;
  const hex: [string, string][] = [
    ["internalPublishableClientKey", s.internalPublishableClientKey],
    ["internalSecretServerKey", s.internalSecretServerKey],
    ["internalSuperSecretAdminKey", s.internalSuperSecretAdminKey],
    ["cronSecret", s.cronSecret],
    ["svixJwtSecret", s.svixJwtSecret],
  ];
  for (const [name, value] of hex) {
    if (!HEX64.test(value)) return `secret ${name} is not 64 lower-case hex characters`;
  }
  if (!/^[A-Za-z0-9_-]{32,128}$/.test(s.serverSecret)) return "secret serverSecret is not 32-128 base64url characters";
  if (!Number.isInteger(s.issuedAt) || s.issuedAt <= 0) return "secrets issuedAt is not a positive whole number";
  const factor = input.startTimeoutFactor ?? 1;
  if (!Number.isInteger(factor) || factor < 1 || factor > MAX_START_TIMEOUT_FACTOR)
    return `start timeout factor is ${factor}, not a whole number from 1 to ${MAX_START_TIMEOUT_FACTOR}`;
  const root = input.hostMountRoot ?? "/host";
  if (!/^\/[A-Za-z0-9._/-]*$/.test(root)) return `host mount root ${root} is not an absolute path of plain characters`;
  return undefined;
}

/**
 * The environment as ordered `[name, value]` pairs, `STACK_*` names each
 * followed by their `HEXCLAVE_*` spelling. Throws `RUNTIME_ENV_INVALID` on
 * bad input ({@link runtimeEnvInputProblem}).
 */
export function renderRuntimeEnv(input: RuntimeEnvInput): [string, string][] {
  const problem = runtimeEnvInputProblem(input);
  if (problem !== undefined) throw invalid(`Cannot render the runtime environment: ${problem}`);
  const { ports, secrets: s } = input;
  const build = input.mode === "build";
  const c = INTERNAL_CREDENTIALS;
  const g = GUEST_PORTS;
  const local = "127.0.0.1";
  const browser = (port: number) => `http://localhost:${port}`;
  const inGuest = (port: number) => `http://${local}:${port}`;
  const databaseUrl = `postgres://${c.postgresUser}:${c.postgresPassword}@${local}:${g.postgres}/${c.database}`;
  const svixApiKey = signSvixApiKey({ secret: s.svixJwtSecret, issuedAt: s.issuedAt });

  const apps: [string, string][] = [
    // Mode and lifecycle
    ["NEXT_PUBLIC_STACK_IS_LOCAL_EMULATOR", "true"],
    ["STACK_SKIP_MIGRATIONS", build ? "false" : "true"],
    ["STACK_SKIP_SEED_SCRIPT", build ? "false" : "true"],
    ["STACK_RUNTIME_WORK_DIR", "/app"],
    ["STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT", input.hostMountRoot ?? "/host"],
    ["NEXT_PUBLIC_STACK_PORT_PREFIX", "81"],
    ["BACKEND_PORT", String(g.backend)],
    ["DASHBOARD_PORT", String(g.dashboard)],
    // URLs: the browser runs on the host (host ports); the apps reach each other inside the guest.
    ["NEXT_PUBLIC_STACK_API_URL", browser(ports.backend)],
    ["NEXT_PUBLIC_STACK_DASHBOARD_URL", browser(ports.dashboard)],
    ["NEXT_PUBLIC_BROWSER_STACK_API_URL", browser(ports.backend)],
    ["NEXT_PUBLIC_BROWSER_STACK_DASHBOARD_URL", browser(ports.dashboard)],
    ["NEXT_PUBLIC_SERVER_STACK_API_URL", inGuest(g.backend)],
    ["NEXT_PUBLIC_SERVER_STACK_DASHBOARD_URL", inGuest(g.dashboard)],
    ["NEXT_PUBLIC_STACK_SVIX_SERVER_URL", browser(ports.backend)],
    // Per-install secrets
    ["STACK_SERVER_SECRET", s.serverSecret],
    ["STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY", s.internalPublishableClientKey],
    ["STACK_SEED_INTERNAL_PROJECT_SECRET_SERVER_KEY", s.internalSecretServerKey],
    ["STACK_SEED_INTERNAL_PROJECT_SUPER_SECRET_ADMIN_KEY", s.internalSuperSecretAdminKey],
    ["CRON_SECRET", s.cronSecret],
    // Seed defaults (upstream's .env.development)
    ["STACK_SEED_ENABLE_DUMMY_PROJECT", "true"],
    ["STACK_SEED_INTERNAL_PROJECT_SIGN_UP_ENABLED", "true"],
    ["STACK_SEED_INTERNAL_PROJECT_OTP_ENABLED", "true"],
    ["STACK_SEED_INTERNAL_PROJECT_ALLOW_LOCALHOST", "true"],
    ["STACK_SEED_INTERNAL_PROJECT_OAUTH_PROVIDERS", "github,spotify,google,microsoft"],
    ["STACK_SEED_INTERNAL_PROJECT_USER_INTERNAL_ACCESS", "true"],
    // Database and analytics
    ["STACK_DATABASE_CONNECTION_STRING", databaseUrl],
    ["STACK_CLICKHOUSE_URL", inGuest(g.clickhouseHttp)],
    ["STACK_CLICKHOUSE_DATABASE", c.clickhouseDatabase],
    ["STACK_CLICKHOUSE_ADMIN_USER", c.clickhouseAdminUser],
    ["STACK_CLICKHOUSE_ADMIN_PASSWORD", c.clickhouseAdminPassword],
    ["STACK_CLICKHOUSE_EXTERNAL_PASSWORD", c.clickhouseExternalPassword],
    // Storage
    ["STACK_S3_REGION", c.s3Region],
    ["STACK_S3_ENDPOINT", inGuest(g.minio)],
    ["STACK_S3_PUBLIC_ENDPOINT", `${browser(ports.minio)}/${c.s3Bucket}`],
    ["STACK_S3_ACCESS_KEY_ID", c.s3AccessKeyId],
    ["STACK_S3_SECRET_ACCESS_KEY", c.s3SecretAccessKey],
    ["STACK_S3_BUCKET", c.s3Bucket],
    ["STACK_S3_PRIVATE_BUCKET", c.s3PrivateBucket],
    // Webhooks and queues
    ["STACK_SVIX_SERVER_URL", inGuest(g.svix)],
    ["STACK_SVIX_API_KEY", svixApiKey],
    ["STACK_QSTASH_URL", inGuest(g.qstash)],
    ["STACK_QSTASH_TOKEN", QSTASH_DEV_SERVER.token],
    ["STACK_QSTASH_CURRENT_SIGNING_KEY", QSTASH_DEV_SERVER.currentSigningKey],
    ["STACK_QSTASH_NEXT_SIGNING_KEY", QSTASH_DEV_SERVER.nextSigningKey],
    // Email (Inbucket)
    ["STACK_EMAIL_HOST", local],
    ["STACK_EMAIL_PORT", String(g.inbucketSmtp)],
    ["STACK_EMAIL_SECURE", "false"],
    ["STACK_EMAIL_USERNAME", "does-not-matter"],
    ["STACK_EMAIL_PASSWORD", "does-not-matter"],
    ["STACK_EMAIL_SENDER", "noreply@example.com"],
    ["STACK_EMAIL_MONITOR_INBUCKET_API_URL", inGuest(g.inbucketWeb)],
    ["STACK_EMAIL_MONITOR_USE_INBUCKET", "true"],
    ["STACK_EMAIL_MONITOR_VERIFICATION_CALLBACK_URL", `${browser(ports.dashboard)}/handler/email-verification`],
    // Mocks: freestyle, Stripe, OAuth
    ["STACK_FREESTYLE_API_KEY", "mock_stack_freestyle_key"],
    ["STACK_FREESTYLE_API_ENDPOINT", inGuest(g.freestyleMock)],
    ["STACK_STRIPE_MOCK_PORT", String(g.stripeMock)],
    ["STACK_STRIPE_SECRET_KEY", "sk_test_mockstripekey"],
    ["STACK_STRIPE_WEBHOOK_SECRET", "mock_stripe_webhook_secret"],
    ["NEXT_PUBLIC_STACK_STRIPE_PUBLISHABLE_KEY", "pk_test_mock_publishable_key_for_local_emulator"],
    ["STACK_OAUTH_MOCK_URL", inGuest(g.mockOauth)],
    ["STACK_FORWARD_MOCK_OAUTH_SERVER", "false"],
    ["STACK_GITHUB_CLIENT_ID", "MOCK"],
    ["STACK_GITHUB_CLIENT_SECRET", "MOCK"],
    ["STACK_GOOGLE_CLIENT_ID", "MOCK"],
    ["STACK_GOOGLE_CLIENT_SECRET", "MOCK"],
    ["STACK_MICROSOFT_CLIENT_ID", "MOCK"],
    ["STACK_MICROSOFT_CLIENT_SECRET", "MOCK"],
    ["STACK_SPOTIFY_CLIENT_ID", "MOCK"],
    ["STACK_SPOTIFY_CLIENT_SECRET", "MOCK"],
    ["STACK_ALLOW_SHARED_OAUTH_ACCESS_TOKENS", "true"],
  ];
  const services: [string, string][] = [
    ["HEXCLAVE_RUN_BUILD_MIGRATIONS", build ? "1" : "0"],
    ["HEXCLAVE_START_TIMEOUT_FACTOR", String(input.startTimeoutFactor ?? 1)],
    ["POSTGRES_PASSWORD", c.postgresPassword],
    ["CLICKHOUSE_ADMIN_USER", c.clickhouseAdminUser],
    ["CLICKHOUSE_PASSWORD", c.clickhouseAdminPassword],
    ["MINIO_ROOT_USER", c.s3AccessKeyId],
    ["MINIO_ROOT_PASSWORD", c.s3SecretAccessKey],
    ["HEXCLAVE_MINIO_BUCKETS", `${c.s3Bucket} ${c.s3PrivateBucket}`],
    ["SVIX_JWT_SECRET", s.svixJwtSecret],
    ["QSTASH_TOKEN", QSTASH_DEV_SERVER.token],
  ];
  const out: [string, string][] = [];
  for (const [name, value] of apps) {
    out.push([name, value]);
    const other = hexclaveSpelling(name);
    if (other !== undefined) out.push([other, value]);
  }
  return [...out, ...services];
}

/**
 * The `docker run --env-file` text: the magic comment, then `NAME=value`
 * lines (docker takes each value literally to the end of its line).
 */
export function formatEnvFile(entries: readonly (readonly [string, string])[]): string {
  const lines = [RUNTIME_ENV_MAGIC];
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name))
      throw invalid(`Environment name ${JSON.stringify(name)} is not NAME_LIKE_THIS`);
    if (seen.has(name)) throw invalid(`Environment name ${name} appears twice`);
    if (/[\r\n\0]/.test(value)) throw invalid(`The value of ${name} holds a line break or NUL`);
    seen.add(name);
    lines.push(`${name}=${value}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Parses what {@link formatEnvFile} wrote (blank lines and `#` comments skipped), for tests and checks. */
export function parseEnvFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw invalid(`Not a NAME=value line: ${JSON.stringify(line.slice(0, 40))}`);
    env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}
