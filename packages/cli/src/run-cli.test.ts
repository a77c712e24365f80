/**
 * The error boundary, the status contract and how each command shows the
 * runtime's results, in-process: runCli gets a small object in place of
 * image-builder's emulator, returning documents of the runtime's types. The
 * built binary against a real VM is tested in cli.e2e.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imagePaths } from "@hexclave/emulator";
import { HexclaveError } from "@hexclave/qemu-core";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import statusSchema from "../schemas/status.schema.json" with { type: "json" };
import type { CliDeps } from "./cli-deps.js";
import type { CliIo } from "./cli-io.js";
import type { EmulatorRuntime, EmulatorStartResult, EmulatorStatus } from "./emulator-runtime.js";
import { runCli } from "./run-cli.js";

const ajv = new Ajv2020.default({ allErrors: true, strict: true });
addFormats.default(ajv);
const validateStatus = ajv.compile(statusSchema);

function io(env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: {
      write: (c: string) => {
        out += c;
      },
    },
    stderr: {
      write: (c: string) => {
        err += c;
      },
    },
    env: { HEXCLAVE_EMULATOR_HOME: "/tmp/hexclave-test-home", ...env },
    isTTY: false,
    cwd: "/tmp",
    signal: new AbortController().signal,
    out: () => out,
    err: () => err,
  };
}

/** These tests' cwd (/tmp) is no project: it is shared only when named (project-dir.integration.test.ts covers the refusal). */
const SHARE_TMP = ["--project-dir", "/tmp"];

const report = (health: EmulatorStatus["health"]): EmulatorStatus => ({
  health,
  vm: {
    state:
      health === "stopped" ? "stopped" : health === "crashed" ? "crashed" : health === "broken" ? "broken" : "running",
    failure:
      health === "broken"
        ? "QEMU paused the VM in run state internal-error (the accelerator could not run the guest); QEMU said: KVM internal error. Suberror: 1; emulation failure"
        : null,
    pid: health === "stopped" ? null : 4242,
    arch: "amd64",
    accelerator: health === "stopped" ? null : "tcg",
    acceleratorReason: health === "stopped" ? null : "kvm unusable: /dev/kvm does not exist",
    cpus: 4,
    memoryMb: 4096,
    uptimeSeconds: health === "stopped" ? null : 12.5,
    guestNetwork: health === "stopped" ? null : { mode: "isolated", reach: [3000] },
  },
  image: {
    path: "/tmp/hexclave-test-home/images/stack-emulator-amd64.qcow2",
    present: true,
    version: "main-20250102-abcdef12",
    sha256: "a".repeat(64),
    source: "build",
  },
  lastStart:
    health === "stopped"
      ? null
      : {
          kind: "resume",
          snapshot: "suspend",
          reason: "resuming the state saved at stop (2025-01-02T03:00:00.000Z)",
          at: "2025-01-02T03:04:05.000Z",
          accel: "tcg",
          accelReason: "kvm unusable: /dev/kvm does not exist",
        },
  snapshots: ["fresh"],
  resetPending: false,
  services: (["dashboard", "backend", "minio", "inbucket"] as const).map((name, i) => ({
    name,
    url: `http://127.0.0.1:${26700 + i}`,
    up: health === "healthy" || (health === "degraded" && name !== "minio"),
    detail: health === "degraded" && name === "minio" ? "connection refused" : "got 200",
    lastCheck: health === "stopped" ? null : "2025-01-02T03:04:06.000Z",
  })),
  programs:
    health === "stopped"
      ? null
      : [
          {
            name: "postgres",
            healthy: true,
            detail: "pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -> status 0",
            checkedAt: "2025-01-02T03:04:01.000Z",
          },
          {
            name: "minio",
            healthy: health !== "degraded",
            detail: "GET :9090/minio/health/live -> 200 (want 200)",
            checkedAt: "2025-01-02T03:04:01.000Z",
          },
        ],
  home: "/tmp/hexclave-test-home",
});

function runtimeWith(overrides: Partial<EmulatorRuntime>): CliDeps["loadRuntime"] {
  const missing = () => {
    throw new Error("not used in this test");
  };
  return async () => ({
    start: missing,
    stop: missing,
    reset: missing,
    status: missing,
    logs: missing,
    close: () => {},
    ...overrides,
  });
}

describe("status: exit codes and the JSON schema", () => {
  it.each([
    ["healthy", 0],
    ["degraded", 3],
    ["stopped", 4],
    ["crashed", 1],
    ["broken", 1],
  ] as const)(
    "%s -> exit %i, JSON valid against status.schema.json, stdout only the document",
    async (health, code) => {
      const stream = io();
      const exit = await runCli(["emulator", "status", "--json"], stream, {
        loadRuntime: runtimeWith({ status: async () => report(health) }),
      });
      expect(exit).toBe(code);
      const document = JSON.parse(stream.out());
      expect(validateStatus(document), JSON.stringify(validateStatus.errors)).toBe(true);
      expect(stream.err()).toBe("");
    },
  );

  it("status of a broken VM says so and why, in text and in JSON", async () => {
    const text = io();
    expect(
      await runCli(["emulator", "status"], text, {
        loadRuntime: runtimeWith({ status: async () => report("broken") }),
      }),
    ).toBe(1);
    expect(text.out()).toContain("broken: QEMU holds the VM in an error state");
    expect(text.out()).toContain("failure:  QEMU paused the VM in run state internal-error");
    const json = io();
    await runCli(["emulator", "status", "--json"], json, {
      loadRuntime: runtimeWith({ status: async () => report("broken") }),
    });
    expect(JSON.parse(json.out()).vm).toMatchObject({
      state: "broken",
      failure: expect.stringContaining("KVM internal error"),
    });
  });

  it("the schema rejects a document that breaks the contract", () => {
    expect(validateStatus({ ...report("healthy"), health: "not running" })).toBe(false);
    expect(validateStatus({ ...report("healthy"), services: [] })).toBe(false);
  });

  it("text output lists each service and says degraded, never 'not running'", async () => {
    const stream = io();
    const exit = await runCli(["emulator", "status"], stream, {
      loadRuntime: runtimeWith({ status: async () => report("degraded") }),
    });
    expect(exit).toBe(3);
    expect(stream.out()).toContain("emulator: degraded");
    expect(stream.out()).toMatch(/down minio\s+http:\/\/127\.0\.0\.1:26702 {2}connection refused/);
    // The supervised programs in the guest, as its health tool reports them.
    expect(stream.out()).toContain(
      "programs: 1 of 2 healthy (in the guest's container)  checked 2025-01-02T03:04:01.000Z",
    );
    expect(stream.out()).toMatch(/fail minio\s+GET :9090\/minio\/health\/live/);
  });

  it("running, no programs answer from the guest yet: says so, and the JSON has programs null", async () => {
    const notYet = { ...report("healthy"), programs: null };
    const text = io();
    expect(
      await runCli(["emulator", "status"], text, { loadRuntime: runtimeWith({ status: async () => notYet }) }),
    ).toBe(0);
    expect(text.out()).toContain("programs: not checked yet (the guest checks them in the background");
    const json = io();
    expect(
      await runCli(["emulator", "status", "--json"], json, {
        loadRuntime: runtimeWith({ status: async () => notYet }),
      }),
    ).toBe(0);
    expect(validateStatus(JSON.parse(json.out()))).toBe(true);
    expect(JSON.parse(json.out()).programs).toBeNull();
  });
});

describe("the error boundary", () => {
  it("prints a HexclaveError's code, message and hint, exit 1, no stack", async () => {
    const stream = io();
    const error = new HexclaveError("INSTANCE_LOCKED", "Another stack command is starting this emulator (pid 77)", {
      hint: "Wait for it, or stop it with `stack emulator stop`.",
    });
    const exit = await runCli(["emulator", "stop"], stream, {
      loadRuntime: runtimeWith({ stop: () => Promise.reject(error) }),
    });
    expect(exit).toBe(1);
    expect(stream.err()).toBe(
      "error INSTANCE_LOCKED: Another stack command is starting this emulator (pid 77)\nhint: Wait for it, or stop it with `stack emulator stop`.\n",
    );
    expect(stream.out()).toBe("");
  });

  it("with --json also writes one error document on stdout", async () => {
    const stream = io();
    const error = new HexclaveError("PORT_IN_USE", "Port 26701/tcp on 127.0.0.1 is in use", { hint: "Move it." });
    await runCli(["emulator", "stop", "--json"], stream, {
      loadRuntime: runtimeWith({ stop: () => Promise.reject(error) }),
    });
    expect(JSON.parse(stream.out())).toEqual({
      error: { code: "PORT_IN_USE", message: "Port 26701/tcp on 127.0.0.1 is in use", hint: "Move it." },
    });
  });

  it("an unexpected error: short message and a please-report hint; the stack only with HEXCLAVE_DEBUG=1", async () => {
    const boom = () => Promise.reject(new TypeError("cannot read properties of undefined"));
    const quiet = io();
    expect(await runCli(["emulator", "stop"], quiet, { loadRuntime: runtimeWith({ stop: boom }) })).toBe(1);
    expect(quiet.err()).toContain("error: unexpected failure: cannot read properties of undefined");
    expect(quiet.err()).toContain("please report it");
    expect(quiet.err()).not.toMatch(/\n\s+at /);
    const debug = io({ HEXCLAVE_DEBUG: "1" });
    await runCli(["emulator", "stop"], debug, { loadRuntime: runtimeWith({ stop: boom }) });
    expect(debug.err()).toMatch(/\n\s+at /);
  });

  it("a cancelled command exits 130", async () => {
    const controller = new AbortController();
    const stream = { ...io(), signal: controller.signal };
    const exit = await runCli(["emulator", "stop"], stream, {
      loadRuntime: runtimeWith({
        stop: async () => {
          controller.abort();
          throw new HexclaveError("ABORTED", "stop was cancelled");
        },
      }),
    });
    expect(exit).toBe(130);
  });
});

/** A home with an (empty) installed image file, as `start` and `bench` check before calling the runtime. */
async function homeWithImage(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), "stack-run-cli-"));
  const paths = imagePaths(home, "amd64");
  await mkdir(paths.dir, { recursive: true });
  await writeFile(paths.image, "");
  return home;
}

const startResult = (over: Partial<EmulatorStartResult>): EmulatorStartResult => ({
  alreadyRunning: false,
  ready: true,
  bootKind: "cold",
  reason: "first start: a new overlay on the base image (no saved state yet)",
  accel: "tcg",
  accelReason: "kvm unusable",
  arch: "amd64",
  cpus: 2,
  memoryMb: 2048,
  durationMs: 95_000,
  phases: { "qemu-up": 300, "all-healthy": 94_000 },
  services: report("healthy").services,
  failing: [],
  serialTail: [],
  stoppedAfterFailure: false,
  ...over,
});

describe("the runtime's results as the commands show them", () => {
  it("status text says whether the last start resumed or booted cold, and why", async () => {
    const stream = io();
    const exit = await runCli(["emulator", "status"], stream, {
      loadRuntime: runtimeWith({ status: async () => report("healthy") }),
    });
    expect(exit).toBe(0);
    expect(stream.out()).toContain(
      "started:  resumed at 2025-01-02T03:04:05.000Z: resuming the state saved at stop (2025-01-02T03:00:00.000Z)",
    );
    expect(stream.out()).toContain("saved:    fresh");
  });

  it("status --json without an image still lists the four services (down), valid against the schema, exit 4", async () => {
    const stream = io({ EMULATOR_MINIO_PORT: "36702" });
    const stopped = { ...report("stopped"), image: { ...report("stopped").image, present: false }, services: [] };
    const exit = await runCli(["emulator", "status", "--json"], stream, {
      loadRuntime: runtimeWith({ status: async () => stopped }),
    });
    expect(exit).toBe(4);
    const document = JSON.parse(stream.out());
    expect(validateStatus(document), JSON.stringify(validateStatus.errors)).toBe(true);
    expect(document.services.map((s: { name: string; url: string }) => [s.name, s.url])).toEqual([
      ["dashboard", "http://127.0.0.1:26700"],
      ["backend", "http://127.0.0.1:26701"],
      ["minio", "http://127.0.0.1:36702"],
      ["inbucket", "http://127.0.0.1:26703"],
    ]);
  });

  it("start passes flags and environment to the runtime, shows its progress on stderr and ends with the four URLs", async () => {
    const home = await homeWithImage();
    try {
      const stream = io({ HEXCLAVE_EMULATOR_HOME: home, EMULATOR_BACKEND_PORT: "36701", EMULATOR_NO_SNAPSHOT: "1" });
      let seen: unknown;
      const exit = await runCli(
        ["emulator", "start", "--arch", "amd64", "--cpus", "2", "--memory", "2048", "--timeout", "600", ...SHARE_TMP],
        stream,
        {
          loadRuntime: runtimeWith({
            start: async (options) => {
              seen = { ...options, signal: undefined, onEvent: undefined };
              options?.onEvent?.({ type: "accelerator", accel: "tcg", reason: "kvm unusable: no /dev/kvm" });
              options?.onEvent?.({
                type: "service-health",
                service: "backend",
                up: true,
                url: "http://127.0.0.1:36701",
                detail: "got 200",
                elapsedMs: 61_000,
              });
              return startResult({});
            },
          }),
        },
      );
      expect(exit).toBe(0);
      expect(seen).toEqual({
        arch: "amd64",
        cpus: 2,
        memoryMb: 2048,
        ports: { dashboard: 26700, backend: 36701, minio: 26702, inbucket: 26703 },
        timeoutMs: 600_000,
        noSnapshot: true,
        accel: "auto",
        stopOnFailure: false,
        // The file bridge (issue 10): on by default, serving the current directory.
        fileBridge: { enabled: true, projectDir: "/tmp", writable: [] },
        // The guest network (issue 15): isolated by default.
        guestNetwork: { mode: "isolated", reach: [] },
        signal: undefined,
        onEvent: undefined,
      });
      expect(stream.err()).toMatch(/^\d\d:\d\d:\d\d accelerator: tcg \(kvm unusable: no \/dev\/kvm\)$/m);
      expect(stream.err()).toMatch(/backend up after 1 min 1 s {2}http:\/\/127\.0\.0\.1:36701/);
      expect(stream.out()).toContain("Emulator ready in 1 min 35 s (cold boot: first start");
      expect(stream.out()).toContain("  Backend    http://127.0.0.1:36701");
      expect(stream.out()).toContain("  Inbucket   http://127.0.0.1:26703");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("start: not ready within the deadline prints the failing services and the serial tail, exit 1", async () => {
    const home = await homeWithImage();
    try {
      const stream = io({ HEXCLAVE_EMULATOR_HOME: home });
      const services = report("degraded").services;
      const exit = await runCli(["emulator", "start", "--arch", "amd64", ...SHARE_TMP], stream, {
        loadRuntime: runtimeWith({
          start: async () =>
            startResult({ ready: false, services, failing: ["minio"], serialTail: ["[  12.0] minio: bad config"] }),
        }),
      });
      expect(exit).toBe(1);
      expect(stream.out()).toBe("");
      expect(stream.err()).toMatch(/minio {6}http:\/\/127\.0\.0\.1:26702 {2}connection refused/);
      expect(stream.err()).not.toMatch(/backend {4}http/);
      expect(stream.err()).toContain("  [  12.0] minio: bad config");
      expect(stream.err()).toContain("the VM is still running for inspection");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("start on a running, healthy emulator is a no-op that says so; --json prints only the result", async () => {
    const home = await homeWithImage();
    try {
      const running = runtimeWith({
        start: async () => startResult({ alreadyRunning: true, bootKind: "none", durationMs: 40 }),
      });
      const text = io({ HEXCLAVE_EMULATOR_HOME: home });
      expect(await runCli(["emulator", "start", "--arch", "amd64", ...SHARE_TMP], text, { loadRuntime: running })).toBe(
        0,
      );
      expect(text.out()).toContain("already running and healthy; nothing was started");
      const json = io({ HEXCLAVE_EMULATOR_HOME: home });
      expect(
        await runCli(["emulator", "start", "--arch", "amd64", "--json", ...SHARE_TMP], json, { loadRuntime: running }),
      ).toBe(0);
      expect(JSON.parse(json.out())).toMatchObject({ alreadyRunning: true, ready: true, bootKind: "none" });
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("logs --follow prints lines until Ctrl-C, then exits 0", async () => {
    const controller = new AbortController();
    const stream = { ...io(), signal: controller.signal };
    const exit = await runCli(["emulator", "logs", "--follow"], stream, {
      loadRuntime: runtimeWith({
        logs: (options) =>
          (async function* () {
            expect(options).toMatchObject({ source: "serial", follow: true });
            yield "Booting Linux";
            yield "login:";
            controller.abort();
            throw new HexclaveError("ABORTED", "aborted");
          })(),
      }),
    });
    expect(exit).toBe(0);
    expect(stream.out()).toBe("Booting Linux\nlogin:\n");
  });

  it("bench: whole commands through the stack runner, --json document and the tables", async () => {
    const home = await homeWithImage();
    try {
      const calls: { args: string; env: Record<string, string | undefined> }[] = [];
      const startMs: Record<string, number> = { cold: 90_000, resume: 1_500, fresh: 2_000 };
      let next: "cold" | "resume" | "fresh" = "cold";
      const stackCommand: CliDeps["stackCommand"] = (options) => async (args, env) => {
        const merged = { ...options.env, ...env };
        calls.push({ args: args.join(" "), env: merged });
        const done = (exitCode: number, wholeMs: number, stdout = "", stderr = "") => ({
          exitCode,
          wholeMs,
          stdout,
          stderr,
        });
        switch (args[0]) {
          case "status":
            return done(calls.some((c) => c.args.startsWith("start")) ? 0 : 4, 400, "{}");
          case "start": {
            const kind = next;
            next = "cold";
            const allHealthy = startMs[kind]!;
            const phases = { "qemu-up": 100, "guest-booted": allHealthy / 2, "all-healthy": allHealthy };
            const bootKind = kind === "cold" ? "cold" : "resume";
            return done(0, allHealthy + 1000, JSON.stringify({ accel: "tcg", bootKind, phases }));
          }
          case "stop":
            if (args.includes("--no-snapshot")) return done(0, 3000);
            next = "resume";
            return done(0, 22_000, "{}", "- snapshot done in 21.9 s (suspend (469 MiB of state))\n");
          case "reset":
            next = args.includes("--hard") ? "cold" : "fresh";
            return done(0, 900, "{}");
          default:
            throw new Error(`unexpected ${args.join(" ")}`);
        }
      };
      const json = io({ HEXCLAVE_EMULATOR_HOME: home });
      const argv = ["emulator", "bench", "--runs", "1", "--configs", "default,2x2048", "--json"];
      expect(await runCli(argv, json, { stackCommand })).toBe(0);
      expect(calls.map((c) => c.args)).toEqual(
        [1, 2].flatMap(() => [
          "reset --hard --yes --json",
          "status --json",
          "start --json",
          "status --json",
          "stop --json",
          "start --json",
          "reset --yes --json",
          "start --json",
        ]),
      );
      expect(calls[8]?.env).toMatchObject({
        EMULATOR_CPUS: "2",
        EMULATOR_RAM_MB: "2048",
        HEXCLAVE_EMULATOR_HOME: home,
      });
      const document = JSON.parse(json.out());
      expect(document).toMatchObject({ schemaVersion: 2, accel: "tcg", runs: 1 });
      expect(
        document.configs[0].samples.map((x: { step: string; bootKind?: string }) => `${x.step} ${x.bootKind ?? ""}`),
      ).toEqual([
        "status-stopped ",
        "start-cold cold",
        "status-running ",
        "stop-suspend ",
        "start-resume resume",
        "reset ",
        "start-after-reset resume",
      ]);
      const [defaults, small] = document.summary;
      expect(defaults.label).toBe("default (4 CPUs, 4096 MB)");
      expect(small).toMatchObject({ cpus: 2, memoryMb: 2048 });
      expect(small.whole["start-cold"].median).toBe(91_000);
      expect(small.whole["reset-to-healthy"].median).toBe(3_900);
      expect(small.save).toEqual({
        ms: { min: 21_900, median: 21_900, max: 21_900, count: 1 },
        bytes: { min: 469 * 2 ** 20, median: 469 * 2 ** 20, max: 469 * 2 ** 20, count: 1 },
      });
      expect(small.coldResumeRatioFromSpawn).toBe(60);
      const text = io({ HEXCLAVE_EMULATOR_HOME: home });
      expect(await runCli(["emulator", "bench", "--runs", "1"], text, { stackCommand })).toBe(0);
      expect(text.out()).toMatch(/^start \(cold boot\) +1 +1 min 31 s/m);
      expect(text.out()).toContain("suspend save (inside stop): 21.9 s for 469 MiB of state (median)");
      expect(text.out()).toContain("cold / resume: 36.4x (whole command), 60.0x (QEMU spawn to all healthy)");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("bench: a failing command stops the bench with its exit code and stderr", async () => {
    const home = await homeWithImage();
    try {
      const stackCommand: CliDeps["stackCommand"] = () => async (args) =>
        args[0] === "start"
          ? { exitCode: 1, wholeMs: 5, stdout: "", stderr: "error: the guest did not boot\n" }
          : { exitCode: args[0] === "status" ? 4 : 0, wholeMs: 5, stdout: "{}", stderr: "" };
      const stream = io({ HEXCLAVE_EMULATOR_HOME: home });
      expect(await runCli(["emulator", "bench", "--runs", "1"], stream, { stackCommand })).toBe(1);
      expect(stream.err()).toContain("`stack emulator start --json` exited with 1:\nerror: the guest did not boot");
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it.each([
    [["--configs", "2x"], /--configs must be a comma-separated list/],
    [["--configs", "2x128"], /--configs must be/],
    [["--report", "bench.txt"], /--report names an HTML file/],
  ])("bench %j is a usage error", async (flags, message) => {
    const stream = io();
    expect(await runCli(["emulator", "bench", ...flags], stream)).toBe(2);
    expect(stream.err()).toMatch(message);
  });
});
