/**
 * `runCli(argv, io)`: the whole CLI as a function from arguments to an exit
 * code, with no process globals, so tests run it like `bin.ts` does.
 *
 * This is the ONE error boundary: commands throw, this prints and picks the
 * exit code.
 * - `UsageError` (unknown command/flag, bad value, bad environment variable):
 *   `error: <problem>` and `Run 'stack <cmd> --help' for usage.`, exit 2.
 * - `HexclaveError` (any library's, recognised by `HexclaveError.is`):
 *   `error <CODE>: <message>` and `hint: <hint>`, exit 1.
 * - Cancellation (Ctrl-C) once the signal is aborted: `interrupted`, exit 130.
 * - Anything else: a short message and a "please report" hint, exit 1.
 * Stack traces only with `HEXCLAVE_DEBUG=1`. With `--json`, stdout also
 * gets one `{"error": {...}}` document, so it always holds exactly one.
 */
import { HexclaveError } from "@hexclave/qemu-core";
import { type CliDeps, defaultCliDeps } from "./cli-deps.js";
import type { CliIo } from "./cli-io.js";
import { runCommandTree } from "./command-runner.js";
import { rootCommand } from "./commands/root.js";
import { ExitCode } from "./exit-codes.js";
import { writeJson } from "./render/json-output.js";
import { UsageError } from "./usage-error.js";

export const ISSUES_URL = "https://github.com/hexclave/emulator/issues";

export async function runCli(argv: readonly string[], io: CliIo, deps?: Partial<CliDeps>): Promise<number> {
  try {
    const resolved: CliDeps = { ...defaultCliDeps(), ...deps };
    return await runCommandTree(rootCommand(resolved), argv, io);
  } catch (error) {
    return reportError(error, argv, io);
  }
}

function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

function debugEnabled(io: CliIo): boolean {
  const value = io.env.HEXCLAVE_DEBUG;
  return value !== undefined && value !== "" && value !== "0";
}

function causeChain(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  let depth = 0;
  while (current !== undefined && current !== null && depth < 8) {
    lines.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    depth += 1;
    if (current !== undefined && current !== null) lines.push("caused by:");
  }
  return lines.join("\n");
}

/** Prints `error` as the rules above say and returns the exit code. */
export function reportError(error: unknown, argv: readonly string[], io: CliIo): number {
  const json = wantsJson(argv);
  const debug = debugEnabled(io);
  const emit = (document: { code: string; message: string; hint: string }) => {
    if (json) writeJson(io.stdout, { error: document });
  };
  if (UsageError.is(error)) {
    const help = ["stack", ...error.commandPath, "--help"].join(" ");
    io.stderr.write(`error: ${error.message}\nRun '${help}' for usage.\n`);
    emit({ code: "USAGE", message: error.message, hint: `Run '${help}' for usage.` });
    return ExitCode.Usage;
  }
  if (io.signal.aborted && (isAbortError(error) || (HexclaveError.is(error) && error.code === "ABORTED"))) {
    io.stderr.write("interrupted: stopped cleanly; nothing was left half-done.\n");
    emit({ code: "ABORTED", message: "interrupted", hint: "" });
    return ExitCode.Interrupted;
  }
  if (HexclaveError.is(error)) {
    io.stderr.write(`error ${error.code}: ${error.message}\n`);
    if (error.hint !== "") io.stderr.write(`hint: ${error.hint}\n`);
    if (debug) io.stderr.write(`${causeChain(error)}\n`);
    emit({ code: error.code, message: error.message, hint: error.hint });
    return ExitCode.Failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`error: unexpected failure: ${message}\n`);
  io.stderr.write(
    debug
      ? `${causeChain(error)}\n`
      : `hint: this is a bug in stack; please report it at ${ISSUES_URL} with the output of the same command run with HEXCLAVE_DEBUG=1.\n`,
  );
  emit({ code: "UNEXPECTED", message, hint: `Please report it at ${ISSUES_URL}.` });
  return ExitCode.Failure;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { code?: unknown }).code === "ABORT_ERR");
}
