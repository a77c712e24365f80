/**
 * Progress renderers: one interface, three outputs.
 *
 * - `tty`: a spinner (ora) with colour for the current stage, a tick per finished stage (tty-renderer.ts, loaded
 *   only by a command that draws on a terminal: ora and its colour packages are dozens of modules);
 * - `plain`: timestamped lines, for pipes and CI (download progress throttled);
 * - both write to stderr, so stdout carries only results (and, with `--json`,
 *   exactly one JSON document). With `--json` the plain renderer is used.
 */
import type { OutputStream } from "../cli-io.js";
import { formatClock, formatDuration, formatTransfer } from "./format.js";
import type { ProgressEvent } from "./progress-events.js";

export interface ProgressRenderer {
  event(event: ProgressEvent): void;
  info(text: string): void;
  warn(text: string): void;
  /** Stops any spinner; call in `finally`. */
  close(): void;
}

export interface RendererOptions {
  readonly stream: OutputStream;
  /** Colour in the tty renderer (default on); off with NO_COLOR (see `wantsColour`). */
  readonly colour?: boolean;
  /** Clock, injectable for tests. */
  readonly now?: () => Date;
}

/** Human text for one event (without timestamp or symbol); undefined when the event has nothing to say. */
export function describeEvent(event: ProgressEvent): string | undefined {
  switch (event.type) {
    case "stage-start":
      return event.label ?? event.stage;
    case "stage-end":
      return `${event.stage} done in ${formatDuration(event.durationMs)}${event.detail === undefined ? "" : ` (${event.detail})`}`;
    case "download-progress":
      return `download ${formatTransfer(event)}`;
    case "accelerator":
      return `accelerator: ${event.accel} (${event.reason})`;
    case "boot-mode":
      return event.mode === "resume" ? `resuming saved state: ${event.reason}` : `cold boot: ${event.reason}`;
    case "resume-failed":
      return `resume from snapshot "${event.snapshot}" failed: ${event.error}; booting cold`;
    case "qemu-up":
      return `QEMU up${event.pid === null ? "" : ` (pid ${event.pid})`} after ${formatDuration(event.elapsedMs)}`;
    case "guest-booted":
      return `guest booted after ${formatDuration(event.elapsedMs)}`;
    case "service-health":
      return `${event.service} ${event.up ? "up" : `down${event.detail === undefined || event.detail === "" ? "" : ` (${event.detail})`}`} after ${formatDuration(event.elapsedMs)}  ${event.url}`;
    case "ready":
      return `all services healthy after ${formatDuration(event.elapsedMs)}`;
    case "snapshot-saved":
      return `snapshot "${event.name}" saved in ${formatDuration(event.durationMs)}`;
    case "snapshot-deleted":
      return `snapshot "${event.name}" deleted`;
    case "marker":
      return `guest: ${event.name}${event.elapsedMs === undefined ? "" : ` after ${formatDuration(event.elapsedMs)}`}`;
    case "message":
      return event.text;
  }
}

/** Timestamped lines: `12:03:04 boot done in 41.2 s`. Download progress at most every 10 % or 5 s. */
export function createPlainRenderer(options: RendererOptions): ProgressRenderer {
  const now = options.now ?? (() => new Date());
  let lastDownloadAt = 0;
  let lastDownloadDecile = -1;
  const line = (text: string) => options.stream.write(`${formatClock(now())} ${text}\n`);
  return {
    event(event) {
      if (event.type === "download-progress") {
        const t = now().getTime();
        const decile =
          typeof event.total === "number" && event.total > 0 ? Math.floor((event.transferred / event.total) * 10) : -1;
        const done = typeof event.total === "number" && event.transferred >= event.total;
        if (!done && decile === lastDownloadDecile && t - lastDownloadAt < 5000) return;
        lastDownloadAt = t;
        lastDownloadDecile = decile;
      }
      const text = describeEvent(event);
      if (text === undefined) return;
      if ((event.type === "message" && event.level === "warn") || event.type === "resume-failed")
        line(`warning: ${text}`);
      else if (event.type === "stage-start") line(`${text}...`);
      else line(text);
    },
    info: (text) => line(text),
    warn: (text) => line(`warning: ${text}`),
    close() {},
  };
}

/** A renderer that shows nothing (for callers that print only a result). */
export function createSilentRenderer(): ProgressRenderer {
  return { event() {}, info() {}, warn() {}, close() {} };
}
