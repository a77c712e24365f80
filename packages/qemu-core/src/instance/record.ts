/** `instance.json`: what a start recorded (QEMU's exact arguments, pid, identity), read and written whole. */
import { readFile, rename, writeFile } from "node:fs/promises";
import { qemuErrors } from "../errors-data.js";
import type { InstancePaths } from "../instance-layout.js";
import type { ProcessIdentity } from "../process-identity.js";
import type { Accelerator, VmSpec } from "../vm-spec.js";

/** What `instance.json` holds. Written at start (temp + rename), updated at stop. */
export interface InstanceRecord {
  readonly version: 1;
  readonly name: string;
  /** The QEMU binary and its exact argument list. */
  readonly binary: string;
  readonly args: readonly string[];
  /** The full spec the arguments were built from. */
  readonly spec: VmSpec;
  readonly accel: Accelerator;
  readonly fingerprint?: Readonly<Record<string, unknown>>;
  /** Snapshot the VM was started from (`-loadvm`), if any. */
  readonly loadvm?: string;
  readonly startedAt: string;
  readonly pid?: number;
  readonly identity?: ProcessIdentity;
  /** `starting` while QEMU spawns, `started` once it runs, `stopped` after a clean stop (the clean-stop marker). */
  readonly state: "starting" | "started" | "stopped";
  readonly stoppedAt?: string;
  /** How the last stop ended: `powerdown`, `quit`, `sigterm`, `sigkill`, `start-failed`, `start-aborted`. */
  readonly stopReason?: string;
}

/** The instance record, or undefined when the instance never started. Throws `INSTANCE_RECORD_INVALID` if unreadable. */
export async function readRecord(paths: InstancePaths): Promise<InstanceRecord | undefined> {
  let text: string;
  try {
    text = await readFile(paths.record, "utf8");
  } catch {
    return undefined;
  }
  return parseRecord(text, paths.record);
}

/** The record, or undefined when it is missing or unreadable (for steps that must work on a damaged instance). */
export function readRecordLenient(paths: InstancePaths): Promise<InstanceRecord | undefined> {
  return readRecord(paths).catch(() => undefined);
}

/** Parses `instance.json`'s text (pure). Throws `INSTANCE_RECORD_INVALID` naming `file`. */
export function parseRecord(text: string, file: string): InstanceRecord {
  try {
    const r = JSON.parse(text) as InstanceRecord;
    if (typeof r !== "object" || r === null || r.version !== 1 || !Array.isArray(r.args)) {
      throw new Error("unknown record version");
    }
    return r;
  } catch (cause) {
    throw qemuErrors.create("INSTANCE_RECORD_INVALID", `${file} is not a valid instance record`, {
      cause,
      details: { file },
    });
  }
}

/** Writes the record temp-then-rename. */
export async function writeRecord(paths: InstancePaths, record: InstanceRecord): Promise<void> {
  const tmp = `${paths.record}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, paths.record);
}
