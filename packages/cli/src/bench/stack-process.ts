/**
 * The whole-command bench's runner: `stack emulator <args>` as a new process
 * of this same CLI (this Node, this script), timed from its spawn to its exit.
 */
import { type CommandRunner, execaRunner } from "@hexclave/qemu-core";
import type { RunStackCommand } from "./whole-command-bench.js";

/** How to start this CLI again: the Node binary and its script (process.execPath, process.argv[1]). */
export interface StackInvocation {
  readonly file: string;
  readonly args: readonly string[];
}

export function thisStackInvocation(): StackInvocation {
  return { file: process.execPath, args: process.argv[1] === undefined ? [] : [process.argv[1]] };
}

export function stackCommandRunner(
  invocation: StackInvocation,
  options: { readonly cwd: string; readonly env: Readonly<Record<string, string | undefined>> },
  runner: CommandRunner = execaRunner,
): RunStackCommand {
  return async (args, env, signal) => {
    const began = performance.now();
    const r = await runner(invocation.file, [...invocation.args, "emulator", ...args], {
      cwd: options.cwd,
      env: { ...options.env, ...env },
      ...(signal === undefined ? {} : { signal }),
    });
    const wholeMs = performance.now() - began;
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, wholeMs };
  };
}
