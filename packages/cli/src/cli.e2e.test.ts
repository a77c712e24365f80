/**
 * The BUILT `stack` binary against a real VM under TCG (issues 7 and 8): every
 * command is a child process (`node packages/cli/dist/bin.js ...`) with real
 * arguments, exit codes and output, on the SHARED self-test image (linked into
 * a temp HEXCLAVE_EMULATOR_HOME) and host ports of our own (28710-28713).
 *
 * One VM at a time, in order; two short boots that are interrupted on purpose
 * and one full cold boot, then resumes:
 *  1. start A (cold); while it waits, a second start is refused and status
 *     says `starting` (exit 3); Ctrl-C (SIGINT) of A stops the VM it
 *     launched: no QEMU is left, status says stopped (exit 4);
 *  2. start C; `stop --no-snapshot` while it waits ends C with a clear message;
 *  3. start E boots cold to healthy, with live progress and the four URLs;
 *     status (text, JSON valid against the schema) exit 0, naming the cold
 *     boot and its reason; start again is a no-op; logs --serial, --services,
 *     --serial --follow ended by Ctrl-C;
 *  4. stop suspends; stop again is a no-op; a port held by this test process
 *     makes start fail naming the port and its holder;
 *  5. start resumes (fast); status says resume; reset --yes; stop is a no-op.
 *
 * Needs `pnpm --filter @hexclave/image-builder build` and
 * `pnpm --filter @hexclave/cli build` first (the binary imports image-builder's dist).
 */
import { existsSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { imagePaths } from "@hexclave/emulator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selftestImage } from "#fixtures/image-builder/selftest-image.global-setup.js";
import statusSchema from "../schemas/status.schema.json" with { type: "json" };

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/cli/dist/bin.js");
const ports = { dashboard: 28710, backend: 28711, minio: 28712, inbucket: 28713 };
const HEALTH_PATHS = {
  dashboard: "/handler/sign-in",
  backend: "/health?db=1",
  minio: "/minio/health/live",
  inbucket: "/",
} as const;

const ajv = new Ajv2020.default({ allErrors: true, strict: true });
addFormats.default(ajv);
const validateStatus = ajv.compile(statusSchema);

let home: string;
const timings: Record<string, number> = {};

function env(): Record<string, string> {
  return {
    HEXCLAVE_EMULATOR_HOME: home,
    CI: "1",
    NO_COLOR: "1",
    EMULATOR_ARCH: "amd64",
    EMULATOR_CPUS: "2",
    EMULATOR_RAM_MB: "2048",
    EMULATOR_DASHBOARD_PORT: String(ports.dashboard),
    EMULATOR_BACKEND_PORT: String(ports.backend),
    EMULATOR_MINIO_PORT: String(ports.minio),
    EMULATOR_INBUCKET_PORT: String(ports.inbucket),
  };
}

/** Runs `stack ...` to its end. */
function stack(args: string[], timeoutMs = 120_000) {
  return execa("node", [bin, ...args], { reject: false, env: env(), extendEnv: true, timeout: timeoutMs });
}

/** A `stack ...` left running, with its stderr collected and awaitable by pattern. */
const backgroundOptions = (timeoutMs: number) =>
  ({ reject: false, env: env(), extendEnv: true, timeout: timeoutMs }) as const;

interface Background {
  readonly child: ResultPromise<ReturnType<typeof backgroundOptions>>;
  stderr(): string;
  waitForStderr(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

function background(args: string[], timeoutMs = 1_200_000): Background {
  const child = execa("node", [bin, ...args], backgroundOptions(timeoutMs));
  let err = "";
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return {
    child,
    stderr: () => err,
    async waitForStderr(pattern, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = err.match(pattern);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`never saw ${pattern} in the stderr of stack ${args.join(" ")}:\n${err}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  };
}

/** Pids of processes whose command line names our home: the QEMU of this instance, if any. */
async function qemuPids(): Promise<number[]> {
  const result = await execa("pgrep", ["-f", `qemu-system.*${home}`], { reject: false });
  return result.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(Number);
}

async function statusJson() {
  const result = await stack(["emulator", "status", "--json"]);
  const document = JSON.parse(result.stdout);
  expect(validateStatus(document), JSON.stringify(validateStatus.errors)).toBe(true);
  return { exit: result.exitCode, document, stderr: result.stderr };
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run pnpm --filter @hexclave/cli build first`);
  home = await mkdtemp(join(tmpdir(), "hx-cli-e2e-"));
  const shared = selftestImage();
  const dest = imagePaths(home, "amd64");
  await mkdir(dest.dir, { recursive: true });
  for (const key of ["image", "manifest", "kernel", "initrd"] as const) {
    if (existsSync(shared[key])) await linkOrCopy(shared[key], dest[key]);
  }
});

afterAll(async () => {
  await stack(["emulator", "stop", "--no-snapshot"]).catch(() => {});
  // Anything still running from this home was started by this file: end it by its pid.
  for (const pid of home === undefined ? [] : await qemuPids()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  if (Object.keys(timings).length > 0) console.table(timings);
  if (home !== undefined) await rm(home, { recursive: true, force: true });
});

describe("stack emulator against a real VM under TCG", () => {
  it("a second start while the first is booting is refused; status says starting; Ctrl-C stops the VM it launched", async () => {
    const first = background(["emulator", "start"]);
    const [, qemuPid] = await first.waitForStderr(/QEMU up \(pid (\d+)\)/, 180_000);
    expect(await qemuPids()).toEqual([Number(qemuPid)]);

    const second = await stack(["emulator", "start"]);
    expect(second.exitCode).toBe(1);
    expect(second.stdout).toBe("");
    expect(second.stderr).toContain(
      `error EMULATOR_START_IN_PROGRESS: Another start of this emulator is in progress (pid ${first.child.pid}`,
    );
    expect(second.stderr).toMatch(/hint: Wait for it .*Ctrl-C in its terminal, or `stack emulator stop`/);
    expect(second.stderr).not.toMatch(/\n\s+at /);

    const starting = await statusJson();
    expect(starting.exit).toBe(3);
    expect(starting.document).toMatchObject({ health: "degraded", vm: { state: "starting", pid: Number(qemuPid) } });

    first.child.kill("SIGINT");
    const interrupted = await first.child;
    expect(interrupted.exitCode).toBe(130);
    expect(interrupted.stderr).toContain("Interrupted: stopping the VM this start launched");
    expect(interrupted.stderr).toContain("interrupted:");
    expect(interrupted.stderr).not.toMatch(/\n\s+at /);
    expect(await qemuPids()).toEqual([]);
    const after = await statusJson();
    expect(after.exit).toBe(4);
    expect(after.document).toMatchObject({ health: "stopped", vm: { state: "stopped", pid: null } });
  });

  it("stop while a start is waiting stops the VM and ends that start with a clear message", async () => {
    const waiting = background(["emulator", "start"]);
    await waiting.waitForStderr(/cold boot: the last start was interrupted/, 60_000);
    await waiting.waitForStderr(/QEMU up/, 180_000);
    const stop = await stack(["emulator", "stop", "--no-snapshot"]);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/^Emulator stopped in .*The next start is a cold boot\.$/);
    const ended = await waiting.child;
    expect(ended.exitCode).toBe(1);
    expect(ended.stderr).toMatch(
      /error EMULATOR_STOPPED_DURING_START: The emulator was stopped by another command .* while this start waited for its services/,
    );
    expect(ended.stderr).toContain("hint: ");
    expect(ended.stderr).not.toMatch(/\n\s+at /);
    expect(await qemuPids()).toEqual([]);
  });

  it("start boots cold with live progress and ends with the four URLs; status, no-op start and logs", async () => {
    const began = Date.now();
    const start = await stack(["emulator", "start", "--timeout", "900"], 1_000_000);
    timings["cold start (s)"] = Math.round((Date.now() - began) / 1000);
    if (start.exitCode !== 0) console.log(`[cli e2e] cold start failed:\n${start.stdout}\n${start.stderr}`);
    expect(start.exitCode).toBe(0);
    // Progress on stderr, as plain timestamped lines (CI): accelerator and why, boot, each service, ready.
    expect(start.stderr).toMatch(/^\d\d:\d\d:\d\d accelerator: tcg \(.+\)$/m);
    expect(start.stderr).toMatch(/cold boot: the last stop saved no state/);
    expect(start.stderr).toMatch(/QEMU up \(pid \d+\) after /);
    for (const [service, port] of Object.entries(ports)) {
      expect(start.stderr).toMatch(new RegExp(`${service} up after [^\\n]+ {2}http://127\\.0\\.0\\.1:${port}`));
    }
    expect(start.stderr).toMatch(/all services healthy after /);
    expect(start.stderr).toMatch(/snapshot "fresh" saved/);
    expect(start.stdout).toMatch(/^Emulator ready in .* \(cold boot: .*; accelerator tcg\)\./);
    for (const port of Object.values(ports)) expect(start.stdout).toContain(`http://127.0.0.1:${port}`);
    for (const [service, path] of Object.entries(HEALTH_PATHS)) {
      const res = await fetch(`http://127.0.0.1:${ports[service as keyof typeof ports]}${path}`);
      expect({ service, status: res.status }).toEqual({ service, status: 200 });
    }

    const text = await stack(["emulator", "status"]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain("emulator: running, all services healthy");
    expect(text.stdout).toMatch(/accel: {4}tcg \(.+\)/);
    expect(text.stdout).toMatch(/started: {2}cold boot at \S+: the last stop saved no state/);
    expect(text.stdout).toMatch(/up {3}backend {4}http:\/\/127\.0\.0\.1:28711/);

    const json = await statusJson();
    expect(json.exit).toBe(0);
    expect(json.stderr).toBe("");
    expect(json.document).toMatchObject({
      schemaVersion: 1,
      health: "healthy",
      vm: { state: "running", arch: "amd64", accelerator: "tcg", cpus: 2, memoryMb: 2048 },
      image: { present: true },
      lastStart: { kind: "cold", accel: "tcg" },
      snapshots: ["fresh"],
    });
    expect(json.document.services.every((s: { up: boolean }) => s.up)).toBe(true);

    const again = await stack(["emulator", "start"]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("The emulator is already running and healthy; nothing was started.");

    const serial = await stack(["emulator", "logs", "--serial"]);
    expect(serial.exitCode).toBe(0);
    expect(serial.stdout).toMatch(/hexclave-emulator login:/);
    const services = await stack(["emulator", "logs", "--services"]);
    expect(services.exitCode, services.stderr).toBe(0);
    expect(services.stdout.trim().split("\n").length).toBeGreaterThan(0);

    const follow = background(["emulator", "logs", "--serial", "--follow"]);
    let out = "";
    follow.child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    // Whole lines stream while following; the unfinished last line (the login prompt) comes at the end.
    for (let i = 0; i < 100 && !/Debian GNU\/Linux 13/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toMatch(/Debian GNU\/Linux 13/);
    follow.child.kill("SIGINT");
    const followed = await follow.child;
    expect(followed.exitCode).toBe(0);
    expect(out).toMatch(/login:/);
  });

  it("stop suspends; stop again is a no-op; a port held by another process is named with its holder", async () => {
    const stop = await stack(["emulator", "stop"]);
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/its state is saved: the next start resumes it/);
    expect(await qemuPids()).toEqual([]);
    const noop = await stack(["emulator", "stop"]);
    expect(noop.exitCode).toBe(0);
    expect(noop.stdout).toBe("The emulator is not running; nothing to stop.");
    const stopped = await statusJson();
    expect(stopped.exit).toBe(4);
    expect(stopped.document.snapshots).toEqual(expect.arrayContaining(["suspend", "fresh"]));

    const held: Server = createServer();
    await new Promise<void>((resolve) => held.listen(ports.backend, "127.0.0.1", resolve));
    try {
      const refused = await stack(["emulator", "start"]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toMatch(
        new RegExp(`error PORT_IN_USE: Port ${ports.backend}/tcp on 127\\.0\\.0\\.1 is in use, .*${process.pid}`),
      );
      expect(refused.stderr).toContain(`hint: Stop pid ${process.pid}`);
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      expect(await qemuPids()).toEqual([]);
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
  });

  it("start resumes the saved state; status says so; reset --yes; stop is then a no-op", async () => {
    const began = Date.now();
    const start = await stack(["emulator", "start", "--json"], 600_000);
    timings["resume start (s)"] = Math.round((Date.now() - began) / 1000);
    expect(start.exitCode, start.stderr).toBe(0);
    const result = JSON.parse(start.stdout);
    expect(result).toMatchObject({ ready: true, bootKind: "resume", snapshot: "suspend" });
    expect(result.reason).toMatch(/resuming the state saved at stop/);
    timings["resume all-healthy (ms since QEMU spawned)"] = result.phases["all-healthy"];

    const status = await stack(["emulator", "status"]);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/started: {2}resumed at \S+: resuming the state saved at stop/);

    const reset = await stack(["emulator", "reset", "--yes"]);
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.stdout).toBe("Stopped the emulator. Data reset: the next start resumes the fresh state.");
    expect(await qemuPids()).toEqual([]);
    const after = await statusJson();
    expect(after.exit).toBe(4);
    expect(after.document).toMatchObject({ resetPending: true, snapshots: ["fresh"] });

    const stop = await stack(["emulator", "stop"]);
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toContain("nothing to stop");
  });
});
