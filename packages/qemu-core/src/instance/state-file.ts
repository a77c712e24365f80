/**
 * A VM's RAM and device state in a file of its own, through QEMU's migration
 * stream (pure helpers). Loading it (`-incoming`) reads one sequential stream;
 * loading an internal qcow2 snapshot (`-loadvm`) reads the same bytes through
 * the block layer in 32 KiB requests. Measured here (TCG, QEMU 7.2, 634 MiB of
 * state, back to back): `-loadvm` 3.5 to 9 s, `-incoming` 1.7 to 2 s.
 *
 * QEMU 7.2 has no `file:` migration URI, so the stream goes through `exec:`,
 * which QEMU runs with `/bin/sh -c`: the path is single-quoted for sh.
 *
 * A save reads every page of guest RAM, and a load reads every page it
 * fills (zero pages included). On a host that backs even a read of untouched
 * memory with a new page (a Firecracker guest with `pvm_no_zero_page`, like
 * this project's CI machine), the first save of a QEMU process and every load
 * therefore allocate all of the guest's RAM on the host: measured here for an
 * idle 4 GiB guest, 47 to 71 s for the first save against 0.6 s for the next
 * ones, and 2 to 31 s for the load. That cost follows the guest's memory
 * size, not its state; the bandwidth limit does not change it (0.3 to 44 s
 * for the same setting, back to back).
 *
 * A VM whose RAM is a shared file (`VmSpec.memoryFile`) avoids all of that:
 * the save and the load run with QEMU's `x-ignore-shared`, so the stream
 * holds only the device state (a few hundred KiB) and the RAM stays in the
 * file (measured here for an idle 4 GiB guest: save 34 s with anonymous RAM,
 * 0.05 s with the file; load 0.06 s). Such a state file fits the memory file
 * only as it was at the save: a resume runs the guest on and changes it. So
 * the save either writes the file's dirty pages to disk (the pair survives a
 * host reboot; resumed once), or copies the memory aside (`memoryImage`, a
 * sparse copy: what the guest holds, not its size), which a resume copies
 * back (`incomingMemoryImage`): the way when the memory file is in a tmpfs,
 * or when the state is resumed more than once. A load needs `-incoming defer`: the capability
 * must be set before the stream is read, and QEMU 7.2 takes it over QMP only.
 *
 * `saveStateFile` writes one (VM paused, temp file then rename); `start`
 * with `incomingStateFile` loads it ({@link finishIncoming}).
 */
import { rename, rm, stat } from "node:fs/promises";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { qemuErrors } from "../errors-data.js";
import { acquireInstanceLock } from "../instance-lock.js";
import { ensurePrivateFile } from "../private-files.js";
import { type ProcessIdentity, readProcessIdentity } from "../process-identity.js";
import { abortedError, type QmpClient, type QmpStatus, throwIfAborted } from "../qmp-client.js";
import { INCOMING_POLL_MS, MIGRATION_POLL_MS, QMP_PROBE_TIMEOUT_MS } from "./connection.js";
import type { InstanceContext } from "./context.js";
import { copyMemoryFile, syncMemoryFile } from "./memory-file.js";
import { readRecordLenient } from "./record.js";
import { runningClient, type SnapshotOptions } from "./snapshots.js";

/** `-incoming` for a state file of a VM with a memory file: the stream starts once the capability is set. */
export const INCOMING_DEFERRED = "defer";

/** Sets QEMU's `x-ignore-shared` migration capability (shared RAM is not streamed). */
async function setIgnoreShared(client: QmpClient, state: boolean): Promise<void> {
  await client.execute("migrate-set-capabilities", { capabilities: [{ capability: "x-ignore-shared", state }] });
}

export interface StateFileSaveOptions extends SnapshotOptions {
  /**
   * For a VM with a memory file: copy the memory, as of the save, to this file (sparse; temp then rename) instead
   * of flushing the memory file itself, so the state is resumed from the copy
   * (`start({ incomingStateFile, incomingMemoryImage })`), as often as wanted.
   */
  readonly memoryImage?: string;
}

/** Quotes one word for POSIX sh: `'...'`, a single quote written as `'\''`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** The migration URI that writes the stream to `file` (QMP `migrate`). */
export function stateFileSaveUri(file: string): string {
  return `exec:cat > ${shellQuote(file)}`;
}

/** The `-incoming` URI that reads the stream from `file`. */
export function stateFileLoadUri(file: string): string {
  return `exec:cat ${shellQuote(file)}`;
}

/**
 * The migration bandwidth limit while saving to a file: QEMU's default
 * (128 MiB/s) is meant for live migration over a network and made a 634 MiB
 * save take 5 s instead of 1.6 s here.
 */
export const STATE_FILE_MAX_BANDWIDTH_BYTES_PER_S = 64 * 1024 ** 3;

/** What `query-migrate` says, reduced to what a save or load waits for. Pure. */
export type MigrationProgress =
  | { readonly kind: "running"; readonly status: string }
  | { readonly kind: "completed"; readonly bytes: number | undefined }
  | { readonly kind: "failed"; readonly status: string; readonly error: string };

export function readMigrationProgress(reply: unknown): MigrationProgress {
  const r = (typeof reply === "object" && reply !== null ? reply : {}) as {
    status?: unknown;
    "error-desc"?: unknown;
    ram?: { transferred?: unknown };
  };
  const status = typeof r.status === "string" ? r.status : "none";
  if (status === "completed") {
    const bytes = typeof r.ram?.transferred === "number" ? r.ram.transferred : undefined;
    return { kind: "completed", bytes };
  }
  if (status === "failed" || status === "cancelled") {
    const error = typeof r["error-desc"] === "string" ? r["error-desc"] : `migration ${status}`;
    return { kind: "failed", status, error };
  }
  return { kind: "running", status };
}

/**
 * Saves the VM's RAM and device state to `file` through QEMU's migration
 * stream: pauses the VM, streams to a temp file beside `file`, then renames
 * it. The disk is not copied: the file fits the disk only as it is now, so
 * the caller quits QEMU (or keeps the disk unchanged, e.g. by a disk-only
 * snapshot taken while paused) before the file is resumed. The VM is left
 * paused (`cont` runs it again). A failure removes the temp file and throws
 * `STATE_SAVE_FAILED`.
 */
export async function saveStateFile(
  ctx: InstanceContext,
  file: string,
  options: StateFileSaveOptions = {},
): Promise<{ bytes: number; elapsedMs: number; memoryBytes?: number }> {
  const lock = await acquireInstanceLock(ctx.paths.lock, { purpose: "snapshot" });
  const tmp = `${file}.${process.pid}.tmp`;
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  try {
    const memoryFile = (await readRecordLenient(ctx.paths))?.spec.memoryFile;
    const client = await runningClient(ctx);
    await client.stop({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
    try {
      await client.execute("migrate-set-parameters", { "max-bandwidth": STATE_FILE_MAX_BANDWIDTH_BYTES_PER_S });
      await ensurePrivateFile(tmp); // `cat >` keeps the mode: the RAM dump is never readable by others
      if (memoryFile !== undefined) await setIgnoreShared(client, true);
      try {
        await streamTo(client, tmp, started, timeoutMs, options.signal);
      } finally {
        // Only this save skips the RAM: an internal snapshot taken later by this QEMU must hold it.
        if (memoryFile !== undefined) await setIgnoreShared(client, false).catch(() => {});
      }
      let memoryBytes: number | undefined;
      if (memoryFile !== undefined) {
        if (options.memoryImage === undefined) await syncMemoryFile(memoryFile);
        else {
          await copyMemoryFile(ctx.runner, memoryFile, options.memoryImage);
          memoryBytes = (await stat(options.memoryImage)).blocks * 512;
        }
      }
      const { size } = await stat(tmp);
      await rename(tmp, file);
      options.onEvent?.({ type: "snapshot-saved", name: basename(file), elapsedMs: Date.now() - started });
      return { bytes: size, elapsedMs: Date.now() - started, ...(memoryBytes === undefined ? {} : { memoryBytes }) };
    } catch (error) {
      await rm(tmp, { force: true });
      if (qemuErrors.is(error, "ABORTED")) throw error;
      throw qemuErrors.create(
        "STATE_SAVE_FAILED",
        `Saving the state of instance "${ctx.name}" to ${file} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error, details: { file } },
      );
    }
  } finally {
    await lock.release();
  }
}

/** Runs the migration to `tmp` and waits for it to complete. */
async function streamTo(
  client: QmpClient,
  tmp: string,
  started: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  await client.execute("migrate", { uri: stateFileSaveUri(tmp) });
  for (;;) {
    if (signal?.aborted) {
      await client.execute("migrate_cancel").catch(() => {});
      throw abortedError(signal);
    }
    const progress = readMigrationProgress(await client.execute("query-migrate"));
    if (progress.kind === "completed") return;
    if (progress.kind === "failed") throw new Error(progress.error);
    if (Date.now() - started > timeoutMs) {
      await client.execute("migrate_cancel").catch(() => {});
      throw new Error(`not finished within ${timeoutMs} ms`);
    }
    await sleep(MIGRATION_POLL_MS);
  }
}

/** Waits for the `-incoming` state to load, then runs the VM (a state saved paused stays paused until `cont`). */
export async function finishIncoming(
  ctx: InstanceContext,
  file: string,
  identity: ProcessIdentity,
  deadline: number,
  signal?: AbortSignal,
  options: { readonly deferred?: boolean } = {},
): Promise<QmpStatus> {
  const failed = (why: string, cause?: unknown) =>
    qemuErrors.create("STATE_LOAD_FAILED", `QEMU for instance "${ctx.name}" could not load ${file}: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { file },
    });
  if (options.deferred === true) {
    // `-incoming defer`: the VM's RAM is its memory file; only the devices come from the stream.
    try {
      const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
      await setIgnoreShared(client, true);
      await client.execute("migrate-incoming", { uri: stateFileLoadUri(file) });
    } catch (error) {
      if (qemuErrors.is(error, "ABORTED")) throw error;
      throw failed("QEMU refused to start loading it", error);
    }
  }
  for (;;) {
    throwIfAborted(signal);
    let progress: MigrationProgress | undefined;
    try {
      const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
      progress = readMigrationProgress(
        await client.execute("query-migrate", undefined, { timeoutMs: QMP_PROBE_TIMEOUT_MS }),
      );
    } catch (error) {
      if (qemuErrors.is(error, "ABORTED")) throw error;
      if (!(await readProcessIdentity(identity.pid))) throw failed("QEMU exited while loading it", error);
    }
    if (progress?.kind === "failed") throw failed(progress.error);
    if (progress?.kind === "completed") {
      const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS, ...(signal ? { signal } : {}) });
      const status = await client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      if (status.status === "running") return status;
      await client.cont({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
      return client.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
    }
    if (Date.now() > deadline) throw failed("it did not finish loading in time");
    await sleep(INCOMING_POLL_MS);
  }
}
