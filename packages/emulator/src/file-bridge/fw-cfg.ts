/**
 * What the emulator runtime needs to run the file bridge with the VM:
 * the fw_cfg entry that tells the guest where the bridge is, and start/stop
 * hooks around QEMU.
 *
 * How the port and token reach the guest without being baked into a snapshot:
 * QEMU gets `-fw_cfg name=opt/hexclave/bridge,file=<run dir>/bridge.fwcfg`.
 * fw_cfg content is read when QEMU starts, and a resumed VM is a new QEMU
 * process (`-loadvm`), so each start hands the guest the new port and token;
 * the guest re-reads `/sys/firmware/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw`
 * (on every request, or at least after every resume).
 *
 * - `file=`, not `string=`: the token stays out of QEMU's command line (`ps`)
 *   and out of the recorded arguments, which stay byte-identical from start
 *   to start, as a resume with identical arguments requires. The file is 0600.
 * - Fixed length: the guest kernel sizes fw_cfg entries when it boots, and a
 *   resumed kernel keeps that size. Every payload, the "no bridge" one too, is
 *   {@link BRIDGE_FW_CFG_LENGTH} bytes, and the entry is always present, so the
 *   set of fw_cfg files (and their selectors) never changes between the boot
 *   that took a snapshot and the start that resumes it.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type FwCfgEntry, writeFileAtomic } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";
import { BRIDGE_FW_CFG_FILE } from "../layout.js";
import { generateBridgeToken } from "./bridge-token.js";
import { type ConfigFileSession, type ConfigWriteBackResult, configFileSession } from "./config-file-session.js";
import type { FileBridgeEventListener } from "./file-bridge-events.js";
import { type FileBridge, startFileBridge } from "./file-bridge-server.js";

/** The fw_cfg name (guest: `/sys/firmware/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw`). */
export const BRIDGE_FW_CFG_NAME = "opt/hexclave/bridge";
/** Where the guest reads it. */
export const BRIDGE_FW_CFG_GUEST_PATH = `/sys/firmware/qemu_fw_cfg/by_name/${BRIDGE_FW_CFG_NAME}/raw`;
/** The host as the guest sees it on QEMU's user network. */
export const GUEST_HOST_ADDRESS = "10.0.2.2";
/** First word of the payload; a new format gets a new version. */
export const BRIDGE_FW_CFG_MAGIC = "hexclave-bridge/1";

const NO_TOKEN = "0".repeat(64);
/** Every payload's length in bytes: `hexclave-bridge/1 port=NNNNN token=<64 hex>\n`. */
export const BRIDGE_FW_CFG_LENGTH = `${BRIDGE_FW_CFG_MAGIC} port=00000 token=${NO_TOKEN}\n`.length;

export interface BridgeEndpoint {
  readonly port: number;
  /** 64 lower-case hex characters (the bridge's default token). */
  readonly token: string;
}

/**
 * The fw_cfg payload: `hexclave-bridge/1 port=NNNNN token=<64 hex>\n`, port
 * zero-padded to 5 digits; `null` (no bridge) gives port 00000 and a zero token.
 */
export function formatBridgeFwCfg(endpoint: BridgeEndpoint | null): string {
  if (endpoint === null) return `${BRIDGE_FW_CFG_MAGIC} port=00000 token=${NO_TOKEN}\n`;
  if (!Number.isInteger(endpoint.port) || endpoint.port < 1 || endpoint.port > 65535) {
    throw emulatorErrors.create("FILE_BRIDGE_OPTION_INVALID", `Invalid bridge port ${endpoint.port}`, {
      details: { port: endpoint.port },
    });
  }
  if (!/^[0-9a-f]{64}$/.test(endpoint.token)) {
    throw emulatorErrors.create(
      "FILE_BRIDGE_OPTION_INVALID",
      "The bridge token handed to the guest must be 64 lower-case hex characters (fw_cfg payloads have a fixed length)",
    );
  }
  return `${BRIDGE_FW_CFG_MAGIC} port=${String(endpoint.port).padStart(5, "0")} token=${endpoint.token}\n`;
}

/** The inverse of {@link formatBridgeFwCfg}: the endpoint, `null` for "no bridge", `undefined` when malformed. */
export function parseBridgeFwCfg(text: string): BridgeEndpoint | null | undefined {
  const match = /^hexclave-bridge\/1 port=(\d{5}) token=([0-9a-f]{64})\n?$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[1]);
  const token = match[2] as string;
  if (port === 0) return null;
  return port > 65535 ? undefined : { port, token };
}

/** The `-fw_cfg` entry for the VM spec: a file in the instance directory, the same path on every start. */
export function bridgeFwCfgEntry(instanceDir: string): FwCfgEntry {
  return { name: BRIDGE_FW_CFG_NAME, file: join(instanceDir, BRIDGE_FW_CFG_FILE) };
}

/** Writes the payload QEMU will read (0600, atomically). */
export async function writeBridgeFwCfg(instanceDir: string, endpoint: BridgeEndpoint | null): Promise<string> {
  await mkdir(instanceDir, { recursive: true });
  const path = join(instanceDir, BRIDGE_FW_CFG_FILE);
  // Remade by every start before QEMU reads it: no flush (a stop writes it right after the suspend's memory).
  await writeFileAtomic(path, Buffer.from(formatBridgeFwCfg(endpoint)), { mode: 0o600, durable: false });
  return path;
}

export interface EmulatorFileBridgeOptions {
  /** The instance's run directory (`run/<instance>`), where `bridge.fwcfg` goes. */
  readonly instanceDir: string;
  /** `--project-dir`: the directory served; default the current directory. */
  readonly projectDir?: string;
  /** `--config-file`: copied in at start (`GET /v1/config`), written back at stop. */
  readonly configFile?: string;
  /** false: no server; the fw_cfg entry still exists and says "no bridge" (port 0). Default true. */
  readonly enabled?: boolean;
  /** Host port; default 0 (a free one). */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: FileBridgeEventListener;
}

export interface EmulatorFileBridge {
  /** Put this in the VM spec's `fwCfg` (also when disabled: the entry set must not change). */
  readonly fwCfg: FwCfgEntry;
  readonly bridge: FileBridge | null;
  readonly configFile: ConfigFileSession | null;
  /** What the guest reaches: `http://10.0.2.2:<port>`, or null when disabled. */
  readonly guestUrl: string | null;
  /**
   * Closes the bridge (its token is dead), overwrites `bridge.fwcfg` with the
   * "no bridge" payload, and writes the `--config-file` back (call it after
   * the guest's last write: once QEMU has stopped or the VM state is saved).
   */
  stop(): Promise<{ readonly configFile: ConfigWriteBackResult | null }>;
}

/**
 * Start hook: call before spawning QEMU (cold boot or resume). The bridge is
 * listening, and `bridge.fwcfg` holds its port and a token new to this start,
 * when it returns. On failure nothing is left listening.
 */
export async function startEmulatorFileBridge(options: EmulatorFileBridgeOptions): Promise<EmulatorFileBridge> {
  const fwCfg = bridgeFwCfgEntry(options.instanceDir);
  const configFile =
    options.configFile === undefined ? null : await configFileSession({ hostPath: options.configFile });
  if (options.enabled === false) {
    await writeBridgeFwCfg(options.instanceDir, null);
    return {
      fwCfg,
      bridge: null,
      configFile,
      guestUrl: null,
      stop: async () => ({ configFile: null }),
    };
  }
  const bridge = await startFileBridge({
    root: options.projectDir ?? process.cwd(),
    token: generateBridgeToken(),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(configFile === null ? {} : { configFile }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
  });
  try {
    await writeBridgeFwCfg(options.instanceDir, { port: bridge.port, token: bridge.token });
  } catch (error) {
    await bridge.close();
    throw error;
  }
  let stopped: Promise<{ configFile: ConfigWriteBackResult | null }> | undefined;
  return {
    fwCfg,
    bridge,
    configFile,
    guestUrl: `http://${GUEST_HOST_ADDRESS}:${bridge.port}`,
    stop() {
      stopped ??= (async () => {
        await bridge.close();
        await writeBridgeFwCfg(options.instanceDir, null);
        return { configFile: configFile === null ? null : await configFile.writeBack() };
      })();
      return stopped;
    },
  };
}
