import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { acquireLock, type LockRecord, readLockHolder } from "./file-lock.js";

const workerFile = fileURLToPath(new URL("../test-support/lock-race-worker.ts", import.meta.url));
/** Node strips the TypeScript; the hook maps the sources' `./x.js` imports to `./x.ts`. */
const hook = `import { registerHooks } from "node:module";
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (error) {
      if (specifier.startsWith(".") && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
      throw error;
    }
  },
});`;

interface Worker {
  readonly child: ChildProcess;
  readonly lines: Interface;
  ask(line: string): Promise<string>;
}

function startWorker(): Worker {
  const child = spawn(
    process.execPath,
    [
      "--experimental-transform-types",
      "--no-warnings",
      "--import",
      `data:text/javascript,${encodeURIComponent(hook)}`,
      workerFile,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  return {
    child,
    lines,
    ask(line) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin!.write(`${line}\n`);
      });
    },
  };
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once("exit", resolve));
  worker.child.kill("SIGKILL");
  await exited;
}

/** The lock text of a holder that is gone: a pid whose process has another identity (or none). */
function staleRecord(round: number): string {
  const record: LockRecord = {
    pid: process.pid,
    identity: { pid: process.pid, startTime: "0", cmdline: ["gone", String(round)] },
    hostname: hostname(),
    purpose: "crashed",
    acquiredAt: new Date(0).toISOString(),
    token: `stale-${round}`,
  };
  return `${JSON.stringify(record)}\n`;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-file-lock-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("acquireLock", () => {
  it("never lets two processes hold one lock while 3-8 of them take over a stale lock at once (200 rounds)", async () => {
    const workers = Array.from({ length: 8 }, startWorker);
    try {
      const lock = join(dir, "race", "lock");
      const inside = join(dir, "race", "inside");
      await acquireLock(lock).then((held) => held.release()); // creates the directory
      let doubles = 0;
      let acquisitions = 0;
      const errors: string[] = [];
      for (let round = 0; round < 200; round++) {
        await writeFile(lock, staleRecord(round));
        const count = 3 + (round % 6);
        const answers = await Promise.all(workers.slice(0, count).map((w) => w.ask(`race ${lock} ${inside}`)));
        doubles += answers.filter((a) => a === "double").length;
        errors.push(...answers.filter((a) => a.startsWith("error")));
        acquisitions += answers.filter((a) => a === "ok" || a === "double").length;
      }
      // Every worker of every round answered (none hung, none refused).
      expect(acquisitions).toBe(Array.from({ length: 200 }, (_, r) => 3 + (r % 6)).reduce((a, b) => a + b, 0));
      expect({ doubles, errors }).toEqual({ doubles: 0, errors: [] });
      expect(await readLockHolder(lock)).toBeUndefined();
      // No takeover marker is left behind.
      expect((await readdir(join(dir, "race"))).filter((n) => n.includes("takeover"))).toEqual([]);
    } finally {
      await Promise.all(workers.map(stopWorker));
    }
  }, 600_000); // 30-60 s on a loaded 2-core machine: a generous deadline, no timing asserted

  it("does not take over a stopped (SIGSTOP) holder, and takes over a dead one", async () => {
    const lock = join(dir, "stopped", "lock");
    const worker = startWorker();
    try {
      expect(await worker.ask(`hold ${lock}`)).toBe("held");
      worker.child.kill("SIGSTOP");
      const refused = await acquireLock(lock, { waitMs: 300, pollMs: 50 }).catch((e: unknown) => e);
      expect(qemuErrors.is(refused, "LOCK_HELD")).toBe(true);
      expect((refused as Error).message).toContain(`pid ${worker.child.pid}`);
      expect((await readLockHolder(lock))?.live).toBe(true);
      worker.child.kill("SIGCONT");
    } finally {
      await stopWorker(worker);
    }
    const held = await acquireLock(lock);
    expect(JSON.parse(await readFile(lock, "utf8")).pid).toBe(process.pid);
    await held.release();
  });

  it("counts a holder on another host as live", async () => {
    const lock = join(dir, "remote", "lock");
    await acquireLock(lock).then((held) => held.release());
    const record: LockRecord = { pid: 1, hostname: `not-${hostname()}`, purpose: "pull", acquiredAt: "", token: "x" };
    await writeFile(lock, JSON.stringify(record));
    const error = await acquireLock(lock).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "LOCK_HELD")).toBe(true);
    expect((error as Error).message).toContain(`on host not-${hostname()}`);
  });

  it("knows when it lost the lock, and then leaves the new holder's lock alone", async () => {
    const lock = join(dir, "lost", "lock");
    const held = await acquireLock(lock);
    await held.assertHeld();
    await writeFile(lock, staleRecord(-1));
    const error = await held.assertHeld().catch((e: unknown) => e);
    expect(qemuErrors.is(error, "LOCK_LOST")).toBe(true);
    await held.release();
    expect(await readFile(lock, "utf8")).toBe(staleRecord(-1));
  });
});
