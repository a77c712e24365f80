import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { QmpClient, type QmpEvent } from "./qmp-client.js";

// A diskless q35 VM under TCG: SeaBIOS waits for a boot device and QMP answers.
let dir: string;
let socket: string;
let qemu: ChildProcess;
let client: QmpClient;

async function connectWithRetry(path: string): Promise<QmpClient> {
  for (let i = 0; ; i++) {
    try {
      return await QmpClient.connect(path, { timeoutMs: 2000 });
    } catch (error) {
      if (i > 50) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-qmp-"));
  socket = join(dir, "qmp.sock");
  qemu = spawn(
    "qemu-system-x86_64",
    ["-machine", "q35", "-accel", "tcg", "-m", "64", "-nodefaults", "-display", "none"].concat([
      "-chardev",
      `socket,id=qmp,path=${socket},server=on,wait=off`,
      "-mon",
      "chardev=qmp,mode=control",
    ]),
    { stdio: "ignore" },
  );
  client = await connectWithRetry(socket);
});

afterAll(async () => {
  client?.close();
  if (qemu && qemu.exitCode === null) {
    const exited = new Promise((r) => qemu.once("exit", r));
    qemu.kill("SIGKILL");
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe("QmpClient against QEMU", () => {
  it("reads the greeting and runs commands", async () => {
    expect(client.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    const status = await client.queryStatus();
    expect(status.status).toBe("running");
    expect(status.running).toBe(true);
    const name = await client.execute<{ name?: string }>("query-name");
    expect(name).toEqual({});
  });

  it("raises a typed error with QEMU's class and description", async () => {
    const error = await client.execute("no-such-command").catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_COMMAND_FAILED")).toBe(true);
    const e = error as { details: Record<string, unknown>; message: string; hint: string };
    expect(e.details.errorClass).toBe("CommandNotFound");
    expect(e.message).toContain("no-such-command");
    expect(e.hint).not.toBe("");
    // The connection stays usable after an error.
    expect((await client.queryStatus()).status).toBe("running");
  });

  it("delivers STOP and RESUME events to waitForEvent and to the async iterator", async () => {
    const seen: string[] = [];
    const ac = new AbortController();
    const collecting = (async () => {
      for await (const e of client.events({ signal: ac.signal })) {
        seen.push(e.event);
        if (e.event === "RESUME") break;
      }
    })();
    const stopped = client.waitForEvent("STOP", { timeoutMs: 5000 });
    await client.stop();
    const stopEvent: QmpEvent = await stopped;
    expect(stopEvent.event).toBe("STOP");
    expect(stopEvent.timestamp.seconds).toBeGreaterThan(0);
    expect((await client.queryStatus()).status).toBe("paused");
    const resumed = client.waitForEvent("RESUME", { timeoutMs: 5000 });
    await client.cont();
    await resumed;
    await collecting;
    ac.abort();
    expect(seen).toEqual(["STOP", "RESUME"]);
  });

  it("times out waiting for an event that never comes", async () => {
    const error = await client.waitForEvent("SHUTDOWN", { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_TIMEOUT")).toBe(true);
  });

  it("raises an HMP reply whose text is an error", async () => {
    expect(await client.humanMonitorCommand("info status")).toContain("running");
    // No drive can hold a snapshot: savevm "succeeds" with an error text.
    const error = await client.humanMonitorCommand("savevm x").catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_COMMAND_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/snapshot/i);
  });

  it("reports a failed snapshot job with the job's error", async () => {
    const error = await client
      .snapshotSave("s1", { devices: ["nonexistent"], timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_COMMAND_FAILED")).toBe(true);
    expect((error as Error).message).toContain("nonexistent");
    expect(await client.queryJobs()).toEqual([]); // dismissed
  });

  it("refuses to connect where nothing listens, and names the socket", async () => {
    const error = await QmpClient.connect(join(dir, "nothing.sock"), { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_CONNECT_FAILED")).toBe(true);
    expect((error as Error).message).toContain("nothing.sock");
  });

  it("a second client times out while the first holds the socket", async () => {
    const error = await QmpClient.connect(socket, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_CONNECT_FAILED")).toBe(true);
  });

  it("fails pending and later commands with QMP_DISCONNECTED once QEMU quits", async () => {
    const shutdown = client.waitForEvent("SHUTDOWN", { timeoutMs: 5000 });
    await client.quit();
    expect((await shutdown).data.reason).toBe("host-qmp-quit");
    await new Promise((r) => setTimeout(r, 200));
    const error = await client.queryStatus().catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QMP_DISCONNECTED")).toBe(true);
    expect(client.connected).toBe(false);
  });
});
