/**
 * A cross-process file lock: `open(path, O_CREAT|O_EXCL)` holding
 * `{pid, hostname, createdAt}`. The holder touches the file while it holds the
 * lock; a lock whose holder is a dead process on this host, or whose file has
 * not been touched for `staleMs`, is taken over.
 */
import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, rm, stat, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { imageBuilderErrors } from "../errors-data.js";

export interface FileLockOptions {
  readonly signal?: AbortSignal | undefined;
  /** Give up waiting after this long (default: wait as long as the holder lives). */
  readonly timeoutMs?: number | undefined;
  /** A lock not touched for this long is stale (default 60 s; the holder touches it every staleMs/4). */
  readonly staleMs?: number | undefined;
  readonly pollMs?: number | undefined;
  /** Called once when the lock is held by someone else and we start waiting. */
  readonly onWait?: ((holder: string) => void) | undefined;
}

export interface FileLock {
  readonly path: string;
  release(): Promise<void>;
}

interface LockContent {
  readonly pid: number;
  readonly hostname: string;
  readonly createdAt: string;
  readonly token: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readLock(path: string): Promise<{ content: LockContent | undefined; raw: string; mtimeMs: number }> {
  const [raw, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
  let content: LockContent | undefined;
  try {
    content = JSON.parse(raw) as LockContent;
  } catch {
    content = undefined;
  }
  return { content, raw, mtimeMs: info.mtimeMs };
}

/** Why a lock is stale, or undefined when its holder may still be working. */
export function staleReason(
  content: LockContent | undefined,
  ageMs: number,
  staleMs: number,
  here: { hostname: string; alive: (pid: number) => boolean },
): string | undefined {
  if (content !== undefined && content.hostname === here.hostname && !here.alive(content.pid)) {
    return `process ${content.pid} is gone`;
  }
  if (ageMs > staleMs) return `not touched for ${Math.round(ageMs / 1000)} s`;
  return undefined;
}

/** Takes over a stale lock atomically: rename it aside, and put it back if it changed meanwhile. */
async function breakStaleLock(path: string, raw: string): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch {
    return; // someone else took it over first
  }
  const now = await readFile(aside, "utf8").catch(() => raw);
  if (now !== raw) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}

export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<FileLock> {
  const staleMs = options.staleMs ?? 60_000;
  const pollMs = options.pollMs ?? 200;
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  const content: LockContent = {
    pid: process.pid,
    hostname: hostname(),
    createdAt: new Date().toISOString(),
    token: randomBytes(8).toString("hex"),
  };
  let waiting = false;
  for (;;) {
    if (options.signal?.aborted) {
      throw imageBuilderErrors.create("ABORTED", `Aborted while waiting for the lock ${path}`, {
        cause: options.signal.reason,
      });
    }
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(JSON.stringify(content));
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = "unknown";
    try {
      const current = await readLock(path);
      holder = current.content === undefined ? "unknown" : `pid ${current.content.pid} on ${current.content.hostname}`;
      const reason = staleReason(current.content, Date.now() - current.mtimeMs, staleMs, {
        hostname: content.hostname,
        alive: processAlive,
      });
      if (reason !== undefined) {
        await breakStaleLock(path, current.raw);
        continue;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
      throw error;
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.(holder);
    }
    if (deadline !== undefined && Date.now() > deadline) {
      throw imageBuilderErrors.create("DOWNLOAD_LOCK_TIMEOUT", `The lock ${path} is held by ${holder}`, {
        details: { lockPath: path, holder },
      });
    }
    await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
  }
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    },
    Math.max(50, Math.floor(staleMs / 4)),
  );
  heartbeat.unref();
  return {
    path,
    async release() {
      clearInterval(heartbeat);
      const raw = await readFile(path, "utf8").catch(() => undefined);
      if (raw !== undefined && raw === JSON.stringify(content)) await rm(path, { force: true });
    },
  };
}
