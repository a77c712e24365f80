/**
 * A pulled image starts (issue 9), end to end: the SHARED self-test image is
 * served as a release (pointer + <version>/ files + SHA256SUMS) by the test
 * HTTP server on 127.0.0.1; `stack emulator pull --from http://127.0.0.1:PORT`
 * installs it into a fresh HEXCLAVE_EMULATOR_HOME, `stack emulator start`
 * boots it (one VM boot), the four health paths answer, `stack emulator stop`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imagePaths } from "@hexclave/emulator";
import { readManifest } from "@hexclave/image-builder/image";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultServer, startFaultServer } from "#fixtures/image-builder/fault-server.js";
import { writeRelease } from "#fixtures/image-builder/release-layout.js";
import { selftestImage } from "#fixtures/image-builder/selftest-image.global-setup.js";
import type { CliIo } from "../../cli-io.js";
import { runCli } from "../../run-cli.js";

const VERSION = "emulator-main-20250101-e2e00000";
// Ports of our own, so another package's e2e test on the defaults does not collide.
const ports: Record<string, number> = { dashboard: 28700, backend: 28701, minio: 28702, inbucket: 28703 };
const HEALTH_PATHS: Record<string, string> = {
  dashboard: "/handler/sign-in",
  backend: "/health?db=1",
  minio: "/minio/health/live",
  inbucket: "/",
};

let work: string;
let home: string;
let server: FaultServer;
let started = false;

async function stack(argv: string[]): Promise<{ exit: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: {
      write: (chunk: string) => {
        stdout += chunk;
      },
    },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
      },
    },
    env: {
      ...process.env,
      HEXCLAVE_EMULATOR_HOME: home,
      CI: "1",
      NO_COLOR: "1",
      EMULATOR_DASHBOARD_PORT: String(ports.dashboard),
      EMULATOR_BACKEND_PORT: String(ports.backend),
      EMULATOR_MINIO_PORT: String(ports.minio),
      EMULATOR_INBUCKET_PORT: String(ports.inbucket),
    },
    isTTY: false,
    cwd: work,
    signal: new AbortController().signal,
  };
  const exit = await runCli(argv, io);
  return { exit, stdout, stderr };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hx-pull-e2e-"));
  home = join(work, "home");
  const release = join(work, "release");
  await writeRelease({ root: release, channel: "main", version: VERSION, files: { dir: selftestImage().dir } });
  server = await startFaultServer({ root: release });
});

afterAll(async () => {
  if (started) await stack(["emulator", "stop"]);
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe("stack emulator pull, then start", () => {
  it("pulls the served release into a fresh home, boots it, and all four health paths answer", async () => {
    const pulled = await stack([
      "emulator",
      "pull",
      "--arch",
      "amd64",
      "--from",
      server.url,
      "--allow-insecure-http",
      "--json",
    ]);
    expect(pulled.stderr).not.toMatch(/error/i);
    expect(pulled.exit).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ status: "installed", version: VERSION });
    const manifest = await readManifest(imagePaths(home, "amd64").manifest);
    expect(manifest.image.sha256).toBe((await readManifest(selftestImage().manifest)).image.sha256);
    expect(manifest.source).toMatchObject({ kind: "url", url: server.url, channel: "main", version: VERSION });

    const again = await stack(["emulator", "pull", "--arch", "amd64", "--from", server.url, "--allow-insecure-http"]);
    expect(again.exit).toBe(0);
    expect(again.stdout).toContain("is current");

    const start = await stack([
      "emulator",
      "start",
      "--arch",
      "amd64",
      "--cpus",
      "2",
      "--memory",
      "2048",
      "--timeout",
      "900",
      "--project-dir",
      work,
    ]);
    started = true;
    if (start.exit !== 0) console.log(`[pull e2e] start failed:\n${start.stdout}\n${start.stderr}`);
    expect(start.exit).toBe(0);
    for (const [service, path] of Object.entries(HEALTH_PATHS)) {
      const res = await fetch(`http://127.0.0.1:${ports[service]}${path}`, { signal: AbortSignal.timeout(10_000) });
      expect({ service, status: res.status }).toEqual({ service, status: 200 });
    }

    const stop = await stack(["emulator", "stop"]);
    expect(stop.exit).toBe(0);
    started = false;
  });
});
