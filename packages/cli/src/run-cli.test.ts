/**
 * The error boundary and the status contract, in-process. The emulator
 * runtime is image-builder's (not landed in this package's tests), so these
 * tests give runCli a small runtime object that returns documents the way
 * the real one must; the built binary is tested in cli.integration.test.ts.
 */
import { HexclaveError } from "@hexclave/qemu-core";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import statusSchema from "../schemas/status.schema.json" with { type: "json" };
import type { CliIo } from "./cli-io.js";
import type { EmulatorRuntime } from "./emulator-runtime.js";
import { runCli } from "./run-cli.js";
import type { StatusReport } from "./status-report.js";

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

const report = (health: StatusReport["health"]): StatusReport => ({
  schemaVersion: 1,
  health,
  vm: {
    state: health === "stopped" ? "stopped" : health === "crashed" ? "crashed" : "running",
    pid: health === "stopped" ? null : 4242,
    arch: "amd64",
    accelerator: health === "stopped" ? null : "tcg",
    acceleratorReason: health === "stopped" ? null : "kvm unusable: /dev/kvm does not exist",
    cpus: 4,
    memoryMb: 4096,
    uptimeSeconds: health === "stopped" ? null : 12.5,
  },
  image: {
    path: "/tmp/hexclave-test-home/images/stack-emulator-amd64.qcow2",
    present: true,
    version: "main-20250102-abcdef12",
    sha256: "a".repeat(64),
    source: "build",
  },
  lastStart: health === "stopped" ? null : { mode: "cold", reason: "no snapshot yet", at: "2025-01-02T03:04:05.000Z" },
  services: (["dashboard", "backend", "minio", "inbucket"] as const).map((name, i) => ({
    name,
    url: `http://127.0.0.1:${26700 + i}`,
    up: health === "healthy" || (health === "degraded" && name !== "minio"),
    lastCheck: health === "stopped" ? null : "2025-01-02T03:04:06.000Z",
    ...(health === "degraded" && name === "minio" ? { detail: "connection refused" } : {}),
  })),
  home: "/tmp/hexclave-test-home",
});

function runtimeWith(overrides: Partial<EmulatorRuntime>): () => Promise<EmulatorRuntime> {
  const missing = () => Promise.reject(new Error("not used in this test"));
  return async () => ({
    start: missing,
    stop: missing,
    reset: missing,
    status: missing,
    logs: missing,
    bench: missing,
    pull: missing,
    ...overrides,
  });
}

describe("status: exit codes and the JSON schema", () => {
  it.each([
    ["healthy", 0],
    ["degraded", 3],
    ["stopped", 4],
    ["crashed", 1],
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

  it("without an installed runtime, runtime commands say so (exit 1)", async () => {
    const stream = io();
    const exit = await runCli(["emulator", "stop"], stream, {
      loadRuntime: async () => {
        throw new HexclaveError("RUNTIME_UNAVAILABLE", "The emulator runtime is not part of this build");
      },
    });
    expect(exit).toBe(1);
    expect(stream.err()).toContain("error RUNTIME_UNAVAILABLE");
  });
});
