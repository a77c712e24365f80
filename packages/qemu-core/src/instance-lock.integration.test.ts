import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { acquireInstanceLock } from "./instance-lock.js";
import { isProcessAlive, isSameProcess, readProcessIdentity } from "./process-identity.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-lock-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("process identity", () => {
  it("identifies a live process by start time and command line", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const id = await readProcessIdentity(child.pid!);
      expect(id?.cmdline).toEqual(["sleep", "30"]);
      expect(id?.startTime).toMatch(/\S/);
      expect(await isSameProcess(id!)).toBe(true);
      expect(await isSameProcess({ ...id!, startTime: "1" })).toBe(false);
      expect(await isProcessAlive(child.pid!)).toBe(true);
    } finally {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
    expect(await readProcessIdentity(child.pid!)).toBeUndefined();
  });
});

describe("acquireInstanceLock", () => {
  it("is exclusive, names the holder, and is released", async () => {
    const path = join(dir, "a", "lock");
    const lock = await acquireInstanceLock(path, { purpose: "start" });
    const error = await acquireInstanceLock(path).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "INSTANCE_LOCKED")).toBe(true);
    expect((error as Error).message).toContain(`pid ${process.pid}`);
    expect((error as { details: { command: string } }).details.command).toContain("node");
    await lock.release();
    const again = await acquireInstanceLock(path);
    await again.release();
  });

  it("names another live process holding the lock", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const identity = await readProcessIdentity(child.pid!);
      const path = join(dir, "b-lock");
      await writeFile(path, JSON.stringify({ pid: child.pid, identity, purpose: "stop", acquiredAt: "now" }));
      const error = await acquireInstanceLock(path).catch((e: unknown) => e);
      expect(qemuErrors.is(error, "INSTANCE_LOCKED")).toBe(true);
      expect((error as Error).message).toContain(`pid ${child.pid}`);
      expect((error as Error).message).toContain("sleep 30");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("takes over a stale lock: dead owner, reused pid, or junk", async () => {
    const dead = spawn("true");
    await new Promise((r) => dead.once("exit", r));
    const self = await readProcessIdentity(process.pid);
    const cases = [
      { pid: dead.pid, purpose: "start", acquiredAt: "then" },
      // Our pid, but recorded with another start time: a reused pid.
      { pid: process.pid, identity: { ...self!, startTime: "1" }, purpose: "start", acquiredAt: "then" },
    ];
    for (const [i, c] of cases.entries()) {
      const path = join(dir, `stale-${i}`);
      await writeFile(path, JSON.stringify(c));
      const lock = await acquireInstanceLock(path);
      expect(JSON.parse(await readFile(path, "utf8")).pid).toBe(process.pid);
      await lock.release();
    }
    const junk = join(dir, "junk-lock");
    await writeFile(junk, "garbage");
    await (await acquireInstanceLock(junk)).release();
  });
});
