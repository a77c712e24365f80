/**
 * The contract build and run of the real Hexclave image: `docker build` of
 * docker/Dockerfile itself (classic builder) against the offline stand-ins of
 * every upstream image it names (test-support/hexclave-stand-ins.ts), then
 * `docker run` of the result under the real supervisor with the environment
 * the emulator renders (packages/image-builder/src/provisioning/runtime-env.ts):
 *
 * 1. the build's warm boot (mode "build"): every service healthy, the
 *    migrations then the seed run once, with their subcommands, from apps/backend;
 * 2. an ordinary start on the same data with other host ports (mode "run"):
 *    healthy, no second migrate or seed, the apps hold every rendered variable
 *    with the new host ports in their URLs, the internal API keys upserted,
 *    the cron loops calling in, and nothing listening beyond where it should.
 *
 * What is real here and what is a stand-in: docker/README.md, "Contract build and run".
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateRuntimeSecrets } from "../packages/image-builder/src/image/runtime-secrets.js";
import {
  formatEnvFile,
  parseEnvFile,
  type RuntimeHostPorts,
  type RuntimeSecrets,
  renderRuntimeEnv,
} from "../packages/image-builder/src/provisioning/runtime-env.js";
import {
  HEALTH_REPORT_DIR,
  HEALTH_REPORT_ENV,
  HEALTH_REPORT_FILE,
} from "../packages/image-builder/src/provisioning/service-names.js";
import { ensureHexclaveStandIns } from "./test-support/hexclave-stand-ins.js";

const dockerDir = dirname(fileURLToPath(import.meta.url));
const services = JSON.parse(readFileSync(join(dockerDir, "services.json"), "utf8")) as {
  profiles: { hexclave: { services: { name: string }[] } };
};
const SERVICE_NAMES = services.profiles.hexclave.services.map((s) => s.name);
const IMAGE = "hexclave-contract-image:test";
const work = mkdtempSync(join(tmpdir(), "hexclave-contract-"));
const dataDir = join(work, "data");
const containers: string[] = [];

/** Per-install secrets, as the emulator makes them once per home. */
const secrets: RuntimeSecrets = generateRuntimeSecrets();
const BUILD_PORTS: RuntimeHostPorts = { dashboard: 27700, backend: 27701, minio: 27702, inbucket: 27703 };
const RUN_PORTS: RuntimeHostPorts = { dashboard: 28710, backend: 28711, minio: 28712, inbucket: 28713 };

/**
 * Where each TCP port may listen inside the container (the guest's network:
 * only the four exposed ports are forwarded, but nothing else should face it
 * either). "any": bound to every interface, as upstream's program does or must.
 */
const LISTEN: Record<number, "loopback" | "any"> = {
  5432: "loopback", // postgres
  6379: "loopback", // redis
  8123: "loopback", // clickhouse http
  9009: "loopback", // clickhouse native
  8071: "loopback", // svix
  8110: "loopback", // file bridge
  8180: "loopback", // freestyle mock
  9090: "any", // minio (exposed)
  9091: "any", // minio console
  9001: "any", // inbucket web (exposed)
  2500: "any", // inbucket smtp
  1100: "any", // inbucket pop3
  8080: "any", // qstash dev
  12111: "any", // stripe-mock
  8114: "any", // mock oauth (upstream forwards it to the host)
  8101: "any", // dashboard (exposed)
  8102: "any", // backend (exposed)
};

function docker(args: string[], options: { reject?: boolean; input?: string } = {}) {
  return execa("docker", args, {
    reject: options.reject ?? true,
    all: true,
    ...(options.input ? { input: options.input } : {}),
  });
}

async function logsOf(name: string, tail = 150): Promise<string> {
  const logs = await docker(["logs", "--tail", String(tail), name], { reject: false });
  return String(logs.all ?? "");
}

/**
 * The guest unit's own `docker run` options beyond the env file and the data (provisioning/user-data.ts): no Docker
 * HEALTHCHECK, and the supervisor's health report in a directory bound at the same path (here a host directory).
 */
function guestUnitOptions(reportDir: string): string[] {
  return [
    "--no-healthcheck",
    "-v",
    `${reportDir}:${HEALTH_REPORT_DIR}`,
    "-e",
    `${HEALTH_REPORT_ENV}=${HEALTH_REPORT_FILE}`,
  ];
}

/** Starts the image with a rendered env file on the shared data directory and waits until every service is healthy. */
async function startContainer(
  mode: "build" | "run",
  ports: RuntimeHostPorts,
  runOptions: readonly string[] = [],
): Promise<{ name: string; env: Map<string, string> }> {
  const text = formatEnvFile(renderRuntimeEnv({ ports, secrets, mode }));
  const envFile = join(work, `${mode}.env`);
  writeFileSync(envFile, text, { mode: 0o600 });
  const name = `hexclave-contract-${mode}-${randomBytes(4).toString("hex")}`;
  // One container on the data at a time, even when an earlier test failed before its stop.
  for (const earlier of containers) await docker(["rm", "-f", earlier], { reject: false });
  containers.push(name);
  await docker(["run", "-d", "--name", name, "--env-file", envFile, "-v", `${dataDir}:/data`, ...runOptions, IMAGE]);
  const deadline = Date.now() + 15 * 60_000;
  let last = "";
  while (Date.now() < deadline) {
    const state = await docker(["inspect", "--format", "{{.State.Running}}", name], { reject: false });
    if (state.stdout.trim() !== "true") throw new Error(`the container stopped:\n${await logsOf(name)}`);
    // A stand-in that finds its contract broken, or a service the supervisor gave up waiting for, fails the start now.
    const logs = await logsOf(name, 100_000);
    const broken = logs.split("\n").filter((l) => /CONTRACT VIOLATION|hexclave-supervisor: (FAILED|FATAL)/.test(l));
    if (broken.length > 0) throw new Error(`${broken.join("\n")}\n--- last lines ---\n${await logsOf(name)}`);
    const ready = await docker(["exec", name, "test", "-e", "/run/hexclave/ready"], { reject: false });
    if (ready.exitCode === 0) return { name, env: parseEnvFile(text) };
    last = String((await docker(["exec", name, "hexclave-health"], { reject: false })).all ?? "");
    await new Promise((r) => setTimeout(r, 3_000));
  }
  throw new Error(`not every service became healthy within 15 min; last check:\n${last}\nlogs:\n${await logsOf(name)}`);
}

async function calls(name: string): Promise<Array<{ program: string; args?: string[]; cwd?: string; path?: string }>> {
  const out = await docker(["exec", name, "cat", "/data/hexclave-stand-in/calls.jsonl"], { reject: false });
  return out.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}

async function stop(name: string): Promise<void> {
  await docker(["stop", "--time", "60", name]);
  const code = await docker(["inspect", "--format", "{{.State.ExitCode}}", name]);
  expect(code.stdout.trim(), await logsOf(name)).toBe("0");
}

beforeAll(async () => {
  const standIns = await ensureHexclaveStandIns();
  // A reference with no stand-in is one no registry has: the build below fails at its FROM.
  const buildArgs = Object.entries(standIns.buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);
  const build = await execa("docker", ["build", ...buildArgs, "-t", IMAGE, dockerDir], {
    env: { DOCKER_BUILDKIT: "0" },
    reject: false,
    all: true,
  });
  if (build.exitCode !== 0) {
    throw new Error(
      `the contract build of docker/Dockerfile failed:\n${String(build.all).split("\n").slice(-40).join("\n")}`,
    );
  }
}, 60 * 60_000);

afterAll(async () => {
  for (const name of containers) await docker(["rm", "-f", name], { reject: false });
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe("contract run of the Hexclave image", () => {
  let built: { name: string; env: Map<string, string> };

  it(
    "build's warm boot: every service healthy; migrate then seed once, from apps/backend",
    async () => {
      built = await startContainer("build", BUILD_PORTS);
      const health = await docker(["exec", built.name, "hexclave-health"], { reject: false });
      const lines = health.stdout.trim().split("\n");
      expect(lines.map((l) => l.split(" ")[0]).sort()).toEqual([...SERVICE_NAMES].sort());
      expect(health.exitCode, health.stdout).toBe(0);
      const migrations = (await calls(built.name)).filter((c) => c.program === "db-migrations");
      expect(migrations.map((c) => c.args)).toEqual([["migrate"], ["seed"]]);
      expect(migrations.map((c) => c.cwd)).toEqual(["/app/apps/backend", "/app/apps/backend"]);
      await stop(built.name);
    },
    20 * 60_000,
  );

  it(
    "an ordinary start: no migrations, the apps get the rendered environment with the new host ports",
    async () => {
      // As the emulator's guest runs it (the build's warm boot above runs it as a plain `docker run` does).
      const reportDir = join(work, "health-report");
      mkdirSync(reportDir);
      const { name, env } = await startContainer("run", RUN_PORTS, guestUnitOptions(reportDir));
      const migrations = (await calls(name)).filter((c) => c.program === "db-migrations");
      expect(migrations.map((c) => c.args)).toEqual([["migrate"], ["seed"]]);

      // The supervisor's health report, which `stack emulator status` reads in the guest: all 13 programs healthy,
      // written by the monitor's first check at the end of the start-up. No Docker HEALTHCHECK runs.
      const reportFile = join(reportDir, "programs");
      let report = "";
      for (let i = 0; i < 120 && !/\nexit 0\n$/.test(report); i++) {
        await new Promise((r) => setTimeout(r, 500));
        // Written temp-then-rename and never removed while the container runs: once there, it reads whole.
        if (existsSync(reportFile)) report = readFileSync(reportFile, "utf8");
      }
      const reportLines = report.trim().split("\n");
      expect(Number(reportLines[0]), report).toBeGreaterThan(0);
      expect(reportLines.at(-1), report).toBe("exit 0");
      const reported = reportLines.slice(1, -1).map((l) => l.split(" "));
      expect(reported.map(([program]) => program).sort()).toEqual([...SERVICE_NAMES].sort());
      expect(reported.filter(([, state]) => state !== "ok")).toEqual([]);
      expect((await docker(["inspect", "--format", "{{.State.Health}}", name])).stdout.trim()).toBe("<nil>");

      // Every rendered variable reaches the backend's process, with the host ports of this start.
      const pid = (await docker(["exec", name, "pgrep", "-f", "-o", "apps/backend/server.js"])).stdout.trim();
      const environ = (await docker(["exec", name, "cat", `/proc/${pid}/environ`])).stdout.split("\0");
      const appEnv = new Map(
        environ.filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      for (const [key, value] of env) expect(appEnv.get(key), key).toBe(value);
      expect(appEnv.get("NEXT_PUBLIC_STACK_API_URL")).toBe(`http://localhost:${RUN_PORTS.backend}`);
      expect(appEnv.get("NEXT_PUBLIC_STACK_DASHBOARD_URL")).toBe(`http://localhost:${RUN_PORTS.dashboard}`);
      expect(appEnv.get("STACK_S3_PUBLIC_ENDPOINT")).toMatch(new RegExp(`^http://localhost:${RUN_PORTS.minio}/`));
      expect(appEnv.get("STACK_SKIP_MIGRATIONS")).toBe("true");
      // The entrypoint's own exports and the sentinels inlined with this start's URL.
      expect(appEnv.get("NEXT_PUBLIC_STACK_PROJECT_ID")).toBe("internal");
      expect(appEnv.get("USE_INLINE_ENV_VARS")).toBe("true");
      const inlined = await docker([
        "exec",
        name,
        "grep",
        "-c",
        `http://localhost:${RUN_PORTS.backend}`,
        "/app/apps/backend/server.js",
      ]);
      expect(Number(inlined.stdout.trim())).toBeGreaterThan(0);

      // The internal API keys are the install's own.
      const keys = await docker([
        "exec",
        name,
        "psql",
        env.get("STACK_DATABASE_CONNECTION_STRING")!,
        "-qAtc",
        `SELECT "publishableClientKey" FROM "ApiKeySet" WHERE "projectId" = 'internal'`,
      ]);
      expect(keys.stdout.trim()).toBe(secrets.internalPublishableClientKey);

      // The cron loops call all three endpoints with CRON_SECRET.
      const deadline = Date.now() + 120_000;
      let cron: string[] = [];
      while (Date.now() < deadline) {
        cron = (await calls(name)).filter((c) => c.program === "cron").map((c) => c.path!);
        if (new Set(cron).size === 3) break;
        await new Promise((r) => setTimeout(r, 2_000));
      }
      expect(new Set(cron)).toEqual(
        new Set([
          "/api/latest/internal/email-queue-step",
          "/api/latest/internal/external-db-sync/sequencer",
          "/api/latest/internal/external-db-sync/poller",
        ]),
      );

      // Nothing listens beyond where it should.
      const tables = await docker(["exec", name, "cat", "/proc/net/tcp", "/proc/net/tcp6"]);
      const listening = new Map<number, Set<string>>();
      for (const line of tables.stdout.split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] !== "0A" || f[1] === undefined) continue; // LISTEN
        const [addr, portHex] = f[1].split(":") as [string, string];
        const port = Number.parseInt(portHex, 16);
        const scope = /^0+$/.test(addr)
          ? "any"
          : addr === "0100007F" || addr === "00000000000000000000000001000000"
            ? "loopback"
            : addr;
        listening.set(port, new Set([...(listening.get(port) ?? []), scope]));
      }
      for (const [port, scopes] of listening) {
        expect(LISTEN[port], `unexpected listener on port ${port} (${[...scopes].join(", ")})`).toBeDefined();
        if (LISTEN[port] === "loopback") expect([...scopes], `port ${port}`).toEqual(["loopback"]);
      }
      for (const port of Object.keys(LISTEN))
        expect(listening.has(Number(port)), `nothing listens on ${port}`).toBe(true);
      await stop(name);
    },
    20 * 60_000,
  );
});
