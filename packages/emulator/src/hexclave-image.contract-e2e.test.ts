/**
 * The real Hexclave image (issue 13), end to end, with no container registry:
 * `build-image amd64 --profile hexclave` of docker/Dockerfile itself against
 * the offline stand-ins of every upstream image (docker/test-support/
 * hexclave-stand-ins.ts), then the emulator on it, under TCG:
 *
 * - the warm boot runs migrations and seed once (build mode);
 * - first start: cold, the four ports answer, the container got the runtime
 *   environment (host ports in the URLs, this install's keys, migrations
 *   skipped) from fw_cfg, and `status` lists all 13 supervised programs healthy;
 * - `--config-file` round-trips through the backend's own file calls: the
 *   backend stand-in reads stack.config.ts at STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT
 *   + its host path (the file bridge proxy's mirror), writes a change there with
 *   fs.writeFile as upstream's backend does, the mirror sends it to the host
 *   bridge, and `stop` writes it back to the host file;
 * - start then resumes, with the same secrets and environment, and the backend
 *   reads the written-back file;
 * - stop then start with a moved backend port resumes, and the container is
 *   restarted with the new URLs.
 *
 * Cost on a 2-core TCG machine: the stand-ins (cached by content hash, shared
 * with docker/hexclave-contract.integration.test.ts) and the payload build
 * (docker layer cache) first, then one warm boot (docker load of the ~680 MB
 * payload took 280 s here, under a load of 20), compaction, one cold start and
 * two resumes: about 25 minutes. Opt-in (`pnpm test:contract-e2e`, project
 * `contract-e2e`) until its first green run on a clean machine. Run it under
 * `flock /tmp/hexclave-vm.lock` where several people share a machine.
 */
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, loadProfile } from "@hexclave/image-builder";
import {
  CONTAINER_NAME,
  parseEnvFile,
  RUNTIME_ENV_GUEST_PATH,
  RUNTIME_SECRETS_FILE,
} from "@hexclave/image-builder/image";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHexclaveStandIns } from "#fixtures/docker/hexclave-stand-ins.js";
import { createEmulator, type Emulator, type EmulatorStartResult } from "./emulator.js";
import { imagePaths } from "./layout.js";

const ports = { dashboard: 28700, backend: 28701, minio: 28702, inbucket: 28703 };
const movedBackend = 28711;
const settings = { arch: "amd64" as const, cpus: 2, memoryMb: 3072, timeoutMs: 20 * 60_000 };

let home: string;
let emulator: Emulator;
/** The `--config-file` of every start, in a project directory served by the file bridge. */
let projectDir: string;
let configPath: string;
const ORIGINAL_CONFIG = "export const config = { auth: { allowLocalhost: true } };\n";
const BACKEND_CONFIG =
  "export const config = { auth: { allowLocalhost: false }, teams: { createPersonalTeamOnSignUp: true } };\n";
const timings: Array<{ step: string; kind: string; ms: number }> = [];

async function start(step: string, p: Record<string, number>): Promise<EmulatorStartResult> {
  const r = await emulator.start({ ...settings, ports: p, fileBridge: { projectDir, configFile: configPath } });
  timings.push({ step, kind: r.bootKind, ms: r.durationMs });
  if (!r.ready) console.log(`[hexclave e2e] ${step} not ready: ${r.failing.join(", ")}\n${r.serialTail.join("\n")}`);
  expect(r.ready).toBe(true);
  return r;
}

/** Runs a command in the guest through its agent; returns stdout. */
async function guest(path: string, args: readonly string[]): Promise<string> {
  const agent = await emulator.vm.guestAgent({ timeoutMs: 30_000 });
  try {
    const r = await agent.exec(path, args, { timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new Error(`${path} ${args.join(" ")} exited ${String(r.exitCode)}: ${r.stderr}`);
    return r.stdout;
  } finally {
    agent.close();
  }
}

const containerEnv = async (name: string) =>
  (await guest("/usr/bin/docker", ["exec", CONTAINER_NAME, "printenv", name])).trim();

async function answers(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(30_000) })).status;
}

/** The backend stand-in's config-file route: upstream's own read/write file calls (stand-ins/server/apps/backend). */
async function backendConfig(
  port: number,
  method: "GET" | "PUT",
  body?: string,
): Promise<{ status: number; text: string }> {
  const keys = JSON.parse(await readFile(join(home, RUNTIME_SECRETS_FILE), "utf8")) as {
    internalSecretServerKey: string;
  };
  const r = await fetch(
    `http://127.0.0.1:${port}/stand-in/local-emulator/config?path=${encodeURIComponent(configPath)}`,
    {
      method,
      headers: { "x-stack-secret-server-key": keys.internalSecretServerKey },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(30_000),
    },
  );
  return { status: r.status, text: await r.text() };
}

/** What the host bridge holds as `/v1/config`, asked from inside the container through the guest's bridge proxy. */
const hostBridgeConfig = () =>
  guest("/usr/bin/docker", [
    "exec",
    CONTAINER_NAME,
    "sh",
    "-c",
    'curl -sS -H "Authorization: Bearer $(cat /run/hexclave-bridge/token)" http://127.0.0.1:8110/v1/config',
  ]);

/** Polls `read` until it returns `want` (the config mirror works on 0.25 s polls); the last value otherwise. */
async function until<T>(read: () => Promise<T>, want: T, deadlineMs = 60_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last = await read();
  while (last !== want && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 1_000));
    last = await read();
  }
  return last;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-hexclave-e2e-"));
  projectDir = join(await realpath(home), "project");
  configPath = join(projectDir, "stack.config.ts");
  await mkdir(projectDir);
  await writeFile(configPath, ORIGINAL_CONFIG);
  let t = Date.now();
  const standIns = await ensureHexclaveStandIns();
  timings.push({ step: "stand-ins", kind: standIns.built.length > 0 ? "built" : "cached", ms: Date.now() - t });
  t = Date.now();
  const built = await buildImage({
    arch: "amd64",
    profile: "hexclave",
    base: "bootstrap",
    outDir: imagePaths(home, "amd64").dir,
    cpus: 2,
    memoryMb: 3072,
    diskSizeGb: 12,
    deadlineMs: 45 * 60_000,
    buildArgs: standIns.buildArgs,
    onEvent: (e) => {
      if (e.type === "build-stage-done") timings.push({ step: `build: ${e.stage}`, kind: "stage", ms: e.durationMs });
    },
  });
  timings.push({ step: "build-image", kind: "total", ms: Date.now() - t });
  expect(built.images).toHaveLength(1);
  emulator = createEmulator({ home, env: {} });
}, 75 * 60_000);

afterAll(async () => {
  await emulator?.reset({ hard: true }).catch(() => {});
  emulator?.close();
  if (timings.length > 0) console.table(timings);
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

describe("the Hexclave image with stand-ins, in the emulator", () => {
  let secrets = "";

  it("first start: cold, four ports answer, the runtime environment arrived, every program healthy", async () => {
    const r = await start("first start", ports);
    expect(r.bootKind).toBe("cold");
    expect(await answers(ports.dashboard, "/handler/sign-in")).toBe(200);
    expect(await answers(ports.backend, "/health?db=1")).toBe(200);
    expect(await answers(ports.minio, "/minio/health/live")).toBe(200);
    expect(await answers(ports.inbucket, "/")).toBe(200);

    secrets = await readFile(join(home, RUNTIME_SECRETS_FILE), "utf8");
    const keys = JSON.parse(secrets) as { internalPublishableClientKey: string; cronSecret: string };
    const env = parseEnvFile(await guest("/usr/bin/cat", [RUNTIME_ENV_GUEST_PATH]));
    expect(env.get("NEXT_PUBLIC_STACK_API_URL")).toBe(`http://localhost:${ports.backend}`);
    expect(env.get("NEXT_PUBLIC_STACK_DASHBOARD_URL")).toBe(`http://localhost:${ports.dashboard}`);
    expect(env.get("STACK_S3_PUBLIC_ENDPOINT")).toBe(`http://localhost:${ports.minio}/stack-storage`);
    expect(env.get("STACK_SEED_INTERNAL_PROJECT_PUBLISHABLE_CLIENT_KEY")).toBe(keys.internalPublishableClientKey);
    expect(env.get("STACK_SKIP_MIGRATIONS")).toBe("true");
    expect(await containerEnv("NEXT_PUBLIC_BROWSER_STACK_API_URL")).toBe(`http://localhost:${ports.backend}`);
    expect(await containerEnv("CRON_SECRET")).toBe(keys.cronSecret);
    expect(await containerEnv("HEXCLAVE_RUN_BUILD_MIGRATIONS")).toBe("0");
    expect((await guest("/usr/bin/stat", ["-c", "%a", RUNTIME_ENV_GUEST_PATH])).trim()).toBe("600");

    // `status` lists every supervised program of the profile (13), each healthy.
    const profile = await loadProfile("hexclave");
    // The guest checks its programs in the background and `status` reads its last answer (guest-programs.ts):
    // wait for an answer in which all 13 are healthy (one from before the last program came up may say otherwise),
    // printing what each answer said.
    const allHealthy = (s: Awaited<ReturnType<Emulator["status"]>>) =>
      s.programs?.length === 13 && s.programs.every((p) => p.healthy);
    let status = await emulator.status({ arch: "amd64" });
    for (let attempt = 1, end = Date.now() + 300_000; !allHealthy(status) && Date.now() < end; attempt++) {
      console.log(`[hexclave e2e] status attempt ${attempt}: ${JSON.stringify(status.programs ?? null)}`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      status = await emulator.status({ arch: "amd64" });
    }
    console.log(
      `[hexclave e2e] status programs:\n${(status.programs ?? []).map((p) => `  ${p.name} ${p.healthy ? "ok" : "fail"} ${p.detail}`).join("\n")}`,
    );
    expect(status.health).toBe("healthy");
    expect(status.programs?.map((p) => p.name).sort()).toEqual(profile.services.map((s) => s.name).sort());
    expect(status.programs?.filter((p) => !p.healthy)).toEqual([]);
    expect(status.programs).toHaveLength(13);
  });

  it("--config-file round-trips through the backend's own file calls, and stop writes it back", async () => {
    // The backend reads the file where upstream's backend looks: mount root + the host path (the proxy's mirror).
    expect(await containerEnv("STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT")).toBe("/host");
    const read = await until(async () => (await backendConfig(ports.backend, "GET")).text, ORIGINAL_CONFIG);
    expect(read).toBe(ORIGINAL_CONFIG);
    // It writes a change in place (fs.writeFile), as upstream's writeConfigToFile does.
    expect((await backendConfig(ports.backend, "PUT", BACKEND_CONFIG)).status).toBe(204);
    expect(await guest("/usr/bin/docker", ["exec", CONTAINER_NAME, "cat", `/host${configPath}`])).toBe(BACKEND_CONFIG);
    // The mirror sends it to the host bridge; the host file is untouched until stop.
    expect(await until(hostBridgeConfig, BACKEND_CONFIG)).toBe(BACKEND_CONFIG);
    expect(await readFile(configPath, "utf8")).toBe(ORIGINAL_CONFIG);

    const t = Date.now();
    const stopped = await emulator.stop();
    timings.push({ step: "stop", kind: stopped.method, ms: Date.now() - t });
    expect(stopped.suspended).toBe(true);
    expect(stopped.configFile).toEqual({ outcome: "written", hostPath: configPath, backupPath: `${configPath}.bak` });
    expect(await readFile(configPath, "utf8")).toBe(BACKEND_CONFIG);
    expect(await readFile(`${configPath}.bak`, "utf8")).toBe(ORIGINAL_CONFIG);
  });

  it("start resumes with the same secrets and environment; the backend reads the written-back config", async () => {
    // Stopped by the previous test (its stop wrote the config file back).
    const r = await start("resume", ports);
    expect(r.bootKind).toBe("resume");
    expect(await readFile(join(home, RUNTIME_SECRETS_FILE), "utf8")).toBe(secrets);
    expect(await containerEnv("NEXT_PUBLIC_STACK_API_URL")).toBe(`http://localhost:${ports.backend}`);
    expect(await answers(ports.backend, "/health?db=1")).toBe(200);
    expect(await until(async () => (await backendConfig(ports.backend, "GET")).text, BACKEND_CONFIG)).toBe(
      BACKEND_CONFIG,
    );
  });

  it("a moved host port: the resume restarts the container with the new URLs", async () => {
    const t = Date.now();
    const stopped = await emulator.stop();
    timings.push({ step: "stop", kind: stopped.method, ms: Date.now() - t });
    const moved = { ...ports, backend: movedBackend };
    const r = await start("resume, backend port moved", moved);
    expect(r.bootKind).toBe("resume");
    expect(await containerEnv("NEXT_PUBLIC_STACK_API_URL")).toBe(`http://localhost:${movedBackend}`);
    expect(await containerEnv("NEXT_PUBLIC_STACK_DASHBOARD_URL")).toBe(`http://localhost:${ports.dashboard}`);
    expect(await answers(movedBackend, "/health?db=1")).toBe(200);
    expect(await readFile(join(home, RUNTIME_SECRETS_FILE), "utf8")).toBe(secrets);
  });
});
