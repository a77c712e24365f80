/**
 * The events a progress renderer understands: the emulator runtime's
 * `EmulatorEvent`s (image-builder), download progress (pull, build-image) and
 * the build pipeline's stage markers. Library events of other shapes are
 * translated by {@link toProgressEvent}.
 */
import type { EmulatorEvent } from "@hexclave/emulator";

/** Bytes moving: `total` and `etaSeconds` are null when unknown. */
export interface DownloadProgressEvent {
  readonly type: "download-progress";
  readonly transferred: number;
  readonly total: number | null;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null;
}

export type ProgressEvent =
  | EmulatorEvent
  | DownloadProgressEvent
  /** A warm-boot marker seen on the serial console (`payload-loaded`, `services-healthy`...). */
  | { readonly type: "marker"; readonly name: string; readonly elapsedMs?: number };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;
const num = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined;
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

/**
 * Translates a library event to a {@link ProgressEvent}, or undefined for
 * events with nothing to show. Accepts the emulator runtime's events as they
 * are and image-builder's build events (`stage-start`/`stage-end` with
 * `stage`, `download-progress`, `marker`/`stage-marker` with `name` or
 * `marker`, `log`/`message` with `text` or `message`).
 */
export function toProgressEvent(event: unknown): ProgressEvent | undefined {
  if (!isRecord(event)) return undefined;
  const type = str(event.type);
  switch (type) {
    case "stage-start": {
      const stage = str(event.stage);
      if (stage === undefined) return undefined;
      const label = str(event.label) ?? str(event.description);
      return label === undefined ? { type, stage } : { type, stage, label };
    }
    case "stage-end": {
      const stage = str(event.stage);
      if (stage === undefined) return undefined;
      const durationMs = num(event.durationMs) ?? 0;
      const detail = str(event.detail);
      return detail === undefined ? { type, stage, durationMs } : { type, stage, durationMs, detail };
    }
    case "download-progress": {
      const transferred = num(event.transferred) ?? num(event.bytes) ?? 0;
      const total = num(event.total) ?? null;
      const bytesPerSecond = num(event.bytesPerSecond) ?? 0;
      const etaSeconds = num(event.etaSeconds) ?? null;
      return { type, transferred, total, bytesPerSecond, etaSeconds };
    }
    case "marker":
    case "stage-marker":
    case "warm-boot-marker": {
      const name = str(event.name) ?? str(event.marker);
      if (name === undefined) return undefined;
      const elapsedMs = num(event.elapsedMs);
      return elapsedMs === undefined ? { type: "marker", name } : { type: "marker", name, elapsedMs };
    }
    case "accelerator-fallback":
    case "build-accelerator-fallback": {
      const from = str(event.from) ?? "the accelerator";
      const after = num(event.detectedAfterMs);
      return {
        type: "message",
        level: "warn",
        text: `${from} cannot run this guest here${after === undefined ? "" : ` (seen ${(after / 1000).toFixed(1)} s after QEMU started)`}: ${str(event.reason) ?? "unknown"}; starting it again under tcg (remembered for this host; --accel ${from} forces it)`,
      };
    }
    case "accelerator":
    case "boot-mode":
    case "resume-failed":
    case "qemu-up":
    case "guest-booted":
    case "service-health":
    case "ready":
    case "snapshot-saved":
    case "snapshot-deleted":
      return event as unknown as EmulatorEvent;
    case "vm": {
      // The runtime's forwarded VmInstance steps: the ones a user should see, as lines; `debug` ones not at all.
      const text = str(event.text);
      if (text === undefined || (event.level !== "info" && event.level !== "warn")) return undefined;
      return { type: "message", level: event.level, text };
    }
    case "message":
    case "log":
    case "warning": {
      const text = str(event.text) ?? str(event.message) ?? str(event.line);
      if (text === undefined) return undefined;
      const level = type === "warning" || event.level === "warn" || event.level === "warning" ? "warn" : "info";
      return { type: "message", level, text };
    }
    default:
      return undefined;
  }
}
