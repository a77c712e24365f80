/**
 * `--config-file` sync, the effects: read the host file at start, hold the
 * guest's latest version, and write it back at stop by the rules of
 * `config-write-back.ts` (atomic replace with a `.bak` of the previous host
 * copy, or, on a conflict, the guest's version written beside the host file).
 */
import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import type { HexclaveError } from "@hexclave/qemu-core";
import { writeFileAtomic, writeFileExclusive } from "@hexclave/qemu-core";
import { emulatorErrors, isCataloguedError } from "../errors-data.js";
import {
  type ConfigWriteBackDecision,
  configBackupPath,
  configGuestCopyPath,
  decideConfigWriteBack,
} from "./config-write-back.js";
import { guestWriteMode } from "./write-scope.js";

/** Default bound on the config file's size: 1 MiB. */
export const DEFAULT_CONFIG_FILE_MAX_BYTES = 1024 * 1024;

export interface ConfigFileSessionOptions {
  /** The host file (`--config-file`). A symlink is followed: the real file is read and written. */
  readonly hostPath: string;
  readonly maxBytes?: number;
  /** Clock for the conflict copy's name (tests). */
  readonly now?: () => Date;
}

export interface ConfigFileSnapshot {
  readonly content: Buffer;
  /** sha256, hex. */
  readonly digest: string;
  readonly mtimeMs: number;
  readonly size: number;
}

export type ConfigWriteBackResult =
  | {
      readonly outcome: "unchanged";
      readonly reason: Extract<ConfigWriteBackDecision, { action: "unchanged" }>["reason"];
      readonly hostPath: string;
    }
  | { readonly outcome: "written"; readonly hostPath: string; readonly backupPath: string }
  | {
      readonly outcome: "conflict";
      readonly reason: Extract<ConfigWriteBackDecision, { action: "conflict" }>["reason"];
      readonly hostPath: string;
      /** The guest's version, written beside the host file. */
      readonly guestCopyPath: string;
      /** A CONFIG_FILE_CONFLICT error naming both files, for the caller to report (it is not thrown). */
      readonly error: HexclaveError;
    };

export interface ConfigFileSession {
  /** The real path of the host file. */
  readonly hostPath: string;
  readonly maxBytes: number;
  /** The host file as read at start. */
  readonly initial: ConfigFileSnapshot;
  /** The host file's mode bits at start (a write-back keeps them). */
  readonly mode: number;
  /** The guest's latest version (the start copy until the guest sends one). */
  guestContent(): Buffer;
  /** Records a new version from the guest (the bridge's `PUT /v1/config`). */
  receiveFromGuest(content: Uint8Array): void;
  /** Writes the guest's version (default: the latest received) back to the host. */
  writeBack(content?: Uint8Array): Promise<ConfigWriteBackResult>;
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

async function readHostFile(path: string, maxBytes: number): Promise<{ snapshot: ConfigFileSnapshot; mode: number }> {
  const info = await stat(path);
  if (!info.isFile()) {
    throw emulatorErrors.create("CONFIG_FILE_INVALID", `The config file ${path} is not a regular file`, {
      details: { path },
    });
  }
  if (info.size > maxBytes) {
    throw emulatorErrors.create(
      "CONFIG_FILE_INVALID",
      `The config file ${path} is ${info.size} bytes, over the limit of ${maxBytes}`,
      { details: { path, size: info.size, maxBytes } },
    );
  }
  const content = await readFile(path);
  return {
    snapshot: { content, digest: sha256(content), mtimeMs: info.mtimeMs, size: content.length },
    mode: info.mode & 0o7777,
  };
}

export async function configFileSession(options: ConfigFileSessionOptions): Promise<ConfigFileSession> {
  const maxBytes = options.maxBytes ?? DEFAULT_CONFIG_FILE_MAX_BYTES;
  const now = options.now ?? (() => new Date());
  let hostPath: string;
  let initial: ConfigFileSnapshot;
  let mode: number;
  try {
    hostPath = await realpath(options.hostPath);
    ({ snapshot: initial, mode } = await readHostFile(hostPath, maxBytes));
  } catch (error) {
    if (isCataloguedError(error)) throw error;
    throw emulatorErrors.create(
      "CONFIG_FILE_INVALID",
      `Cannot read the config file ${options.hostPath}: ${(error as Error).message}`,
      { cause: error, details: { path: options.hostPath } },
    );
  }
  let latest: Buffer = initial.content;

  return {
    hostPath,
    maxBytes,
    initial,
    mode,
    guestContent: () => latest,
    receiveFromGuest(content) {
      if (content.length > maxBytes) {
        throw emulatorErrors.create(
          "CONFIG_FILE_INVALID",
          `The guest's config file is ${content.length} bytes, over the limit of ${maxBytes}`,
          { details: { size: content.length, maxBytes } },
        );
      }
      latest = Buffer.from(content);
    },
    writeBack(content = latest): Promise<ConfigWriteBackResult> {
      return writeBackConfigFile({ hostPath, startDigest: initial.digest, mode, content, now });
    },
  };
}

/** What a write-back needs from the session's start (also recorded by the detached bridge process for `stop`). */
export interface ConfigWriteBackState {
  /** The real path of the host file. */
  readonly hostPath: string;
  /** sha256 of the host file at start. */
  readonly startDigest: string;
  /** The host file's mode bits at start (kept by the write). */
  readonly mode: number;
  /** The guest's version to write back. */
  readonly content: Uint8Array;
  /** Clock for the conflict copy's name (tests). */
  readonly now?: () => Date;
}

/**
 * Writes the guest's version of a `--config-file` back to the host by the
 * rules of {@link decideConfigWriteBack}: unchanged, written (previous host
 * copy to `<file>.bak`, then an atomic replace), or a conflict (the host file
 * is left alone and the guest's version goes beside it). Used by a session's
 * `writeBack` and by `stop` from the state the bridge process recorded.
 */
export async function writeBackConfigFile(state: ConfigWriteBackState): Promise<ConfigWriteBackResult> {
  const { hostPath, mode, content } = state;
  // The guest's bytes never keep setuid, setgid or execute bits (issue 15, finding 2); the .bak keeps the host's mode.
  const guestMode = guestWriteMode(mode);
  const now = state.now ?? (() => new Date());
  const readCurrent = async (): Promise<Buffer | null> => {
    try {
      return await readFile(hostPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  };
  const writeConflictCopy = async (): Promise<string> => {
    const at = now();
    for (let attempt = 1; ; attempt++) {
      const candidate = configGuestCopyPath(hostPath, at, attempt);
      if (await writeFileExclusive(candidate, content, { mode: guestMode })) return candidate;
    }
  };
  try {
    const current = await readCurrent();
    const decision = decideConfigWriteBack({
      startDigest: state.startDigest,
      hostDigest: current === null ? null : sha256(current),
      guestDigest: sha256(content),
    });
    switch (decision.action) {
      case "unchanged":
        return { outcome: "unchanged", reason: decision.reason, hostPath };
      case "write": {
        const backupPath = configBackupPath(hostPath);
        // The decision is "write" only when the host file still has the start digest: back it up, then replace.
        await writeFileAtomic(backupPath, current ?? Buffer.alloc(0), { mode });
        await writeFileAtomic(hostPath, content, { mode: guestMode });
        return { outcome: "written", hostPath, backupPath };
      }
      case "conflict": {
        const guestCopyPath = await writeConflictCopy();
        const what = decision.reason === "host-deleted" ? "was deleted" : "changed";
        const error = emulatorErrors.create(
          "CONFIG_FILE_CONFLICT",
          `${hostPath} ${what} on the host while the emulator ran; it was not overwritten. The emulator's version is in ${guestCopyPath}`,
          { details: { hostPath, guestCopyPath, reason: decision.reason } },
        );
        return { outcome: "conflict", reason: decision.reason, hostPath, guestCopyPath, error };
      }
    }
  } catch (error) {
    throw emulatorErrors.create(
      "CONFIG_FILE_WRITE_FAILED",
      `Writing the emulator's config file back to ${hostPath} failed: ${(error as Error).message}`,
      { cause: error, details: { hostPath } },
    );
  }
}
