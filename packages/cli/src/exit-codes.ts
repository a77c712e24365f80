/**
 * Exit codes of `stack`. Every command returns one of these; only `runCli`
 * turns errors into them.
 */
export const ExitCode = {
  /** Success; for `status`: running and every service healthy. */
  Ok: 0,
  /** Failure (a HexclaveError, an unexpected error); for `status`: crashed. */
  Failure: 1,
  /** Bad usage: unknown command or flag, bad value, bad environment variable. */
  Usage: 2,
  /** `status` only: running, but at least one service is down. */
  Degraded: 3,
  /** `status` only: not running (never started, or stopped cleanly). */
  Stopped: 4,
  /** Interrupted by Ctrl-C / SIGTERM (128 + SIGINT). */
  Interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
