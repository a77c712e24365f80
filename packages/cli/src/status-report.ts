/**
 * What `stack emulator status --json` prints. Mirrors
 * `packages/cli/schemas/status.schema.json` (tests validate real documents
 * against it); change both together and bump `schemaVersion` on a breaking change.
 */
import type { Accelerator, Arch } from "@hexclave/qemu-core";
import type { ServiceName } from "./emulator-settings.js";
import { ExitCode } from "./exit-codes.js";

export const STATUS_SCHEMA_VERSION = 1;

/** The VM process: `starting` while QEMU runs but the guest is not booted; `crashed` when it died without a stop. */
export type VmState = "stopped" | "starting" | "running" | "crashed";

/**
 * The emulator as a whole: `healthy` (running, all four services up),
 * `degraded` (running or starting, at least one service down: never "not
 * running"), `stopped`, `crashed`.
 */
export type EmulatorHealth = "healthy" | "degraded" | "stopped" | "crashed";

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly url: string;
  readonly up: boolean;
  /** ISO 8601 time of the last check; null when not checked (VM stopped). */
  readonly lastCheck: string | null;
  readonly detail?: string;
}

export interface StatusReport {
  readonly schemaVersion: typeof STATUS_SCHEMA_VERSION;
  readonly health: EmulatorHealth;
  readonly vm: {
    readonly state: VmState;
    readonly pid: number | null;
    readonly arch: Arch;
    readonly accelerator: Accelerator | null;
    readonly acceleratorReason: string | null;
    readonly cpus: number;
    readonly memoryMb: number;
    readonly uptimeSeconds: number | null;
  };
  readonly image: {
    readonly path: string;
    readonly present: boolean;
    readonly version: string | null;
    readonly sha256: string | null;
    /** Where it came from (`build`, a release URL, a mirror path). */
    readonly source: string | null;
  };
  /** How the last start went (issue 8); null before the first start. */
  readonly lastStart: { readonly mode: "resume" | "cold"; readonly reason: string; readonly at: string } | null;
  readonly services: readonly ServiceStatus[];
  readonly home: string;
}

/** `status`'s exit code: 0 healthy, 3 degraded, 4 stopped, 1 crashed. */
export function statusExitCode(report: Pick<StatusReport, "health">): ExitCode {
  switch (report.health) {
    case "healthy":
      return ExitCode.Ok;
    case "degraded":
      return ExitCode.Degraded;
    case "stopped":
      return ExitCode.Stopped;
    case "crashed":
      return ExitCode.Failure;
  }
}
