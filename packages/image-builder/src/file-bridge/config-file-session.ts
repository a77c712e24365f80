/**
 * `--config-file` sync, the effects: read the host file at start, hold the
 * guest's latest version, and write it back at stop by the rules of
 * `config-write-back.ts` (atomic replace with a `.bak` of the previous host
 * copy, or, on a conflict, the guest's version written beside the host file).
 */
import { createHash } from "node:crypto";
import { readFile, realpath, stat } from "node:fs/promises";
import type { HexclaveError } from "@hexclave/qemu-core";
import { imageBuilderErrors } from "../errors-data.js";
import { writeFileAtomic, writeFileExclusive } from "./atomic-file.js";
import {
  type ConfigWriteBackDecision,
  configBackupPath,
  configGuestCopyPath,
  decideConfigWriteBack,
} from "./config-write-back.js";

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
    throw imageBuilderErrors.create("CONFIG_FILE_INVALID", `The config file ${path} is not a regular file`, {
      details: { path },
    });
  }
  if (info.size > maxBytes) {
    throw imageBuilderErrors.create(
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
    if (imageBuilderErrors.is(error)) throw error;
    throw imageBuilderErrors.create(
      "CONFIG_FILE_INVALID",
      `Cannot read the config file ${options.hostPath}: ${(error as Error).message}`,
      { cause: error, details: { path: options.hostPath } },
    );
  }
  let latest: Buffer = initial.content;

  const readCurrent = async (): Promise<Buffer | null> => {
    try {
      return await readFile(hostPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  };

  const writeConflictCopy = async (content: Uint8Array): Promise<string> => {
    const at = now();
    for (let attempt = 1; ; attempt++) {
      const candidate = configGuestCopyPath(hostPath, at, attempt);
      if (await writeFileExclusive(candidate, content, { mode })) return candidate;
    }
  };

  return {
    hostPath,
    maxBytes,
    initial,
    guestContent: () => latest,
    receiveFromGuest(content) {
      if (content.length > maxBytes) {
        throw imageBuilderErrors.create(
          "CONFIG_FILE_INVALID",
          `The guest's config file is ${content.length} bytes, over the limit of ${maxBytes}`,
          { details: { size: content.length, maxBytes } },
        );
      }
      latest = Buffer.from(content);
    },
    async writeBack(content = latest): Promise<ConfigWriteBackResult> {
      try {
        const current = await readCurrent();
        const decision = decideConfigWriteBack({
          startDigest: initial.digest,
          hostDigest: current === null ? null : sha256(current),
          guestDigest: sha256(content),
        });
        switch (decision.action) {
          case "unchanged":
            return { outcome: "unchanged", reason: decision.reason, hostPath };
          case "write": {
            const backupPath = configBackupPath(hostPath);
            // `current` is the start copy (same digest): back it up first, then replace.
            await writeFileAtomic(backupPath, current ?? initial.content, { mode });
            await writeFileAtomic(hostPath, content, { mode });
            return { outcome: "written", hostPath, backupPath };
          }
          case "conflict": {
            const guestCopyPath = await writeConflictCopy(content);
            const what = decision.reason === "host-deleted" ? "was deleted" : "changed";
            const error = imageBuilderErrors.create(
              "CONFIG_FILE_CONFLICT",
              `${hostPath} ${what} on the host while the emulator ran; it was not overwritten. The emulator's version is in ${guestCopyPath}`,
              { details: { hostPath, guestCopyPath, reason: decision.reason } },
            );
            return { outcome: "conflict", reason: decision.reason, hostPath, guestCopyPath, error };
          }
        }
      } catch (error) {
        throw imageBuilderErrors.create(
          "CONFIG_FILE_WRITE_FAILED",
          `Writing the emulator's config file back to ${hostPath} failed: ${(error as Error).message}`,
          { cause: error, details: { hostPath } },
        );
      }
    },
  };
}
