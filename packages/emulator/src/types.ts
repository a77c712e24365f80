/** The runtime's public option and result types: what the facade's methods take and return. */
import type { Accelerator, AcceleratorChoice, Arch } from "@hexclave/qemu-core";
import type { EmulatorEventListener } from "./events.js";
import type { GuestProgram } from "./inspect/guest-programs.js";
import type { ServiceHealthCheck } from "./inspect/service-health.js";
import type { GuestNetworkSettings } from "./machine/guest-network.js";
import type { BootKind, LastStart, SnapshotName } from "./store/snapshot-record.js";

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly onEvent?: EmulatorEventListener;
}

export interface EmulatorStartOptions extends CallOptions {
  readonly arch?: Arch;
  readonly cpus?: number;
  readonly memoryMb?: number;
  /** Host port per service (`dashboard`, `backend`, `minio`, `inbucket`); default from `EMULATOR_*_PORT`, else the manifest's. */
  readonly ports?: Readonly<Record<string, number>>;
  /** Readiness deadline; default 15 min under TCG, 4 min with an accelerator. */
  readonly timeoutMs?: number;
  /**
   * `auto` (default): the probed accelerator, and tcg when it fails the guest (the verdict is cached); any other
   * value forces that accelerator, and its failure is `ACCEL_FAILED`.
   */
  readonly accel?: AcceleratorChoice;
  /** Plain cold path: no resume, no snapshots (also `EMULATOR_NO_SNAPSHOT=1`). */
  readonly noSnapshot?: boolean;
  /** On a readiness failure, stop the VM instead of leaving it running for inspection. */
  readonly stopOnFailure?: boolean;
  /** The file bridge (issue 10): the project directory served to the guest, and `--config-file`. */
  readonly fileBridge?: EmulatorStartFileBridgeOptions;
  /** What the guest may reach (`--guest-network`, `--guest-reach`; guest-network.ts); default isolated. */
  readonly guestNetwork?: GuestNetworkSettings;
}

/** The file bridge of a start: a detached process on 127.0.0.1, reached by the guest at 10.0.2.2. */
export interface EmulatorStartFileBridgeOptions {
  /** false: no bridge (the guest's fw_cfg entry says "no bridge"). Default true. */
  readonly enabled?: boolean;
  /** The directory served (`--project-dir`); default the current directory. */
  readonly projectDir?: string;
  /** `--config-file`: served at `/v1/config` during the run, written back to the host by `stop`. */
  readonly configFile?: string;
  /** `--bridge-writable`: paths under the project directory the guest may write; default none. */
  readonly writable?: readonly string[];
  /** Host port on 127.0.0.1; default a free one. */
  readonly port?: number;
  readonly maxBodyBytes?: number;
}

/** What a start reports about its file bridge. */
export interface EmulatorFileBridgeInfo {
  readonly enabled: boolean;
  readonly port: number | null;
  /** `http://10.0.2.2:<port>` from the guest (the guest's proxy is `http://127.0.0.1:8110` in the container). */
  readonly guestUrl: string | null;
  readonly projectDir: string | null;
  readonly configFile: string | null;
  /** What the guest may write under `projectDir`, relative (`.` for all of it); empty: read-only. */
  readonly writable: readonly string[];
}

/** The `--config-file` write-back at stop, as plain data (also in `--json` output). */
export type EmulatorConfigWriteBack =
  | { readonly outcome: "unchanged"; readonly hostPath: string; readonly reason: string }
  | { readonly outcome: "written"; readonly hostPath: string; readonly backupPath: string }
  | {
      readonly outcome: "conflict";
      readonly hostPath: string;
      /** The emulator's version, written beside the host file. */
      readonly guestCopyPath: string;
      readonly reason: string;
      readonly message: string;
    }
  | { readonly outcome: "failed"; readonly hostPath: string | null; readonly message: string };

/** Milliseconds since QEMU was spawned: `qemu-up`, `guest-booted`, one per service, `all-healthy`. */
export type StartPhases = Readonly<Record<string, number>>;

export interface EmulatorStartResult {
  /** It was already running: nothing was started (it was checked, and waited for if not yet healthy). */
  readonly alreadyRunning: boolean;
  /** Every service answered within the deadline. */
  readonly ready: boolean;
  /** `none` when it was already running. */
  readonly bootKind: BootKind | "none";
  /** Why this boot kind (for a cold boot after a failed resume: what failed). */
  readonly reason: string;
  readonly snapshot?: SnapshotName;
  readonly accel: Accelerator;
  readonly accelReason: string;
  readonly arch: Arch;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly durationMs: number;
  readonly phases: StartPhases;
  readonly services: readonly ServiceHealthCheck[];
  /** Names of the services that were not up at the deadline. */
  readonly failing: readonly string[];
  /** When not ready: the last lines of the serial log. */
  readonly serialTail: readonly string[];
  /** When not ready and `stopOnFailure`: the VM was stopped. */
  readonly stoppedAfterFailure: boolean;
  /** A snapshot saved by this start (`fresh` after the first healthy cold boot). */
  readonly savedSnapshot?: SnapshotName;
  /** This start's file bridge (absent when it was already running). */
  readonly fileBridge?: EmulatorFileBridgeInfo;
  /** What the guest may reach in this run (absent when it was already running). */
  readonly guestNetwork?: GuestNetworkSettings;
  /** A `--config-file` of an earlier run that ended without a stop, written back by this start. */
  readonly previousConfigFile?: EmulatorConfigWriteBack;
  /** The hardware accelerator failed the guest and this start went on under tcg. */
  readonly acceleratorFallback?: {
    readonly from: Accelerator;
    readonly reason: string;
    /** From QEMU's spawn under `from` to the failure being seen. */
    readonly detectedAfterMs: number;
    /** From the failure being seen to the tcg QEMU being spawned. */
    readonly relaunchAfterMs: number;
  };
}

export interface EmulatorStopOptions extends CallOptions {
  /** Power the guest off instead of suspending it (also `EMULATOR_NO_SNAPSHOT=1`). */
  readonly noSnapshot?: boolean;
}

export interface EmulatorStopResult {
  readonly wasRunning: boolean;
  /** The VM state was saved as `suspend` for a fast resume. */
  readonly suspended: boolean;
  /** `suspend`, `powerdown`, `quit`, `sigterm`, `sigkill`, or `none`. */
  readonly method: string;
  /** Why it did not suspend, when it should have. */
  readonly reason?: string;
  readonly durationMs: number;
  /** The `--config-file` write-back (absent when the run had no config file). */
  readonly configFile?: EmulatorConfigWriteBack;
}

export interface EmulatorResetOptions extends CallOptions {
  /** Delete the overlay (the next start is a cold boot) instead of reverting to `fresh`. */
  readonly hard?: boolean;
}

export interface EmulatorResetResult {
  /** `snapshot`: the next start resumes `fresh`; `overlay-deleted`: the data disk was removed; `nothing`: there was no data. */
  readonly mode: "snapshot" | "overlay-deleted" | "nothing";
  readonly stoppedFirst: boolean;
  readonly reason: string;
}

/** `broken`: QEMU runs but holds the VM in an error state (internal-error, guest-panicked, ...): see `vm.failure`. */
export type EmulatorHealth = "healthy" | "degraded" | "stopped" | "broken" | "crashed";

export interface EmulatorStatus {
  readonly health: EmulatorHealth;
  readonly vm: {
    readonly state: "stopped" | "starting" | "running" | "broken" | "crashed";
    /** When `broken`: why, with QEMU's words; null otherwise. */
    readonly failure: string | null;
    readonly pid: number | null;
    readonly arch: Arch;
    readonly accelerator: Accelerator | null;
    readonly acceleratorReason: string | null;
    readonly cpus: number;
    readonly memoryMb: number;
    readonly uptimeSeconds: number | null;
    /** What the running guest may reach; null when not running. */
    readonly guestNetwork: GuestNetworkSettings | null;
  };
  readonly image: {
    readonly path: string;
    readonly present: boolean;
    readonly version: string | null;
    readonly sha256: string | null;
    readonly source: string | null;
  };
  readonly lastStart: LastStart | null;
  /** Snapshots in the overlay, per the record. */
  readonly snapshots: readonly SnapshotName[];
  readonly resetPending: boolean;
  readonly services: readonly ServiceHealthCheck[];
  /** The supervised programs in the guest's container and their health (its `hexclave-health`); null when not running or unreadable. */
  readonly programs: readonly GuestProgram[] | null;
  readonly home: string;
}

export interface EmulatorLogsOptions {
  readonly source: "serial" | "services";
  /** Keep yielding new lines until `signal` aborts. */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
  /** Lines of history (services; default 200). */
  readonly lines?: number;
}
