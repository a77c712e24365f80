/**
 * The serial-console protocol between the provisioning script in the guest
 * and the warm boot on the host: one line per event, easy to spot in a log.
 *
 * ```
 * HEXCLAVE-STAGE <stage> <guest uptime s>   a stage finished
 * HEXCLAVE-HEALTHY <service>               one health check passed
 * HEXCLAVE-FAILED <stage> <exit code>      the stage in progress failed
 * HEXCLAVE-DONE                             everything done; the guest powers off
 * ```
 */

/** Stages in order; a build reports each as it is reached. */
export const PROVISIONING_STAGES = [
  "provisioning-started",
  "disk-grown",
  "docker-ready",
  "payload-loaded",
  "service-started",
  "services-healthy",
  "services-stopped",
  "cloud-init-disabled",
  "trimmed",
] as const;
export type ProvisioningStage = (typeof PROVISIONING_STAGES)[number];

export const STAGE_MARKER = "HEXCLAVE-STAGE";
export const HEALTHY_MARKER = "HEXCLAVE-HEALTHY";
export const FAILED_MARKER = "HEXCLAVE-FAILED";
export const DONE_MARKER = "HEXCLAVE-DONE";

export type SerialMarker =
  | { readonly kind: "stage"; readonly stage: string; readonly uptimeSeconds?: number }
  | { readonly kind: "healthy"; readonly service: string }
  | { readonly kind: "failed"; readonly stage: string; readonly exitCode?: number }
  | { readonly kind: "done" };

/** Parses one serial line; `undefined` when it is not a marker. Tolerates console noise before the marker. Pure. */
export function parseMarker(line: string): SerialMarker | undefined {
  const m = /HEXCLAVE-(STAGE|HEALTHY|FAILED|DONE)(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?/.exec(line.replace(/\r$/, ""));
  if (m === null) return undefined;
  const [, kind, a, b] = m;
  const num = (s: string | undefined) => (s !== undefined && /^\d+(\.\d+)?$/.test(s) ? Number(s) : undefined);
  switch (kind) {
    case "STAGE": {
      if (a === undefined) return undefined;
      const uptime = num(b);
      return uptime === undefined ? { kind: "stage", stage: a } : { kind: "stage", stage: a, uptimeSeconds: uptime };
    }
    case "HEALTHY":
      return a === undefined ? undefined : { kind: "healthy", service: a };
    case "FAILED": {
      const code = num(b);
      return code === undefined
        ? { kind: "failed", stage: a ?? "unknown" }
        : { kind: "failed", stage: a ?? "unknown", exitCode: code };
    }
    default:
      return { kind: "done" };
  }
}
