import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import type { EmulatorStopResult } from "../../emulator-runtime.js";
import { ExitCode } from "../../exit-codes.js";
import { formatDuration } from "../../render/format.js";
import { writeJson } from "../../render/json-output.js";
import { eventSink, jsonArg, settingsFor, withProgress, withRuntime } from "../shared.js";

export function stopCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "stop", description: "Stop the emulator, saving its state for a fast next start" },
    args: {
      snapshot: { type: "boolean", default: true, description: "Shut the guest down instead of saving its state" },
      json: jsonArg,
    },
    examples: ["stack emulator stop", "stack emulator stop --no-snapshot   # full shutdown; next start is a cold boot"],
    notes:
      "Stopping a stopped emulator does nothing.\n\nEXIT CODES  0 stopped (or was not running), 1 failure, 2 usage error",
    async run({ args, io, path }) {
      const settings = settingsFor({ snapshot: args.snapshot }, io, deps, path);
      const json = args.json === true;
      const result = await withRuntime(deps, io, settings, (runtime) =>
        withProgress(io, json, (renderer) =>
          runtime.stop({ noSnapshot: !settings.snapshot, signal: io.signal, onEvent: eventSink(renderer) }),
        ),
      );
      if (json) writeJson(io.stdout, result);
      else if (!result.wasRunning) io.stdout.write("The emulator is not running; nothing to stop.\n");
      else if (result.suspended)
        io.stdout.write(
          `Emulator stopped in ${formatDuration(result.durationMs)}; its state is saved: the next start resumes it.\n`,
        );
      else
        io.stdout.write(
          `Emulator stopped in ${formatDuration(result.durationMs)} (${result.method})${result.reason === undefined ? "" : `; its state was not saved: ${result.reason}`}. The next start is a cold boot.\n`,
        );
      if (!json && result.configFile !== undefined) {
        const line = configWriteBackLine(result.configFile);
        (line.startsWith("warning:") ? io.stderr : io.stdout).write(line);
      }
      return ExitCode.Ok;
    },
  });
}

/** The `--config-file` write-back of a stop, for people: written (with the backup), or a conflict naming both files. */
export function configWriteBackLine(c: NonNullable<EmulatorStopResult["configFile"]>): string {
  switch (c.outcome) {
    case "unchanged":
      return `Config file ${c.hostPath}: unchanged.\n`;
    case "written":
      return `Config file written back to ${c.hostPath} (previous copy: ${c.backupPath}).\n`;
    case "conflict":
      return `warning: config file conflict: ${c.hostPath} changed on the host while the emulator ran and was kept; the emulator's version is in ${c.guestCopyPath}. Merge them by hand.\n`;
    case "failed":
      return `warning: the config file was not written back: ${c.message}\n`;
  }
}
