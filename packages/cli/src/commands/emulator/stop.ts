import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ExitCode } from "../../exit-codes.js";
import { formatDuration } from "../../render/format.js";
import { writeJson } from "../../render/json-output.js";
import { eventSink, jsonArg, settingsFor, withProgress } from "../shared.js";

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
      const runtime = await deps.loadRuntime();
      const json = args.json === true;
      const result = await withProgress(io, json, (renderer) =>
        runtime.stop({ settings, signal: io.signal, onEvent: eventSink(renderer) }),
      );
      if (json) writeJson(io.stdout, result);
      else if (!result.wasRunning) io.stdout.write("The emulator is not running; nothing to stop.\n");
      else
        io.stdout.write(
          `Emulator stopped in ${formatDuration(result.durationMs)}${result.suspended ? " (state saved: the next start resumes it)" : ""}.\n`,
        );
      return ExitCode.Ok;
    },
  });
}
