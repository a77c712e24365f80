/**
 * The self-test image, built and run with the real dockerd: base from the
 * Debian mirror (mmdebstrap), image from docker/selftest, four endpoints
 * healthy, the backend's pooled database connection, a row that survives `docker stop` + start on the same volume with a
 * clean PostgreSQL shutdown, and a killed Redis restarted by the supervisor.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildEnvFile, ensureSelftestBaseImage } from "@hexclave/image-builder";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDockerd } from "../test-support/ensure-dockerd.js";

const dockerDir = dirname(dirname(fileURLToPath(import.meta.url)));
const services = JSON.parse(readFileSync(join(dockerDir, "services.json"), "utf8")) as {
  exposed: { service: string; guestPort: number; health: { path: string; expectStatus: number[] } }[];
  profiles: { selftest: { services: { name: string }[] } };
};

const id = randomBytes(4).toString("hex");
const image = `hexclave-selftest:integration-${id}`;
const container = `hexclave-selftest-it-${id}`;
const volume = `hexclave-selftest-it-${id}`;
const hostPorts = new Map<number, number>();
const timings: Record<string, number> = {};
let envDir: string | undefined;

const docker = (...args: string[]) => execa("docker", args, { env: { DOCKER_BUILDKIT: "0" } });

async function mappedPorts(): Promise<void> {
  for (const e of services.exposed) {
    const { stdout } = await docker("port", container, `${e.guestPort}/tcp`);
    const line = stdout.split("\n").find((l) => l.startsWith("127.0.0.1:"));
    if (!line) throw new Error(`no 127.0.0.1 mapping for ${e.guestPort}: ${stdout}`);
    hostPorts.set(e.guestPort, Number(line.split(":")[1]));
  }
}

const url = (guestPort: number, path: string) => `http://127.0.0.1:${hostPorts.get(guestPort)}${path}`;

async function statusOf(guestPort: number, path: string): Promise<number | undefined> {
  try {
    const res = await fetch(url(guestPort, path), { signal: AbortSignal.timeout(3_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/** Polls the four exposed health paths from the host until all answer their code; returns the seconds it took. */
async function waitAllHealthy(deadlineMs = 180_000): Promise<number> {
  const started = Date.now();
  const last = new Map<string, number | undefined>();
  while (Date.now() - started < deadlineMs) {
    let healthy = 0;
    for (const e of services.exposed) {
      const code = await statusOf(e.guestPort, e.health.path);
      last.set(e.service, code);
      if (code !== undefined && e.health.expectStatus.includes(code)) healthy++;
    }
    if (healthy === services.exposed.length) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  const { stdout } = await docker("logs", "--tail", "40", container).catch(() => ({ stdout: "" }));
  throw new Error(`not healthy in ${deadlineMs} ms: ${JSON.stringify(Object.fromEntries(last))}\n${stdout}`);
}

async function logs(): Promise<string> {
  const { stdout, stderr } = await docker("logs", container);
  return `${stdout}\n${stderr}`;
}

async function execIn(...cmd: string[]) {
  return execa("docker", ["exec", container, ...cmd], { reject: false });
}

beforeAll(async () => {
  await ensureDockerd();
  let t = Date.now();
  const base = await ensureSelftestBaseImage();
  timings.baseSeconds = (Date.now() - t) / 1000;
  timings.baseCreated = base.created ? 1 : 0;
  t = Date.now();
  await docker(
    "build",
    "-q",
    "-f",
    join(dockerDir, "selftest", "Dockerfile"),
    "--build-arg",
    `SELFTEST_BASE=${base.tag}`,
    "-t",
    image,
    dockerDir,
  );
  timings.buildSeconds = (Date.now() - t) / 1000;
  const { stdout: size } = await docker("image", "inspect", "-f", "{{.Size}}", image);
  timings.imageMB = Math.round(Number(size) / 1e6);
  await docker("volume", "create", volume);
  const publish = services.exposed.flatMap((e) => ["-p", `127.0.0.1::${e.guestPort}`]);
  t = Date.now();
  // The environment the guest's hexclave.service always gives the container (a password for PostgreSQL among it).
  envDir = await mkdtemp(join(tmpdir(), "hexclave-selftest-env-"));
  const envFile = join(envDir, "runtime.env");
  await writeFile(envFile, buildEnvFile(false), { mode: 0o600 });
  await docker(
    "run",
    "-d",
    "--name",
    container,
    "--stop-timeout",
    "60",
    "--env-file",
    envFile,
    "-v",
    `${volume}:/data`,
    ...publish,
    image,
  );
  await mappedPorts();
  timings.firstHealthySeconds = await waitAllHealthy();
  timings.firstRunToHealthySeconds = (Date.now() - t) / 1000;
});

afterAll(async () => {
  console.log("selftest image timings", JSON.stringify(timings));
  await docker("rm", "-f", container).catch(() => {});
  await docker("volume", "rm", "-f", volume).catch(() => {});
  await docker("image", "rm", image).catch(() => {});
  if (envDir !== undefined) await rm(envDir, { recursive: true, force: true });
});

describe("the self-test image", () => {
  it("answers the four exposed health paths with their codes, and 404 elsewhere", async () => {
    for (const e of services.exposed) {
      expect(e.health.expectStatus, e.service).toContain(await statusOf(e.guestPort, e.health.path));
    }
    expect(await statusOf(8101, "/nope")).toBe(404);
    const health = await execIn("hexclave-health");
    expect(health.exitCode, health.stdout).toBe(0);
    // Every service of the profile, in services.json's order, reports ok.
    expect(health.stdout.split("\n").map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(
      services.profiles.selftest.services.map((svc) => `${svc.name} ok`),
    );
  });

  it("keeps the backend's database connection between checks and replaces one PostgreSQL closed", async () => {
    // One statement as the superuser on database postgres (so psql is not one of the backend's connections).
    const asAdmin = async (sql: string) =>
      (
        await execIn("psql", "-h", "/run/postgresql", "-U", "postgres", "-d", "postgres", "-qAt", "-c", sql)
      ).stdout.trim();
    // The backend's connections to its database, as PostgreSQL lists them.
    const backendPids = async () =>
      (
        await asAdmin(
          "SELECT pid FROM pg_stat_activity WHERE datname = 'hexclave' AND backend_type = 'client backend' ORDER BY pid",
        )
      )
        .split("\n")
        .filter(Boolean);
    const check = async () => (await fetch(url(8102, "/health?db=1"), { signal: AbortSignal.timeout(10_000) })).status;
    for (let i = 0; i < 3; i++) expect(await check()).toBe(200);
    const pooled = await backendPids();
    expect(pooled.length).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) expect(await check()).toBe(200);
    expect(await backendPids()).toEqual(pooled);

    const terminated = await asAdmin(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'hexclave'",
    );
    expect(Number(terminated)).toBe(pooled.length);
    // The first check after it answers 200: the closed connection is dropped and the check runs on a new one.
    expect(await check()).toBe(200);
    expect((await fetch(url(8102, "/rows/missing"))).status).toBe(404);
    const renewed = await backendPids();
    expect(renewed.length).toBeGreaterThanOrEqual(1);
    expect(renewed.some((pid) => pooled.includes(pid))).toBe(false);
  });

  it("keeps a row across docker stop and start on the same volume, with a clean PostgreSQL shutdown", async () => {
    const body = `row written at ${new Date().toISOString()} ${randomBytes(8).toString("hex")}`;
    const put = await fetch(url(8102, "/rows/survivor"), { method: "PUT", body });
    expect(put.status).toBe(204);
    expect(await (await fetch(url(8102, "/rows/survivor"))).text()).toBe(body);
    expect((await fetch(url(8102, "/rows/missing"))).status).toBe(404);

    let t = Date.now();
    await docker("stop", "-t", "60", container);
    timings.stopSeconds = (Date.now() - t) / 1000;
    const { stdout: exitCode } = await docker("inspect", "-f", "{{.State.ExitCode}}", container);
    expect(exitCode.trim()).toBe("0");
    const beforeRestart = await logs();
    expect(beforeRestart).toMatch(/received fast shutdown request/);
    expect(beforeRestart).toMatch(/database system is shut down/);
    expect(beforeRestart).toMatch(/all services stopped/);

    t = Date.now();
    await docker("start", container);
    await mappedPorts();
    timings.restartHealthySeconds = await waitAllHealthy();
    timings.restartToHealthySeconds = (Date.now() - t) / 1000;
    expect(await (await fetch(url(8102, "/rows/survivor"))).text()).toBe(body);

    const all = await logs();
    const secondStart = all.slice(all.lastIndexOf("hexclave-entrypoint: profile"));
    expect(secondStart.length).toBeLessThan(all.length);
    expect(secondStart).toMatch(/database system was shut down at/);
    expect(secondStart).not.toMatch(/not properly shut down|automatic recovery|database system was interrupted/);
    expect(secondStart).not.toMatch(/created a new cluster/);
  });

  it("restarts a killed Redis and its health turns green again", async () => {
    const before = (await execIn("cat", "/run/hexclave/pids/redis")).stdout.trim();
    expect(before).toMatch(/^\d+$/);
    const kill = await execIn("pkill", "-KILL", "-x", "redis-server");
    expect(kill.exitCode).toBe(0);

    const started = Date.now();
    let after = "";
    let restarts = "";
    let healthy = false;
    while (Date.now() - started < 60_000) {
      after = (await execIn("cat", "/run/hexclave/pids/redis")).stdout.trim();
      restarts = (await execIn("cat", "/run/hexclave/restarts/redis")).stdout.trim();
      healthy =
        after !== before && after !== "" && (await execIn("hexclave-health", "--quiet", "redis")).exitCode === 0;
      if (healthy) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    timings.redisRecoverySeconds = (Date.now() - started) / 1000;
    expect(healthy).toBe(true);
    expect(after).not.toBe(before);
    expect(Number(restarts)).toBeGreaterThanOrEqual(1);
    expect(await logs()).toMatch(/service redis exited with status \d+; restart 1 in 1s/);
    // The data store is really back: the backend still reads through PostgreSQL, Redis answers.
    expect((await execIn("redis-cli", "-h", "127.0.0.1", "ping")).stdout.trim()).toBe("PONG");
    await waitAllHealthy(30_000);
  });
});
