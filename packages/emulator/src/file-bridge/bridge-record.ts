/**
 * `run/<instance>/bridge.json`: what the detached file bridge process records
 * about itself, so a later `stop` (another process) can end it safely and
 * write the `--config-file` back. No token in it: the token lives only in the
 * bridge process and in `bridge.fwcfg` (0600).
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ProcessIdentity, writeFileAtomic } from "@hexclave/qemu-core";
import { BRIDGE_RECORD_FILE } from "../layout.js";

/** The file descriptor the bridge process inherits its listening socket on (after stdin, stdout and stderr). */
export const HANDED_SOCKET_FD = 3;

/** What the parent writes to the bridge process's stdin (the token travels here, never in argv). */
export interface BridgeDaemonRequest {
  readonly instanceDir: string;
  /** The directory served (absolute). */
  readonly projectDir: string;
  /** `--config-file`, absolute. */
  readonly configFile?: string;
  /** `--bridge-writable` grants (absolute, or relative to `projectDir`). */
  readonly writable?: readonly string[];
  readonly port?: number;
  /**
   * The parent bound the listening socket itself and handed it over as file descriptor 3
   * ({@link HANDED_SOCKET_FD}): the process serves on it rather than binding `port`.
   */
  readonly handedSocket?: true;
  readonly maxBodyBytes?: number;
  /** 64 lower-case hex characters. */
  readonly token: string;
}

export interface BridgeRecord {
  readonly formatVersion: 1;
  readonly pid: number;
  /** pid + start time + command line: a reused pid is never signalled. */
  readonly identity?: ProcessIdentity;
  /** Host port on 127.0.0.1. */
  readonly port: number;
  /** The real path of the directory served. */
  readonly projectDir: string;
  readonly startedAt: string;
  /** The `--config-file` session's start state, for the write-back at stop. */
  readonly configFile: { readonly hostPath: string; readonly startDigest: string; readonly mode: number } | null;
}

/** Parses a record; undefined when it is not one (a stale or foreign file is ignored, not trusted). */
export function parseBridgeRecord(text: string): BridgeRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Partial<BridgeRecord>;
  if (r.formatVersion !== 1 || !Number.isInteger(r.pid) || !Number.isInteger(r.port)) return undefined;
  if (typeof r.projectDir !== "string" || typeof r.startedAt !== "string") return undefined;
  const c = r.configFile;
  if (c !== null) {
    if (typeof c !== "object" || c === undefined) return undefined;
    if (typeof c.hostPath !== "string" || !/^[0-9a-f]{64}$/.test(String(c.startDigest))) return undefined;
    if (!Number.isInteger(c.mode)) return undefined;
  }
  return r as BridgeRecord;
}

export async function readBridgeRecord(instanceDir: string): Promise<BridgeRecord | undefined> {
  try {
    return parseBridgeRecord(await readFile(join(instanceDir, BRIDGE_RECORD_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

export async function writeBridgeRecord(instanceDir: string, record: BridgeRecord): Promise<void> {
  await mkdir(instanceDir, { recursive: true });
  // The record of a running process: no flush (after a host crash the process is gone, and so is what it records).
  await writeFileAtomic(join(instanceDir, BRIDGE_RECORD_FILE), Buffer.from(`${JSON.stringify(record, null, 2)}\n`), {
    mode: 0o600,
    durable: false,
  });
}
