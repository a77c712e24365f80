/**
 * What `stack emulator status --json` prints: the runtime's `EmulatorStatus`
 * (image-builder) with a `schemaVersion`. Described by
 * `packages/cli/schemas/status.schema.json` (tests validate real documents
 * against it); change both together and bump `schemaVersion` on a breaking change.
 */
import type { EmulatorStatus } from "@hexclave/emulator";
import { type EmulatorSettings, SERVICE_NAMES, serviceUrls } from "./emulator-settings.js";
import { ExitCode } from "./exit-codes.js";

export const STATUS_SCHEMA_VERSION = 1;

export type StatusReport = { readonly schemaVersion: typeof STATUS_SCHEMA_VERSION } & EmulatorStatus;

/**
 * The report for a runtime status. Without an installed image the runtime
 * knows no services (they come from the image's manifest): the four are
 * listed from the CLI's ports, down, so the document always names them.
 */
export function toStatusReport(status: EmulatorStatus, settings: Pick<EmulatorSettings, "ports">): StatusReport {
  const urls = serviceUrls(settings.ports);
  const services =
    status.services.length > 0
      ? status.services
      : SERVICE_NAMES.map((name) => ({
          name,
          url: urls[name],
          up: false,
          detail: status.image.present ? "not checked" : "no image installed",
          lastCheck: null,
        }));
  return { schemaVersion: STATUS_SCHEMA_VERSION, ...status, services };
}

/** `status`'s exit code: 0 healthy, 3 degraded, 4 stopped, 1 crashed or broken. */
export function statusExitCode(report: Pick<StatusReport, "health">): ExitCode {
  switch (report.health) {
    case "healthy":
      return ExitCode.Ok;
    case "degraded":
      return ExitCode.Degraded;
    case "stopped":
      return ExitCode.Stopped;
    case "crashed":
    case "broken":
      return ExitCode.Failure;
  }
}
