/**
 * arm64 on this amd64 host, end to end, with the BUILT `stack` binary: only
 * with `pnpm test:cross-arch` (hours under TCG on 2 cores), never in `pnpm
 * test`. After `bash scripts/setup.sh` alone:
 *  1. `build-image arm64 --profile selftest --base bootstrap` (mmdebstrap of
 *     two arm64 trees under qemu-user, the payload built for linux/arm64, the
 *     warm boot under qemu-system-aarch64);
 *  2. `EMULATOR_ARCH=arm64 stack emulator start` to the four ports answering,
 *     `stop` (suspend), `start` again (a resume) to the four ports, `stop`;
 *  3. `build-image arm64 --profile selftest --base cloud --cloud-url <stand-in>`
 *     (AAVMF boot of the cloud-layout disk) and a start of it to the four ports.
 * Prints the time of every step and every build stage.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { imagePaths } from "@hexclave/emulator";
import { manifestFileName } from "@hexclave/image-builder/image";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CloudImageHost, startCloudImageHost } from "#fixtures/image-builder/cloud-image-host.js";
import { fourPortStatuses } from "#fixtures/image-builder/four-ports.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/cli/dist/bin.js");
const ports = { dashboard: 28720, backend: 28721, minio: 28722, inbucket: 28723 };

let work: string;
const timings: Array<{ step: string; seconds: number }> = [];

function env(home: string): Record<string, string> {
  return {
    HEXCLAVE_EMULATOR_HOME: home,
    CI: "1",
    NO_COLOR: "1",
    EMULATOR_ARCH: "arm64",
    EMULATOR_CPUS: "2",
    EMULATOR_RAM_MB: "3072",
    EMULATOR_DASHBOARD_PORT: String(ports.dashboard),
    EMULATOR_BACKEND_PORT: String(ports.backend),
    EMULATOR_MINIO_PORT: String(ports.minio),
    EMULATOR_INBUCKET_PORT: String(ports.inbucket),
  };
}

/** Runs `stack ...` to its end, timed; its output is kept for the failure message. */
async function stack(step: string, home: string, args: string[], timeoutHours = 3) {
  const started = Date.now();
  const r = await execa("node", [bin, ...args], {
    reject: false,
    env: env(home),
    extendEnv: true,
    timeout: timeoutHours * 3_600_000,
    all: true,
  });
  timings.push({ step, seconds: Math.round((Date.now() - started) / 1000) });
  if (r.exitCode !== 0) console.log(`[cross-arch] ${step} exited ${r.exitCode}:\n${r.all?.slice(-6000)}`);
  expect({ step, exitCode: r.exitCode }).toEqual({ step, exitCode: 0 });
  return r;
}

async function fourPortsAnswer(): Promise<void> {
  expect(await fourPortStatuses(ports)).toEqual({ dashboard: 200, backend: 200, minio: 200, inbucket: 200 });
}

async function recordBuildStages(home: string, label: string): Promise<void> {
  const manifest = JSON.parse(
    await readFile(join(imagePaths(home, "arm64").dir, manifestFileName("arm64")), "utf8"),
  ) as { durations: Record<string, number> };
  for (const [stage, ms] of Object.entries(manifest.durations))
    timings.push({ step: `  ${label} ${stage}`, seconds: Math.round(ms / 1000) });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hx-cross-arch-"));
});

afterAll(async () => {
  console.table(timings);
  await rm(work, { recursive: true, force: true });
});

describe("arm64 on an amd64 host", () => {
  it("builds the self-test image from the bootstrap base, starts it to the four ports, stops and resumes it", async () => {
    const home = join(work, "bootstrap");
    await stack("build-image arm64 --profile selftest --base bootstrap", home, [
      "build-image",
      "arm64",
      "--profile",
      "selftest",
      "--base",
      "bootstrap",
    ]);
    await recordBuildStages(home, "bootstrap build:");
    await stack("emulator start (cold)", home, ["emulator", "start", "--no-file-bridge"], 1);
    await fourPortsAnswer();
    await stack("emulator stop (suspend)", home, ["emulator", "stop"], 1);
    const resumed = await stack("emulator start (resume)", home, ["emulator", "start", "--no-file-bridge"], 1);
    expect(resumed.all).toMatch(/resum/i);
    await fourPortsAnswer();
    await stack("emulator stop", home, ["emulator", "stop"], 1);
  });

  it("builds it from the cloud base served by the stand-in host and starts it to the four ports", async () => {
    const home = join(work, "cloud");
    let host: CloudImageHost | undefined;
    try {
      const started = Date.now();
      host = await startCloudImageHost(["arm64"], { log: (line) => console.log(`[cloud stand-in] ${line}`) });
      timings.push({
        step: "stand-in arm64 disk (cached after the first run)",
        seconds: Math.round((Date.now() - started) / 1000),
      });
      await stack("build-image arm64 --profile selftest --base cloud", home, [
        "build-image",
        "arm64",
        "--profile",
        "selftest",
        "--base",
        "cloud",
        "--cloud-url",
        host.latestUrl,
      ]);
      await recordBuildStages(home, "cloud build:");
      await stack("emulator start (cold, cloud image)", home, ["emulator", "start", "--no-file-bridge"], 1);
      await fourPortsAnswer();
      await stack("emulator stop", home, ["emulator", "stop", "--no-snapshot"], 1);
    } finally {
      await host?.close();
    }
  });
});
