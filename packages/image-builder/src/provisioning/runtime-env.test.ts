import { describe, expect, it } from "vitest";
import {
  BUILD_PLACEHOLDER_SECRETS,
  DEFAULT_RUNTIME_HOST_PORTS,
  formatEnvFile,
  hexclaveSpelling,
  parseEnvFile,
  RUNTIME_ENV_MAGIC,
  type RuntimeSecrets,
  renderRuntimeEnv,
  runtimeEnvInputProblem,
  signSvixApiKey,
} from "./runtime-env.js";

const secrets: RuntimeSecrets = {
  serverSecret: "c2VydmVyLXNlY3JldC1mb3ItdGVzdHMtb25seS0xMjM0NTY",
  internalPublishableClientKey: "1".repeat(64),
  internalSecretServerKey: "2".repeat(64),
  internalSuperSecretAdminKey: "3".repeat(64),
  cronSecret: "4".repeat(64),
  svixJwtSecret: "5".repeat(64),
  issuedAt: 1_800_000_000,
};

const envOf = (input: Parameters<typeof renderRuntimeEnv>[0]) => new Map(renderRuntimeEnv(input));

describe("signSvixApiKey", () => {
  it("makes upstream's published development key from svix-server's default secret", () => {
    // apps/backend/.env.development's STACK_SVIX_API_KEY, signed with SVIX_JWT_SECRET=secret.
    expect(signSvixApiKey({ secret: "secret", issuedAt: 1655140639, expiresAt: 1970500639 })).toBe(
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE2NTUxNDA2MzksImV4cCI6MTk3MDUwMDYzOSwibmJmIjoxNjU1MTQwNjM5LCJpc3MiOiJzdml4LXNlcnZlciIsInN1YiI6Im9yZ18yM3JiOFlkR3FNVDBxSXpwZ0d3ZFhmSGlyTXUifQ.En8w77ZJWbd0qrMlHHupHUB-4cx17RfzFykseg95SUk",
    );
  });

  it("a different secret gives a different signature over the same claims", () => {
    const a = signSvixApiKey({ secret: "a".repeat(64), issuedAt: 1_800_000_000 });
    const b = signSvixApiKey({ secret: "b".repeat(64), issuedAt: 1_800_000_000 });
    expect(a.split(".").slice(0, 2)).toEqual(b.split(".").slice(0, 2));
    expect(a.split(".")[2]).not.toBe(b.split(".")[2]);
    const claims = JSON.parse(Buffer.from(a.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
    expect(claims).toEqual({
      iat: 1_800_000_000,
      nbf: 1_800_000_000,
      exp: 1_800_000_000 + 10 * 365 * 24 * 3600,
      iss: "svix-server",
      sub: "org_23rb8YdGqMT0qIzpgGwdXfHirMu",
    });
  });
});

describe("hexclaveSpelling", () => {
  it.each([
    ["STACK_SERVER_SECRET", "HEXCLAVE_SERVER_SECRET"],
    ["NEXT_PUBLIC_STACK_API_URL", "NEXT_PUBLIC_HEXCLAVE_API_URL"],
    ["NEXT_PUBLIC_BROWSER_STACK_API_URL", "NEXT_PUBLIC_BROWSER_HEXCLAVE_API_URL"],
    ["NEXT_PUBLIC_SERVER_STACK_DASHBOARD_URL", "NEXT_PUBLIC_SERVER_HEXCLAVE_DASHBOARD_URL"],
    ["NEXT_PUBLIC_STACK_PORT_PREFIX", "NEXT_PUBLIC_HEXCLAVE_PORT_PREFIX"],
    ["CRON_SECRET", undefined],
    ["BACKEND_PORT", undefined],
    ["POSTGRES_PASSWORD", undefined],
  ])("%s -> %s", (name, expected) => {
    expect(hexclaveSpelling(name)).toBe(expected);
  });
});

describe("renderRuntimeEnv", () => {
  it.each([
    ["default ports", DEFAULT_RUNTIME_HOST_PORTS, [26700, 26701, 26702, 26703]],
    ["moved ports", { dashboard: 31000, backend: 31001, minio: 31002, inbucket: 31003 }, [31000, 31001, 31002, 31003]],
    ["ports out of order", { dashboard: 9, backend: 65535, minio: 1024, inbucket: 2 }, [9, 65535, 1024, 2]],
  ] as const)("host ports reach every browser-facing URL (%s)", (_, ports, [dash, back, minio]) => {
    const env = envOf({ ports, secrets });
    const expected: Record<string, string> = {
      NEXT_PUBLIC_STACK_API_URL: `http://localhost:${back}`,
      NEXT_PUBLIC_BROWSER_STACK_API_URL: `http://localhost:${back}`,
      NEXT_PUBLIC_STACK_DASHBOARD_URL: `http://localhost:${dash}`,
      NEXT_PUBLIC_BROWSER_STACK_DASHBOARD_URL: `http://localhost:${dash}`,
      NEXT_PUBLIC_STACK_SVIX_SERVER_URL: `http://localhost:${back}`,
      STACK_S3_PUBLIC_ENDPOINT: `http://localhost:${minio}/stack-storage`,
      STACK_EMAIL_MONITOR_VERIFICATION_CALLBACK_URL: `http://localhost:${dash}/handler/email-verification`,
      // Server-side URLs stay inside the guest whatever the host ports are.
      NEXT_PUBLIC_SERVER_STACK_API_URL: "http://127.0.0.1:8102",
      NEXT_PUBLIC_SERVER_STACK_DASHBOARD_URL: "http://127.0.0.1:8101",
      BACKEND_PORT: "8102",
      DASHBOARD_PORT: "8101",
    };
    for (const [name, value] of Object.entries(expected)) expect([name, env.get(name)]).toEqual([name, value]);
  });

  it.each([
    ["STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY", "1".repeat(64)],
    ["STACK_SEED_INTERNAL_PROJECT_SECRET_SERVER_KEY", "2".repeat(64)],
    ["STACK_SEED_INTERNAL_PROJECT_SUPER_SECRET_ADMIN_KEY", "3".repeat(64)],
    ["CRON_SECRET", "4".repeat(64)],
    ["SVIX_JWT_SECRET", "5".repeat(64)],
    ["STACK_SERVER_SECRET", secrets.serverSecret],
    ["STACK_SVIX_API_KEY", signSvixApiKey({ secret: "5".repeat(64), issuedAt: 1_800_000_000 })],
    ["NEXT_PUBLIC_STACK_IS_LOCAL_EMULATOR", "true"],
    ["STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT", "/host"],
    [
      "STACK_DATABASE_CONNECTION_STRING",
      "postgres://postgres:PASSWORD-PLACEHOLDER--uqfEC1hmmv@127.0.0.1:5432/stackframe",
    ],
    ["POSTGRES_PASSWORD", "PASSWORD-PLACEHOLDER--uqfEC1hmmv"],
    ["STACK_CLICKHOUSE_URL", "http://127.0.0.1:8123"],
    ["STACK_CLICKHOUSE_DATABASE", "default"],
    ["STACK_CLICKHOUSE_ADMIN_USER", "stackframe"],
    ["CLICKHOUSE_ADMIN_USER", "stackframe"],
    ["STACK_CLICKHOUSE_ADMIN_PASSWORD", "PASSWORD-PLACEHOLDER--9gKyMxJeMx"],
    ["CLICKHOUSE_PASSWORD", "PASSWORD-PLACEHOLDER--9gKyMxJeMx"],
    ["STACK_CLICKHOUSE_EXTERNAL_PASSWORD", "PASSWORD-PLACEHOLDER--EZeHscBMzE"],
    ["STACK_S3_REGION", "us-east-1"],
    ["STACK_S3_ENDPOINT", "http://127.0.0.1:9090"],
    ["STACK_S3_BUCKET", "stack-storage"],
    ["STACK_S3_PRIVATE_BUCKET", "stack-storage-private"],
    ["STACK_S3_ACCESS_KEY_ID", "s3mockroot"],
    ["MINIO_ROOT_USER", "s3mockroot"],
    ["MINIO_ROOT_PASSWORD", "s3mockroot"],
    ["HEXCLAVE_MINIO_BUCKETS", "stack-storage stack-storage-private"],
    ["STACK_SVIX_SERVER_URL", "http://127.0.0.1:8071"],
    ["STACK_QSTASH_URL", "http://127.0.0.1:8080"],
    ["STACK_QSTASH_TOKEN", "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="],
    ["QSTASH_TOKEN", "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="],
    ["STACK_QSTASH_CURRENT_SIGNING_KEY", "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"],
    ["STACK_QSTASH_NEXT_SIGNING_KEY", "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"],
    ["STACK_EMAIL_HOST", "127.0.0.1"],
    ["STACK_EMAIL_PORT", "2500"],
    ["STACK_EMAIL_SECURE", "false"],
    ["STACK_EMAIL_SENDER", "noreply@example.com"],
    ["STACK_FREESTYLE_API_KEY", "mock_stack_freestyle_key"],
    ["STACK_FREESTYLE_API_ENDPOINT", "http://127.0.0.1:8180"],
    ["STACK_STRIPE_MOCK_PORT", "12111"],
    ["STACK_GITHUB_CLIENT_ID", "MOCK"],
    ["STACK_OAUTH_MOCK_URL", "http://127.0.0.1:8114"],
  ])("%s = %s", (name, value) => {
    expect(envOf({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets }).get(name)).toBe(value);
  });

  it.each([
    ["run", { STACK_SKIP_MIGRATIONS: "true", STACK_SKIP_SEED_SCRIPT: "true", HEXCLAVE_RUN_BUILD_MIGRATIONS: "0" }],
    ["build", { STACK_SKIP_MIGRATIONS: "false", STACK_SKIP_SEED_SCRIPT: "false", HEXCLAVE_RUN_BUILD_MIGRATIONS: "1" }],
  ] as const)("mode %s: migrations and seed", (mode, expected) => {
    const env = envOf({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets, mode });
    for (const [name, value] of Object.entries(expected)) expect([name, env.get(name)]).toEqual([name, value]);
  });

  it.each([
    [undefined, "1"],
    [1, "1"],
    [3, "3"],
  ] as const)("start timeout factor %s: HEXCLAVE_START_TIMEOUT_FACTOR=%s for the supervisor", (factor, expected) => {
    const env = envOf({
      ports: DEFAULT_RUNTIME_HOST_PORTS,
      secrets,
      ...(factor === undefined ? {} : { startTimeoutFactor: factor }),
    });
    expect(env.get("HEXCLAVE_START_TIMEOUT_FACTOR")).toBe(expected);
  });

  it("writes every STACK_ name's HEXCLAVE_ spelling right after it, with the identical value", () => {
    const entries = renderRuntimeEnv({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets });
    const names = entries.map(([n]) => n);
    expect(new Set(names).size).toBe(names.length);
    let pairs = 0;
    entries.forEach(([name, value], i) => {
      const other = hexclaveSpelling(name);
      if (other === undefined) return;
      expect(entries[i + 1]).toEqual([other, value]);
      pairs++;
    });
    expect(pairs).toBeGreaterThan(60);
    expect(new Map(entries).get("HEXCLAVE_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY")).toBe("1".repeat(64));
  });

  it("is pure: same input, same output; other secrets change only the secret-bearing lines", () => {
    const a = renderRuntimeEnv({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets });
    expect(renderRuntimeEnv({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets })).toEqual(a);
    const b = renderRuntimeEnv({
      ports: DEFAULT_RUNTIME_HOST_PORTS,
      secrets: { ...secrets, cronSecret: "9".repeat(64) },
    });
    const changed = a.filter(([n, v]) => new Map(b).get(n) !== v).map(([n]) => n);
    expect(changed).toEqual(["CRON_SECRET"]);
  });

  it("the build placeholders are valid input and differ from any install's", () => {
    expect(runtimeEnvInputProblem({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets: BUILD_PLACEHOLDER_SECRETS })).toBe(
      undefined,
    );
    expect(BUILD_PLACEHOLDER_SECRETS.internalPublishableClientKey).toMatch(/^0{32}f{32}$/);
  });

  it.each([
    ["port 0", { ports: { ...DEFAULT_RUNTIME_HOST_PORTS, backend: 0 } }, "host port of backend is 0"],
    ["port 70000", { ports: { ...DEFAULT_RUNTIME_HOST_PORTS, minio: 70000 } }, "host port of minio is 70000"],
    ["port 1.5", { ports: { ...DEFAULT_RUNTIME_HOST_PORTS, inbucket: 1.5 } }, "host port of inbucket is 1.5"],
    ["short key", { secrets: { ...secrets, cronSecret: "abc" } }, "secret cronSecret is not 64"],
    [
      "upper-case key",
      { secrets: { ...secrets, internalSecretServerKey: "A".repeat(64) } },
      "internalSecretServerKey is not 64",
    ],
    ["server secret with =", { secrets: { ...secrets, serverSecret: `${"a".repeat(40)}=` } }, "serverSecret"],
    ["zero issuedAt", { secrets: { ...secrets, issuedAt: 0 } }, "issuedAt"],
    ["relative mount root", { hostMountRoot: "host" }, "host mount root host"],
    ["mount root with newline", { hostMountRoot: "/host\nX=1" }, "host mount root"],
    ["start timeout factor 0", { startTimeoutFactor: 0 }, "start timeout factor is 0, not a whole number from 1 to 10"],
    ["start timeout factor 11", { startTimeoutFactor: 11 }, "start timeout factor is 11"],
    ["start timeout factor 1.5", { startTimeoutFactor: 1.5 }, "start timeout factor is 1.5"],
  ])("refuses %s, naming what is wrong", (_, change, message) => {
    const input = { ports: DEFAULT_RUNTIME_HOST_PORTS, secrets, ...change };
    expect(runtimeEnvInputProblem(input)).toContain(message);
    expect(() => renderRuntimeEnv(input)).toThrow(expect.objectContaining({ code: "RUNTIME_ENV_INVALID" }));
  });
});

describe("formatEnvFile / parseEnvFile", () => {
  it("round-trips the rendered environment, magic line first", () => {
    const entries = renderRuntimeEnv({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets });
    const text = formatEnvFile(entries);
    expect(text.split("\n")[0]).toBe(RUNTIME_ENV_MAGIC);
    expect(text.endsWith("\n")).toBe(true);
    expect([...parseEnvFile(text)]).toEqual(entries);
  });

  it("ignores the blank padding of a fixed-length payload", () => {
    expect([...parseEnvFile(`${RUNTIME_ENV_MAGIC}\nA=1\nB=x=y\n\n\n\n`)]).toEqual([
      ["A", "1"],
      ["B", "x=y"],
    ]);
  });

  it.each([
    ["a lower-case name", [["a", "1"]], "is not NAME_LIKE_THIS"],
    [
      "a repeated name",
      [
        ["A", "1"],
        ["A", "2"],
      ],
      "appears twice",
    ],
    ["a line break in a value", [["A", "1\nB=2"]], "line break"],
  ] as const)("refuses %s", (_, entries, message) => {
    expect(() => formatEnvFile(entries)).toThrow(message);
  });
});
