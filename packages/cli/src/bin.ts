#!/usr/bin/env node
/**
 * The `stack` process entry: real argv, streams and environment into
 * `runCli`, its result into `process.exitCode`. SIGINT/SIGTERM abort the
 * running command (which cleans up); a second Ctrl-C exits at once.
 */
import { runCli } from "./run-cli.js";
import { confirmOnTerminal } from "./terminal-confirm.js";

const controller = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals) => {
  interrupts += 1;
  if (interrupts === 1) {
    process.stderr.write(`\n${signal === "SIGINT" ? "Ctrl-C" : signal}: stopping... (press Ctrl-C again to force)\n`);
    controller.abort(new Error(`received ${signal}`));
    return;
  }
  process.stderr.write("forced exit\n");
  process.exit(130);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

// A reader that went away (`stack emulator logs --follow | head`, a parent that was killed) closes our pipe, and the
// next write fails with EPIPE. That is not the command's failure and no place for a stack trace: stop the command the
// way a signal does (it cleans up), and write nothing more to that stream.
const onStreamError = (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  if (!controller.signal.aborted) controller.abort(new Error("the output stream was closed by its reader"));
};
process.stdout.on("error", onStreamError);
process.stderr.on("error", onStreamError);

const isTTY = process.stdout.isTTY === true && process.stderr.isTTY === true;

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY,
  cwd: process.cwd(),
  signal: controller.signal,
  confirm: isTTY
    ? (question) =>
        confirmOnTerminal(question, { input: process.stdin, output: process.stderr, signal: controller.signal })
    : undefined,
});
process.off("SIGINT", onSignal);
process.off("SIGTERM", onSignal);
