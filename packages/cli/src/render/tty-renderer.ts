/**
 * The `tty` progress renderer: a spinner (ora) with colour for the current stage, a tick per finished stage.
 * A module of its own so that commands printing plain lines or JSON never load ora (see `progressFor`).
 */
import ora, { type Ora } from "ora";
import type { OutputStream } from "../cli-io.js";
import { formatDuration, formatTransfer } from "./format.js";
import {
  createPlainRenderer,
  describeEvent,
  type ProgressRenderer,
  type RendererOptions,
} from "./progress-renderer.js";
import { createStyle, type Style } from "./style.js";

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
