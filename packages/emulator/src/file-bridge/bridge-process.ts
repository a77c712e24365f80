/**
 * The runtime's side of the detached file bridge process (`bridge-daemon.ts`):
 * start it before a QEMU spawn, stop it (identity-checked) after QEMU quit,
 * and write the `--config-file` back from what it saved.
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
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type FwCfgEntry, HexclaveError, isSameProcess } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";
import { sleep } from "../internal/abort.js";
import { BRIDGE_CONFIG_GUEST_FILE, BRIDGE_FW_CFG_FILE, BRIDGE_LOG_FILE, BRIDGE_RECORD_FILE } from "../layout.js";
import { type BridgeDaemonRequest, readBridgeRecord } from "./bridge-record.js";
import { generateBridgeToken } from "./bridge-token.js";
import { type ConfigWriteBackResult, configFileSession, writeBackConfigFile } from "./config-file-session.js";
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

/**
 * Starts the detached bridge process for one instance (after stopping a
 * recorded earlier one). Returns once it listens and `bridge.fwcfg` holds its
 * port and new token. On failure nothing is left running.
 */
export async function startBridgeProcess(options: BridgeProcessOptions): Promise<BridgeProcessInfo> {
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
    return {
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

  const request: BridgeDaemonRequest = {
    instanceDir,
    projectDir,
    ...(configFile === undefined ? {} : { configFile }),
    ...(options.writable === undefined ? {} : { writable: options.writable }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    token: generateBridgeToken(),
  };
  const daemon = options.daemon ?? bridgeDaemonCommand();
  const logFile = await open(join(instanceDir, BRIDGE_LOG_FILE), "a", 0o600);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(daemon.command, [...daemon.args, "--instance-dir", instanceDir], {
      detached: true,
      stdio: ["pipe", "pipe", logFile.fd],
      cwd: projectDir,
      env: process.env,
    });
  } finally {
    await logFile.close();
  }
  const failed = (message: string, cause?: unknown) =>
    emulatorErrors.create("FILE_BRIDGE_PROCESS_FAILED", message, {
      ...(cause === undefined ? {} : { cause }),
      details: { log: join(instanceDir, BRIDGE_LOG_FILE) },
    });
  child.stdin?.end(JSON.stringify(request));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const timeout = AbortSignal.timeout(READY_TIMEOUT_MS);
  const until = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
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
    if (child.exitCode === null) child.kill("SIGKILL");
    if (HexclaveError.is(error)) throw error;
    if (options.signal?.aborted) {
      throw emulatorErrors.create("ABORTED", "Starting the file bridge was aborted", { cause: error });
    }
    throw failed(`The file bridge process did not report ready within ${READY_TIMEOUT_MS / 1000} s`, error);
  } finally {
    lines.close();
    child.stdout?.destroy();
  }
  if (answer?.type !== "ready" || typeof answer.port !== "number") {
    if (child.exitCode === null) child.kill("SIGKILL");
    await writeBridgeFwCfg(instanceDir, null).catch(() => {});
    const code = answer?.code;
    const message = `The file bridge did not start: ${answer?.message ?? "no answer"}`;
    if (code !== undefined && code in emulatorErrors.catalogue) {
      throw emulatorErrors.create(code as "FILE_BRIDGE_PROCESS_FAILED", message);
    }
    throw failed(message);
  }
  child.unref();
  return {
    fwCfg,
    enabled: true,
    pid: child.pid ?? null,
    port: answer.port,
    guestUrl: `http://${GUEST_HOST_ADDRESS}:${answer.port}`,
    projectDir,
    configFile: configFile ?? null,
    writable: answer.writable ?? [],
    previous: hadPrevious ? previous : null,
  };
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
