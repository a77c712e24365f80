/**
 * Progress renderers: one interface, three outputs.
 *
 * - `tty`: a spinner (ora) with colour for the current stage, a tick per finished stage;
 * - `plain`: timestamped lines, for pipes and CI (download progress throttled);
 * - both write to stderr, so stdout carries only results (and, with `--json`,
 *   exactly one JSON document). With `--json` the plain renderer is used.
 */
import ora, { type Ora } from "ora";
import type { OutputStream } from "../cli-io.js";
import { formatClock, formatDuration, formatTransfer } from "./format.js";
import type { ProgressEvent } from "./progress-events.js";
import { createStyle, type Style } from "./style.js";

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

/** A terminal stream as ora needs it (process.stderr is one). */
export interface TerminalStream extends OutputStream {
  readonly isTTY?: boolean;
  cursorTo(x: number, y?: number): unknown;
  moveCursor(dx: number, dy: number): unknown;
  clearLine(dir: -1 | 0 | 1): unknown;
}

/** Spinner and colour on a terminal. */
export function createTtyRenderer(options: RendererOptions & { readonly stream: TerminalStream }): ProgressRenderer {
  const colour = options.colour ?? true;
  const style: Style = createStyle(colour);
  let spinner: Ora | undefined;
  let stageText = "";
  const spin = (text: string) => {
    if (spinner === undefined) {
      spinner = ora({
        text,
        stream: options.stream as unknown as NodeJS.WritableStream,
        isEnabled: true,
        discardStdin: false,
        color: colour ? "cyan" : false,
      }).start();
    } else {
      spinner.text = text;
      spinner.render();
    }
  };
  /** Print a permanent line above the spinner. */
  const persist = (symbol: string, text: string) => {
    if (spinner !== undefined) {
      spinner.clear();
      options.stream.write(`${symbol} ${text}\n`);
      spinner.render();
    } else {
      options.stream.write(`${symbol} ${text}\n`);
    }
  };
  return {
    event(event) {
      const text = describeEvent(event);
      if (text === undefined) return;
      switch (event.type) {
        case "stage-start":
          stageText = text;
          spin(`${text}...`);
          return;
        case "stage-end":
          if (spinner !== undefined) {
            spinner.stopAndPersist({
              symbol: style("green", "✔"),
              text: `${event.stage} ${style("dim", `(${formatDuration(event.durationMs)})`)}${event.detail === undefined ? "" : ` ${event.detail}`}`,
            });
            spinner = undefined;
          } else {
            persist(style("green", "✔"), text);
          }
          return;
        case "download-progress":
          spin(`${stageText === "" ? "download" : stageText} ${style("cyan", formatTransfer(event))}`);
          return;
        case "service-health":
          persist(event.up ? style("green", "✔") : style("red", "✖"), text);
          return;
        case "resume-failed":
          persist(style("yellow", "⚠"), text);
          return;
        case "message":
          persist(event.level === "warn" ? style("yellow", "⚠") : style("cyan", "ℹ"), text);
          return;
        default:
          persist(style("cyan", "ℹ"), text);
      }
    },
    info: (text) => persist(style("cyan", "ℹ"), text),
    warn: (text) => persist(style("yellow", "⚠"), text),
    close() {
      spinner?.stop();
      spinner = undefined;
    },
  };
}

/** A renderer that shows nothing (for callers that print only a result). */
export function createSilentRenderer(): ProgressRenderer {
  return { event() {}, info() {}, warn() {}, close() {} };
}

const isTerminalStream = (stream: OutputStream): stream is TerminalStream =>
  typeof (stream as Partial<TerminalStream>).cursorTo === "function" &&
  typeof (stream as Partial<TerminalStream>).clearLine === "function";

/**
 * `tty` when fancy output is wanted and the stream is a terminal with a known width, else `plain`. A terminal
 * that reports zero columns (a pty nobody sized, as under `script` without a controlling terminal) gets plain
 * lines: ora divides by the width to count the lines it must clear, and with 0 it never stops clearing.
 */
export function createProgressRenderer(options: RendererOptions & { readonly fancy: boolean }): ProgressRenderer {
  const { stream } = options;
  const width = stream.columns;
  return options.fancy && isTerminalStream(stream) && width !== undefined && width > 0
    ? createTtyRenderer({ ...options, stream })
    : createPlainRenderer(options);
}
