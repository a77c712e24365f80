/**
 * The contract between `stack emulator ...` and the code that really runs the
 * VM. The CLI parses and validates arguments, resolves {@link EmulatorSettings},
 * checks that an image is installed, then calls one method of an
 * `EmulatorRuntime` and renders its events and result. The runtime does the
 * work (qemu-core `VmInstance`, readiness probes, snapshots, downloads) and
 * never prints.
 *
 * Implemented by `@hexclave/image-builder` as
 *
 * ```ts
 * export function createEmulatorRuntime(): EmulatorRuntime;
 * ```
 *
 * (the CLI finds it by that name; until it exists, every runtime command fails
 * with `RUNTIME_UNAVAILABLE`). Rules for implementers:
 *
 * - Every method honours `signal`: on abort, stop waiting, leave no QEMU that
 *   nothing tracks (a VM that was started stays recorded in its instance
 *   directory, or is stopped), and reject with a HexclaveError `ABORTED`.
 * - Failures are `HexclaveError`s with a code, a message naming the problem
 *   and a hint saying what to do; the CLI prints them and exits 1.
 * - Progress goes to `onEvent` as {@link EmulatorEvent}s, in order.
 * - A readiness timeout on `start` is NOT an exception: it resolves with
 *   `ready: false` and the failing services and serial tail, so the CLI can
 *   show them (and exit 1).
 */
import type { Accelerator, Arch } from "@hexclave/qemu-core";
import type { EmulatorSettings, ServiceName } from "./emulator-settings.js";
import type { StatusReport } from "./status-report.js";

/** Options every runtime call takes. */
export interface RuntimeCallOptions {
  readonly settings: EmulatorSettings;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: EmulatorEvent) => void;
}

/**
 * Progress of a long runtime call, as a discriminated union on `type`
 * (structurally the same as image-builder's `emulator/emulator-events.ts`,
 * plus download progress for `pull`). `elapsedMs` counts from the start of the call.
 */
export type EmulatorEvent =
  /** The accelerator chosen by qemu-core's probe, and why (for example why KVM was not used). */
  | { readonly type: "accelerator"; readonly accel: Accelerator; readonly reason: string }
  /** Resume a snapshot or boot cold, and why; emitted before QEMU starts (issue 8: a fallback is never silent). */
  | {
      readonly type: "boot-mode";
      readonly mode: "resume" | "cold";
      readonly reason: string;
      readonly snapshot?: string;
    }
  /** A resume failed; the start continues with a cold boot of the same disk (a `boot-mode` event follows). */
  | { readonly type: "resume-failed"; readonly snapshot: string; readonly error: string }
  /** A named phase began (`overlay`, `qemu`, `boot`, `services`, `snapshot`, `download`, `verify`, `install`...). */
  | { readonly type: "stage-start"; readonly stage: string; readonly label?: string }
  | { readonly type: "stage-end"; readonly stage: string; readonly durationMs: number; readonly detail?: string }
  /** QEMU answers on QMP. */
  | { readonly type: "qemu-up"; readonly pid: number | null; readonly elapsedMs: number }
  /** The guest's userspace is up (guest agent answers). */
  | { readonly type: "guest-booted"; readonly elapsedMs: number }
  /** A service's health changed. */
  | {
      readonly type: "service-health";
      readonly service: ServiceName | string;
      readonly up: boolean;
      readonly url: string;
      readonly detail?: string;
      readonly elapsedMs: number;
    }
  /** All services answered. */
  | { readonly type: "ready"; readonly elapsedMs: number }
  | { readonly type: "snapshot-saved"; readonly name: string; readonly durationMs: number }
  | { readonly type: "snapshot-deleted"; readonly name: string }
  /** Bytes moving (pull): `total` and `etaSeconds` are null/undefined when unknown. */
  | {
      readonly type: "download-progress";
      readonly transferred: number;
      readonly total: number | null | undefined;
      readonly bytesPerSecond: number;
      readonly etaSeconds: number | null | undefined;
    }
  /** Anything else worth a line (`level` chooses its styling). */
  | { readonly type: "message"; readonly level: "info" | "warn"; readonly text: string };

export interface StartOptions extends RuntimeCallOptions {
  /** Readiness deadline in seconds; undefined = the runtime's default (generous under TCG, shorter with an accelerator). */
  readonly timeoutSeconds?: number | undefined;
  /** On a readiness failure, stop the VM instead of leaving it running for inspection. */
  readonly stopOnFailure: boolean;
}

export interface ServiceCheck {
  readonly name: ServiceName;
  readonly url: string;
  readonly up: boolean;
  /** Why it is down (status code, connection refused), when down. */
  readonly detail?: string;
}

export interface StartResult {
  /** It was already running and healthy: nothing was done. */
  readonly alreadyRunning: boolean;
  /** All four services answered within the deadline. */
  readonly ready: boolean;
  readonly bootMode: "resume" | "cold" | "none";
  readonly bootReason: string;
  readonly accel: Accelerator;
  readonly durationMs: number;
  readonly services: readonly ServiceCheck[];
  /** When not ready: the last lines of the serial log. */
  readonly serialTail: readonly string[];
  /** When not ready and `stopOnFailure`: the VM was stopped. */
  readonly stoppedAfterFailure: boolean;
}

export interface StopOptions extends RuntimeCallOptions {}

export interface StopResult {
  /** False when it was not running (stop is then a no-op). */
  readonly wasRunning: boolean;
  /** The VM state was saved for a fast resume (issue 8). */
  readonly suspended: boolean;
  /** How it ended: `powerdown` (guest shut down), `quit`, `sigterm`, `sigkill`, `suspend`, or `none`. */
  readonly method: "suspend" | "powerdown" | "quit" | "sigterm" | "sigkill" | "none";
  readonly durationMs: number;
}

export interface ResetOptions extends RuntimeCallOptions {
  /** Delete the overlay (next start is a cold boot) instead of reverting to the `fresh` snapshot. */
  readonly hard: boolean;
}

export interface ResetResult {
  /** `snapshot`: reverted to `fresh`; `overlay-deleted`: data disk removed; `nothing`: there was no data. */
  readonly mode: "snapshot" | "overlay-deleted" | "nothing";
  /** A running emulator was stopped first. */
  readonly stoppedFirst: boolean;
}

export interface StatusOptions extends RuntimeCallOptions {}

export type LogSource = "serial" | "services";

export interface LogsOptions extends RuntimeCallOptions {
  readonly source: LogSource;
  /** Keep streaming new lines until `signal` aborts. */
  readonly follow: boolean;
  /** Called once per line, without its newline. */
  readonly onLine: (line: string) => void;
}

export interface BenchOptions extends RuntimeCallOptions {
  readonly runs: number;
}

/** One stop -> start -> healthy cycle. `phases` are milliseconds since QEMU was spawned. */
export interface BenchRun {
  readonly mode: "resume" | "cold";
  /** Phase name (`qemu-up`, `guest-booted`, `dashboard`, `backend`, `minio`, `inbucket`, `all-healthy`) -> ms. */
  readonly phases: Readonly<Record<string, number>>;
}

export interface BenchResult {
  readonly runs: readonly BenchRun[];
}

export type PullChannel = "main" | "dev";

export interface PullOptions extends RuntimeCallOptions {
  readonly arch: Arch;
  readonly channel: PullChannel;
  /** A specific release version instead of the channel's current one. */
  readonly version?: string | undefined;
  /** A mirror: an HTTP(S) base URL or a local directory laid out like a release. */
  readonly from?: string | undefined;
}

export interface PullResult {
  /** False when the installed image was already current. */
  readonly updated: boolean;
  readonly version: string;
  readonly imagePath: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly source: string;
}

export interface EmulatorRuntime {
  start(options: StartOptions): Promise<StartResult>;
  stop(options: StopOptions): Promise<StopResult>;
  reset(options: ResetOptions): Promise<ResetResult>;
  /** Derived, never stored; must answer quickly (a few seconds at most) and never throw for a stopped VM. */
  status(options: StatusOptions): Promise<StatusReport>;
  logs(options: LogsOptions): Promise<void>;
  bench(options: BenchOptions): Promise<BenchResult>;
  pull(options: PullOptions): Promise<PullResult>;
}

/** The factory image-builder exports. */
export type CreateEmulatorRuntime = () => EmulatorRuntime;
