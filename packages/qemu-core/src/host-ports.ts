/**
 * Host port checks: a port is free when we can really bind it (no guessing
 * from `netstat`). A taken port is reported with the process holding it:
 * on Linux by mapping the socket inode from `/proc/net/tcp{,6}` (or udp) to a
 * `/proc/<pid>/fd` link, on macOS through `lsof`.
 */
import { createSocket } from "node:dgram";
import { readdir, readFile, readlink } from "node:fs/promises";
import { createServer } from "node:net";
import { type CommandRunner, execaRunner } from "./command-runner.js";
import { qemuErrors } from "./errors-data.js";
import { readProcessIdentity } from "./process-identity.js";

export type PortProtocol = "tcp" | "udp";

/** A port to check: a number (TCP on the default host) or a full description. */
export type PortRequest = number | { readonly port: number; readonly protocol?: PortProtocol; readonly host?: string };

/** Who holds a port, when it can be found. */
export interface PortHolder {
  readonly pid: number;
  /** The holder's command line, joined with spaces. */
  readonly command: string;
}

export interface PortCheckOptions {
  /** Used on macOS for `lsof`. */
  readonly runner?: CommandRunner;
  readonly platform?: NodeJS.Platform;
}

/**
 * Binds each port (then releases it) and throws `PORT_IN_USE` for the first
 * taken one, naming the port, the process holding it (pid and command) when
 * it can be found, and all other taken ports in `details.taken`.
 */
export async function checkPortsFree(
  ports: readonly PortRequest[],
  host = "127.0.0.1",
  options: PortCheckOptions = {},
): Promise<void> {
  const taken: { port: number; protocol: PortProtocol; host: string; holder?: PortHolder; reason: string }[] = [];
  for (const request of ports) {
    const r = typeof request === "number" ? { port: request } : request;
    const protocol = r.protocol ?? "tcp";
    const bindHost = r.host ?? host;
    if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
      throw qemuErrors.create("INVALID_ARGUMENT", `Port ${JSON.stringify(r.port)} is not a port number`, {
        hint: "Use an integer from 1 to 65535.",
        details: { port: r.port },
      });
    }
    const reason = await tryBind(r.port, bindHost, protocol);
    if (reason === undefined) continue;
    const holder = await findPortHolder(r.port, protocol, options);
    taken.push({ port: r.port, protocol, host: bindHost, reason, ...(holder ? { holder } : {}) });
  }
  const first = taken[0];
  if (!first) return;
  const who = first.holder ? `held by pid ${first.holder.pid} (${first.holder.command})` : `(${first.reason})`;
  const others =
    taken.length > 1
      ? `; also taken: ${taken
          .slice(1)
          .map((t) => t.port)
          .join(", ")}`
      : "";
  throw qemuErrors.create(
    "PORT_IN_USE",
    `Port ${first.port}/${first.protocol} on ${first.host} is in use, ${who}${others}`,
    {
      hint: first.holder
        ? `Stop pid ${first.holder.pid} (${first.holder.command.split(" ")[0]}), or move the port with its environment variable.`
        : "Stop the process holding it, or move the port with its environment variable.",
      details: {
        port: first.port,
        protocol: first.protocol,
        host: first.host,
        pid: first.holder?.pid,
        command: first.holder?.command,
        taken: taken.map((t) => ({
          port: t.port,
          protocol: t.protocol,
          pid: t.holder?.pid,
          command: t.holder?.command,
        })),
      },
    },
  );
}

/** Resolves with undefined when `port` could be bound (and was released), else with the bind error text. */
function tryBind(port: number, host: string, protocol: PortProtocol): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (protocol === "udp") {
      const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
      sock.once("error", (e: NodeJS.ErrnoException) => {
        sock.close();
        resolve(e.code ?? e.message);
      });
      sock.bind({ port, address: host, exclusive: true }, () => sock.close(() => resolve(undefined)));
      return;
    }
    const server = createServer();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Finds the process holding a local port, or undefined when it cannot be told (other user, other namespace). */
export async function findPortHolder(
  port: number,
  protocol: PortProtocol = "tcp",
  options: PortCheckOptions = {},
): Promise<PortHolder | undefined> {
  const platform = options.platform ?? process.platform;
  if (platform === "linux") return findLinuxHolder(port, protocol);
  const runner = options.runner ?? execaRunner;
  const args = ["-nP", protocol === "tcp" ? `-iTCP:${port}` : `-iUDP:${port}`, "-Fpc"];
  if (protocol === "tcp") args.splice(2, 0, "-sTCP:LISTEN");
  const result = await runner("lsof", args).catch(() => undefined);
  if (!result || result.exitCode !== 0) return undefined;
  return parseLsofHolder(result.stdout);
}

/** Parses `lsof -F pc` output: the first `p<pid>` and its `c<command>`. Pure. */
export function parseLsofHolder(text: string): PortHolder | undefined {
  let pid: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("p") && pid === undefined) pid = Number(line.slice(1));
    else if (line.startsWith("c") && pid !== undefined) return { pid, command: line.slice(1) };
  }
  return pid !== undefined && Number.isInteger(pid) ? { pid, command: "" } : undefined;
}

/**
 * Socket inodes bound to `port` in a `/proc/net/{tcp,tcp6,udp,udp6}` table,
 * listening sockets first. Pure.
 */
export function parseProcNetInodes(table: string, port: number): string[] {
  const listening: string[] = [];
  const other: string[] = [];
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const state = f[3];
    const inode = f[9];
    if (!local || !inode || inode === "0") continue;
    const hexPort = local.slice(local.lastIndexOf(":") + 1);
    if (Number.parseInt(hexPort, 16) !== port) continue;
    (state === "0A" ? listening : other).push(inode);
  }
  return [...listening, ...other];
}

async function findLinuxHolder(port: number, protocol: PortProtocol): Promise<PortHolder | undefined> {
  const inodes: string[] = [];
  for (const table of protocol === "tcp" ? ["tcp", "tcp6"] : ["udp", "udp6"]) {
    const text = await readFile(`/proc/net/${table}`, "utf8").catch(() => "");
    inodes.push(...parseProcNetInodes(text, port));
  }
  if (inodes.length === 0) return undefined;
  const wanted = new Set(inodes.map((i) => `socket:[${i}]`));
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      if (wanted.has(target)) {
        const identity = await readProcessIdentity(Number(pid));
        return { pid: Number(pid), command: identity?.cmdline.join(" ") ?? "" };
      }
    }
  }
  return undefined;
}
