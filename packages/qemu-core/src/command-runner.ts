/**
 * The one seam through which qemu-core runs external programs. Everything that
 * spawns a process takes an optional {@link CommandRunner}, so tests can inject
 * a fake for what cannot exist on the test machine (macOS HVF, Windows WHPX)
 * and production code uses {@link execaRunner}.
 *
 * execa (about a hundred modules) is imported on the first command, not with
 * qemu-core: a caller that only reads files (`stack emulator status` with the
 * VM stopped) should not pay for loading it.
 */
import { qemuErrors } from "./errors-data.js";

export interface CommandOptions {
  /** Cancels the command: SIGTERM, then SIGKILL after `forceKillAfterMs`; the runner then throws `ABORTED`. */
  readonly signal?: AbortSignal | undefined;
  /** Kill the command after this many milliseconds (SIGTERM, then SIGKILL); the result has `timedOut: true`. */
  readonly timeoutMs?: number | undefined;
  /** Written to the command's stdin (which is then closed). Without it stdin is empty. */
  readonly input?: string | Uint8Array | undefined;
  /** Extra environment variables (merged over the current environment). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly cwd?: string | undefined;
  /** Grace period between SIGTERM and SIGKILL. Default 2000 ms. */
  readonly forceKillAfterMs?: number | undefined;
  /**
   * Called with the output so far as it arrives: true ends the command at once (SIGKILL) and the result has
   * `stoppedEarly: true` (a QEMU that reported an accelerator failure and holds its VM paused never exits).
   */
  readonly stopWhen?: ((output: { readonly stdout: string; readonly stderr: string }) => boolean) | undefined;
}

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code; `null` when the process was killed by a signal or never started. */
  readonly exitCode: number | null;
  /** The signal that ended the process (`SIGTERM`, `SIGKILL`), when one did. */
  readonly signal?: string | undefined;
  /** True when `timeoutMs` elapsed and the process was killed. */
  readonly timedOut?: boolean | undefined;
  /** Set when the process could not be started at all (`ENOENT`, `EACCES`). */
  readonly spawnError?: { readonly code: string; readonly message: string } | undefined;
  /** True when `stopWhen` ended the command. */
  readonly stoppedEarly?: boolean | undefined;
}

/**
 * Runs `file` with an argument array (never a shell string) and resolves with
 * its output whatever the exit code (`reject: false` style). A non-zero exit,
 * a timeout or a failure to spawn are reported in the result; only an abort
 * through `signal` rejects (with `ABORTED`, after the process is gone).
 */
export type CommandRunner = (file: string, args: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

const DEFAULT_FORCE_KILL_MS = 2000;

/** The default {@link CommandRunner}, built on execa. */
export const execaRunner: CommandRunner = async (file, args, options = {}) => {
  if (options.signal?.aborted === true) {
    throw qemuErrors.create("ABORTED", `${file} was cancelled before it started`, { cause: options.signal.reason });
  }
  const { execa } = await import("execa");
  const subprocess = execa(file, [...args], {
    reject: false,
    stripFinalNewline: false,
    ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
    ...(options.timeoutMs === undefined ? {} : { timeout: Math.max(1, Math.round(options.timeoutMs)) }),
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env as Record<string, string> }),
    forceKillAfterDelay: options.forceKillAfterMs ?? DEFAULT_FORCE_KILL_MS,
    killSignal: "SIGTERM",
  });
  let stoppedEarly = false;
  if (options.stopWhen !== undefined) {
    const seen = { stdout: "", stderr: "" };
    const stopWhen = options.stopWhen;
    const watch = (name: "stdout" | "stderr") => (chunk: Buffer | string) => {
      seen[name] += String(chunk);
      if (!stoppedEarly && stopWhen(seen)) {
        stoppedEarly = true;
        subprocess.kill("SIGKILL");
      }
    };
    subprocess.stdout?.on("data", watch("stdout"));
    subprocess.stderr?.on("data", watch("stderr"));
  }
  const result = await subprocess;
  if (result.isCanceled) {
    throw qemuErrors.create("ABORTED", `${file} was cancelled`, {
      cause: options.signal?.reason,
      details: { file, args: [...args] },
    });
  }
  const errno = (result as { code?: unknown }).code;
  const spawnError =
    result.failed && result.exitCode === undefined && !result.timedOut && result.signal === undefined
      ? { code: typeof errno === "string" ? errno : "ESPAWN", message: result.shortMessage ?? String(result.cause) }
      : undefined;
  return {
    stdout: typeof result.stdout === "string" ? result.stdout : "",
    stderr: typeof result.stderr === "string" ? result.stderr : "",
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? undefined,
    timedOut: result.timedOut,
    spawnError,
    ...(stoppedEarly ? { stoppedEarly: true } : {}),
  };
};

/** Throws `COMMAND_FAILED` (with the output in the message and details) unless the command exited 0. */
export function assertCommandSucceeded(file: string, args: readonly string[], result: CommandResult): CommandResult {
  if (result.exitCode === 0) return result;
  const why =
    result.spawnError !== undefined
      ? `could not be started (${result.spawnError.code})`
      : result.timedOut === true
        ? "timed out"
        : result.exitCode === null
          ? `was killed by ${result.signal ?? "a signal"}`
          : `exited with code ${result.exitCode}`;
  const output = `${result.stderr}${result.stdout}`.trim().split("\n").slice(-20).join("\n");
  throw qemuErrors.create("COMMAND_FAILED", `${file} ${why}${output === "" ? "" : `:\n${output}`}`, {
    details: { file, args: [...args], exitCode: result.exitCode, stderr: result.stderr },
  });
}
