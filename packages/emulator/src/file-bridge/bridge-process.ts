/**
 * The runtime's side of the detached file bridge process (`bridge-daemon.ts`):
 * bind its socket and launch it before a QEMU spawn (it comes up while QEMU
 * loads), stop it (identity-checked) after QEMU quit, and write the
 * `--config-file` back from what it saved.
 *
 * ```
 * run/<instance>/bridge.fwcfg         port + token for the guest (fw_cfg), 0600
 * run/<instance>/bridge.json          pid + identity, port, project dir, config file state (no token)
 * run/<instance>/bridge-config.guest  the guest's latest config file version, 0600
 * run/<instance>/bridge.log           the process's log (JSON lines, no token)
 * ```
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { open, readFile, realpath, rm, stat } from "node:fs/promises";
import { type AddressInfo, createServer, type Server as NetServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type FwCfgEntry, HexclaveError, isSameProcess } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";
import { sleep } from "../internal/abort.js";
import { BRIDGE_CONFIG_GUEST_FILE, BRIDGE_FW_CFG_FILE, BRIDGE_LOG_FILE, BRIDGE_RECORD_FILE } from "../layout.js";
import { type BridgeDaemonRequest, HANDED_SOCKET_FD, readBridgeRecord } from "./bridge-record.js";
import { generateBridgeToken } from "./bridge-token.js";
import { type ConfigWriteBackResult, configFileSession, writeBackConfigFile } from "./config-file-session.js";
import { FILE_BRIDGE_HOST, listenFailed } from "./file-bridge-server.js";
import { bridgeFwCfgEntry, GUEST_HOST_ADDRESS, writeBridgeFwCfg } from "./fw-cfg.js";

/** File name of the bundled bridge process, beside the package's `dist/index.js`. */
export const BRIDGE_DAEMON_FILE = "file-bridge-daemon.js";
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface BridgeDaemonCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * How to run the bridge process: `node dist/file-bridge-daemon.js` from the
 * built package; from the sources (tests), node strips the TypeScript and a
 * small resolve hook maps `./x.js` imports to `./x.ts` and `@hexclave/*` to
 * the workspace sources.
 */
export function bridgeDaemonCommand(moduleUrl: string = import.meta.url): BridgeDaemonCommand {
  const here = fileURLToPath(moduleUrl);
  if (!here.endsWith(".ts")) return { command: process.execPath, args: [join(dirname(here), BRIDGE_DAEMON_FILE)] };
  const packages = resolve(dirname(here), "../../..");
  const hook = `import { registerHooks } from "node:module";
const packages = ${JSON.stringify(pathToFileURL(packages).href)};
registerHooks({
  resolve(specifier, context, next) {
    const ws = /^@hexclave\\/(qemu-core|cloud-init-gen|image-builder)$/.exec(specifier);
    if (ws) return next(packages + "/" + ws[1] + "/src/index.ts", context);
    try { return next(specifier, context); } catch (error) {
      if (specifier.startsWith(".") && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
      throw error;
    }
  },
});`;
  return {
    command: process.execPath,
    args: [
      "--experimental-transform-types",
      "--no-warnings",
      "--import",
      `data:text/javascript,${encodeURIComponent(hook)}`,
      join(dirname(here), "bridge-daemon.ts"),
    ],
  };
}

export interface BridgeProcessOptions {
  /** The instance's run directory (`run/<instance>`). */
  readonly instanceDir: string;
  /** `--project-dir`: the directory served; default the current directory. */
  readonly projectDir?: string;
  /** `--config-file`: served at `/v1/config`, written back by {@link stopBridgeProcess}. */
  readonly configFile?: string;
  /** `--bridge-writable`: what the guest may write under the project directory (write-scope.ts); default nothing. */
  readonly writable?: readonly string[];
  /** false: no process; `bridge.fwcfg` says "no bridge" (port 00000). Default true. */
  readonly enabled?: boolean;
  /** Host port on 127.0.0.1; default 0 (a free one). */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  /** How to run the process (default {@link bridgeDaemonCommand}). */
  readonly daemon?: BridgeDaemonCommand;
  readonly signal?: AbortSignal;
}

export interface BridgeProcessInfo {
  /** Put this in the VM spec's `fwCfg` (always, also when disabled). */
  readonly fwCfg: FwCfgEntry;
  readonly enabled: boolean;
  readonly pid: number | null;
  readonly port: number | null;
  /** `http://10.0.2.2:<port>` as the guest sees it; null when disabled. */
  readonly guestUrl: string | null;
  /** The real path of the directory served; null when disabled. */
  readonly projectDir: string | null;
  /** The real path of the `--config-file`; null without one. */
  readonly configFile: string | null;
  /** What the guest may write under `projectDir`, relative (`.` for all of it); empty when read-only or disabled. */
  readonly writable: readonly string[];
  /** A bridge of an earlier run that was still recorded: stopped and its config file written back first. */
  readonly previous: BridgeStopResult | null;
}

export interface BridgeStopResult {
  /** A bridge process was running and was stopped. */
  readonly wasRunning: boolean;
  /** The `--config-file` write-back, null when there was no config file. */
  readonly configFile: ConfigWriteBackResult | null;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A bridge process being launched: its socket is bound and `bridge.fwcfg` written, so QEMU may start now. */
export interface LaunchedBridge {
  /** What the start reports (`pid` is the process being started; null when disabled). */
  readonly info: BridgeProcessInfo;
  /**
   * Resolves once the process serves on the socket (connections made before wait in the socket's backlog);
   * rejects with `FILE_BRIDGE_PROCESS_FAILED` (or the process's own code) after leaving nothing running. Never
   * left unhandled: await it, or call {@link LaunchedBridge.abandon}.
   */
  readonly ready: Promise<BridgeProcessInfo>;
  /** Ends a process that is not ready yet (a start that failed before awaiting `ready`); resolves when it is gone. */
  abandon(): Promise<void>;
}

/**
 * Starts the detached bridge process for one instance (after stopping a
 * recorded earlier one) and returns once it listens and `bridge.fwcfg` holds
 * its port and new token. On failure nothing is left running.
 */
export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcessInfo> {
  return (await launchBridgeProcess(options)).ready;
}

/**
 * Binds the bridge's socket on 127.0.0.1 here, writes `bridge.fwcfg` (port and
 * new token), and starts the detached bridge process with the socket handed
 * over as its file descriptor 3: the caller can launch QEMU at once, while the process
 * starts (about the time of a node start), and await `ready` afterwards. A
 * port taken by another process is `FILE_BRIDGE_LISTEN_FAILED` before anything
 * is started, so no port can be lost between choosing it and serving on it.
 */
export async function launchBridgeProcess(options: BridgeProcessOptions): Promise<LaunchedBridge> {
  const { instanceDir } = options;
  const fwCfg = bridgeFwCfgEntry(instanceDir);
  const previous = await stopBridgeProcess(instanceDir);
  const hadPrevious = previous.wasRunning || previous.configFile !== null;
  if (options.enabled === false) {
    if (options.configFile !== undefined) {
      throw emulatorErrors.create(
        "FILE_BRIDGE_OPTION_INVALID",
        "--config-file travels through the file bridge, which is turned off (--no-file-bridge)",
      );
    }
    await writeBridgeFwCfg(instanceDir, null);
    const info: BridgeProcessInfo = {
      fwCfg,
      enabled: false,
      pid: null,
      port: null,
      guestUrl: null,
      projectDir: null,
      configFile: null,
      writable: [],
      previous: hadPrevious ? previous : null,
    };
    return { info, ready: Promise.resolve(info), abandon: async () => {} };
  }
  // Checked here too, so the error comes with its own code rather than from the child.
  const projectDir = await realpath(options.projectDir ?? process.cwd()).catch((error) => {
    throw emulatorErrors.create(
      "FILE_BRIDGE_ROOT_INVALID",
      `The project directory ${options.projectDir ?? process.cwd()} does not exist`,
      { cause: error, details: { root: options.projectDir } },
    );
  });
  if (!(await stat(projectDir)).isDirectory()) {
    throw emulatorErrors.create("FILE_BRIDGE_ROOT_INVALID", `The project directory ${projectDir} is not a directory`);
  }
  const configFile =
    options.configFile === undefined ? undefined : (await configFileSession({ hostPath: options.configFile })).hostPath;

  const token = generateBridgeToken();
  const socket = await bindLoopback(options.port ?? 0);
  const port = (socket.address() as AddressInfo).port;
  let socketOpen = true;
  const closeSocket = () => {
    if (socketOpen) socket.close();
    socketOpen = false;
  };
  const request: BridgeDaemonRequest = {
    instanceDir,
    projectDir,
    ...(configFile === undefined ? {} : { configFile }),
    ...(options.writable === undefined ? {} : { writable: options.writable }),
    port,
    handedSocket: true,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    token,
  };
  const daemon = options.daemon ?? bridgeDaemonCommand();
  let child: ReturnType<typeof spawn>;
  try {
    await writeBridgeFwCfg(instanceDir, { port, token });
    const logFile = await open(join(instanceDir, BRIDGE_LOG_FILE), "a", 0o600);
    try {
      child = spawn(daemon.command, [...daemon.args, "--instance-dir", instanceDir], {
        detached: true,
        stdio: handedStdio(logFile.fd, listeningFd(socket)),
        cwd: projectDir,
        env: process.env,
      });
    } finally {
      await logFile.close();
    }
  } catch (error) {
    closeSocket();
    await writeBridgeFwCfg(instanceDir, null).catch(() => {});
    throw error;
  }
  const failed = (message: string, cause?: unknown) =>
    emulatorErrors.create("FILE_BRIDGE_PROCESS_FAILED", message, {
      ...(cause === undefined ? {} : { cause }),
      details: { log: join(instanceDir, BRIDGE_LOG_FILE) },
    });
  // The process has its own copy of the socket (file descriptor 3): this process's closes, so only the bridge accepts
  // the guest's connections (they wait in the socket's backlog until it serves).
  closeSocket();
  child.stdin?.end(JSON.stringify(request));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const gone = once(child, "exit").catch(() => {});
  const info: BridgeProcessInfo = {
    fwCfg,
    enabled: true,
    pid: child.pid ?? null,
    port,
    guestUrl: `http://${GUEST_HOST_ADDRESS}:${port}`,
    projectDir,
    configFile: configFile ?? null,
    writable: [],
    previous: hadPrevious ? previous : null,
  };
  const abandoned = new AbortController();
  const ready = (async (): Promise<BridgeProcessInfo> => {
    const timeout = AbortSignal.timeout(READY_TIMEOUT_MS);
    const until = AbortSignal.any([timeout, abandoned.signal, ...(options.signal ? [options.signal] : [])]);
    let answer:
      | { type: string; port?: number; pid?: number; writable?: string[]; code?: string; message?: string }
      | undefined;
    try {
      const first = once(lines, "line", { signal: until }).then(([line]) => JSON.parse(String(line)));
      const exited = once(child, "exit", { signal: until }).then(([code]) => ({
        type: "error",
        code: "FILE_BRIDGE_PROCESS_FAILED",
        message: `the file bridge process exited (code ${String(code)}) before it listened`,
      }));
      const spawnError = once(child, "error", { signal: until }).then(([error]) => {
        throw failed(`Cannot run the file bridge process (${daemon.command}): ${(error as Error).message}`, error);
      });
      answer = await Promise.race([first, exited, spawnError]);
    } catch (error) {
      await endChild();
      if (HexclaveError.is(error)) throw error;
      if (options.signal?.aborted) {
        throw emulatorErrors.create("ABORTED", "Starting the file bridge was aborted", { cause: error });
      }
      if (abandoned.signal.aborted) throw failed("The start no longer needs the file bridge", error);
      throw failed(`The file bridge process did not report ready within ${READY_TIMEOUT_MS / 1000} s`, error);
    } finally {
      lines.close();
      child.stdout?.destroy();
    }
    if (answer?.type !== "ready" || typeof answer.port !== "number") {
      await endChild();
      const code = answer?.code;
      const message = `The file bridge did not start: ${answer?.message ?? "no answer"}`;
      if (code !== undefined && code in emulatorErrors.catalogue) {
        throw emulatorErrors.create(code as "FILE_BRIDGE_PROCESS_FAILED", message);
      }
      throw failed(message);
    }
    child.unref();
    return { ...info, writable: answer.writable ?? [] };
  })();
  /** Kills a process that did not get ready, closes the socket, and says "no bridge" to the guest. */
  async function endChild(): Promise<void> {
    closeSocket();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await gone;
    }
    await writeBridgeFwCfg(instanceDir, null).catch(() => {});
  }
  return {
    info,
    ready,
    abandon: async () => {
      abandoned.abort();
      await ready.catch(() => {});
    },
  };
}

/**
 * The file descriptor of a listening server, to hand to a child in its `stdio` (Node documents the descriptor
 * inheritance and `listen({ fd })`, not this accessor: `_handle.fd`, a TCP handle's descriptor on POSIX hosts).
 */
function listeningFd(server: NetServer): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    throw emulatorErrors.create(
      "FILE_BRIDGE_PROCESS_FAILED",
      "The file bridge's listening socket has no file descriptor to hand to its process on this platform",
    );
  }
  return fd;
}

/**
 * The daemon's stdio: a pipe for its request (stdin) and its ready line (stdout), its log as stderr, and the
 * listening socket at {@link HANDED_SOCKET_FD}, where the daemon looks for it.
 */
export function handedStdio(logFd: number, socketFd: number): Array<"pipe" | number> {
  const stdio: Array<"pipe" | number> = ["pipe", "pipe", logFd];
  stdio[HANDED_SOCKET_FD] = socketFd;
  return stdio;
}

/** A listening socket on 127.0.0.1:`port` (0: a free one), or `FILE_BRIDGE_LISTEN_FAILED` naming the port. */
async function bindLoopback(port: number): Promise<NetServer> {
  // Nothing is meant to connect before the socket is handed over (no guest runs yet): such a connection is dropped.
  const server = createServer((connection) => connection.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(listenFailed(port, error)));
    server.listen({ host: FILE_BRIDGE_HOST, port, exclusive: true }, () => resolve());
  });
  return server;
}

/**
 * Stops the instance's recorded bridge process, if it still runs (SIGTERM,
 * then SIGKILL; each signal only after its identity is checked again), resets
 * `bridge.fwcfg` to "no bridge", and writes the `--config-file` back from the
 * guest's saved version. Safe to call when nothing runs. A failed write-back
 * throws `CONFIG_FILE_WRITE_FAILED` and keeps the saved version for a retry.
 */
export async function stopBridgeProcess(
  instanceDir: string,
  options: { readonly timeoutMs?: number } = {},
): Promise<BridgeStopResult> {
  const record = await readBridgeRecord(instanceDir);
  const recordFile = join(instanceDir, BRIDGE_RECORD_FILE);
  const guestFile = join(instanceDir, BRIDGE_CONFIG_GUEST_FILE);
  if (record === undefined) {
    await rm(recordFile, { force: true });
    return { wasRunning: false, configFile: null };
  }
  let wasRunning = false;
  const identity = record.identity;
  if (identity !== undefined && (await isSameProcess(identity))) {
    wasRunning = true;
    process.kill(identity.pid, "SIGTERM");
    const deadline = Date.now() + (options.timeoutMs ?? STOP_TIMEOUT_MS);
    while (Date.now() < deadline && (await isSameProcess(identity))) await sleep(50);
    if (await isSameProcess(identity)) process.kill(identity.pid, "SIGKILL");
  }
  if (await exists(join(instanceDir, BRIDGE_FW_CFG_FILE))) await writeBridgeFwCfg(instanceDir, null);
  let configFile: ConfigWriteBackResult | null = null;
  if (record.configFile !== null) {
    const content = await readFile(guestFile).catch(() => null);
    configFile =
      content === null
        ? { outcome: "unchanged", reason: "guest-unchanged", hostPath: record.configFile.hostPath }
        : await writeBackConfigFile({ ...record.configFile, content });
  }
  await rm(guestFile, { force: true });
  await rm(recordFile, { force: true });
  return { wasRunning, configFile };
}
