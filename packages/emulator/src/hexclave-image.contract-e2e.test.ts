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
 * - stop then start resumes, with the same secrets and environment;
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
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, loadProfile } from "@hexclave/image-builder";
import {
  CONTAINER_NAME,
  parseEnvFile,
  RUNTIME_ENV_GUEST_PATH,
  RUNTIME_SECRETS_FILE,
} from "@hexclave/image-builder/image";
import { imagePaths } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHexclaveStandIns } from "#fixtures/docker/hexclave-stand-ins.js";
import { createEmulator, type Emulator, type EmulatorStartResult } from "./emulator.js";

const ports = { dashboard: 28700, backend: 28701, minio: 28702, inbucket: 28703 };
const movedBackend = 28711;
const settings = { arch: "amd64" as const, cpus: 2, memoryMb: 3072, timeoutMs: 20 * 60_000 };

let home: string;
let emulator: Emulator;
const timings: Array<{ step: string; kind: string; ms: number }> = [];

async function start(step: string, p: Record<string, number>): Promise<EmulatorStartResult> {
  const r = await emulator.start({ ...settings, ports: p });
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

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-hexclave-e2e-"));
  const standIns = await ensureHexclaveStandIns();
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
  });
  expect(built).toHaveLength(1);
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
    // wait for an answer in which all are healthy (one from before the last program came up may say otherwise).
    let status = await emulator.status({ arch: "amd64" });
    for (const end = Date.now() + 120_000; Date.now() < end && status.programs?.every((p) => p.healthy) !== true; ) {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      status = await emulator.status({ arch: "amd64" });
    }
    expect(status.health).toBe("healthy");
    expect(status.programs?.map((p) => p.name).sort()).toEqual(profile.services.map((s) => s.name).sort());
    expect(status.programs?.filter((p) => !p.healthy)).toEqual([]);
    expect(status.programs).toHaveLength(13);
  });

  it("stop then start resumes with the same secrets and environment", async () => {
    await emulator.stop();
    const r = await start("resume", ports);
    expect(r.bootKind).toBe("resume");
    expect(await readFile(join(home, RUNTIME_SECRETS_FILE), "utf8")).toBe(secrets);
    expect(await containerEnv("NEXT_PUBLIC_STACK_API_URL")).toBe(`http://localhost:${ports.backend}`);
    expect(await answers(ports.backend, "/health?db=1")).toBe(200);
  });

  it("a moved host port: the resume restarts the container with the new URLs", async () => {
    await emulator.stop();
    const moved = { ...ports, backend: movedBackend };
    const r = await start("resume, backend port moved", moved);
    expect(r.bootKind).toBe("resume");
    expect(await containerEnv("NEXT_PUBLIC_STACK_API_URL")).toBe(`http://localhost:${movedBackend}`);
    expect(await containerEnv("NEXT_PUBLIC_STACK_DASHBOARD_URL")).toBe(`http://localhost:${ports.dashboard}`);
    expect(await answers(movedBackend, "/health?db=1")).toBe(200);
    expect(await readFile(join(home, RUNTIME_SECRETS_FILE), "utf8")).toBe(secrets);
  });
});
