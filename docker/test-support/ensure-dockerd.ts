/**
 * Test support: make sure a Docker engine answers on the local socket.
 *
 * `ensureDockerd()` pings `/_ping` on the engine's unix socket (DOCKER_HOST
 * when it is `unix://...`, else /var/run/docker.sock). When nothing answers it
 * spawns `dockerd` detached (its log goes to `<tmpdir>/hexclave-dockerd.log`)
 * and waits until the socket answers, or throws with the log's last lines.
 * Safe to call from many test files at once: a second caller finds the engine
 * the first one started (or waits for it).
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return host.slice("unix://".length);
  return DEFAULT_DOCKER_SOCKET;
}

/** True when the engine on `socketPath` answers `GET /_ping` with 200 within `timeoutMs`. */
export function pingDocker(socketPath: string = dockerSocketPath(), timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(socketPath)) return resolve(false);
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
    req.end();
  });
}

export interface EnsureDockerdOptions {
  readonly socketPath?: string;
  /** How long to wait for a freshly spawned dockerd; default 60 s. */
  readonly timeoutMs?: number;
  readonly dockerdBinary?: string;
}

export interface EnsureDockerdResult {
  readonly socketPath: string;
  /** True when this call spawned dockerd. */
  readonly started: boolean;
}

let pending: Promise<EnsureDockerdResult> | undefined;

export function ensureDockerd(options: EnsureDockerdOptions = {}): Promise<EnsureDockerdResult> {
  pending ??= start(options).finally(() => {
    pending = undefined;
  });
  return pending;
}

async function start(options: EnsureDockerdOptions): Promise<EnsureDockerdResult> {
  const socketPath = options.socketPath ?? dockerSocketPath();
  if (await pingDocker(socketPath)) return { socketPath, started: false };

  const logPath = join(tmpdir(), "hexclave-dockerd.log");
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  // Another process may be starting it right now: give it a few seconds first.
  const graceUntil = Date.now() + 3_000;
  while (Date.now() < graceUntil) {
    if (await pingDocker(socketPath)) return { socketPath, started: false };
    await new Promise((r) => setTimeout(r, 500));
  }

  const log = openSync(logPath, "a");
  try {
    const child = spawn(options.dockerdBinary ?? "dockerd", ["--host", `unix://${socketPath}`], {
      detached: true,
      stdio: ["ignore", log, log],
    });
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    child.unref();
    while (Date.now() < deadline) {
      const failed = await Promise.race([
        spawnError,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 500)),
      ]);
      if (failed) throw new Error(`Could not run dockerd (${failed.message}); install docker.io or start Docker.`);
      if (await pingDocker(socketPath)) return { socketPath, started: true };
      if (child.exitCode !== null) break;
    }
  } finally {
    closeSync(log);
  }
  const tail = existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n") : "";
  throw new Error(`dockerd did not answer on ${socketPath}; last lines of ${logPath}:\n${tail}`);
}
