/**
 * Everything the CLI touches in its process, passed in so `runCli` can run in
 * tests exactly as it runs from `bin.ts`: the two output streams, the
 * environment, whether stdout is a terminal, the working directory, and the
 * cancellation signal (Ctrl-C).
 */

/** A writable text stream: `process.stdout`, or a collector in tests. */
export interface OutputStream {
  write(chunk: string): unknown;
  /** Terminal width when the stream is a terminal. */
  readonly columns?: number | undefined;
}

export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** True when stdout and stderr are terminals (colour, spinners, prompts). */
  readonly isTTY: boolean;
  readonly cwd: string;
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
  /** Ask a yes/no question on the terminal. Only called when `isTTY`. */
  readonly confirm?: ((question: string) => Promise<boolean>) | undefined;
}

/** True when we run under a CI system: plain output even if a TTY is emulated. */
export function isCi(env: CliIo["env"]): boolean {
  const ci = env.CI;
  return (ci !== undefined && ci !== "" && ci !== "0" && ci !== "false") || env.GITHUB_ACTIONS === "true";
}

/** Fancy output (spinners, redrawn lines) only on a real terminal, outside CI, without TERM=dumb. Colour: {@link wantsColour}. */
export function wantsFancyOutput(io: Pick<CliIo, "env" | "isTTY">): boolean {
  return io.isTTY && !isCi(io.env) && io.env.TERM !== "dumb";
}

/**
 * Colour, by the common conventions: a non-empty `NO_COLOR` turns it off (no-color.org; empty means unset),
 * `FORCE_COLOR` turns it on even without a terminal (`FORCE_COLOR=0` or `false` turns it off), else colour
 * goes with fancy output.
 */
export function wantsColour(io: Pick<CliIo, "env" | "isTTY">): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== "") return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  return wantsFancyOutput(io);
}
