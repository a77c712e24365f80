import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ExitCode } from "../../exit-codes.js";
import { writeJson } from "../../render/json-output.js";
import { UsageError } from "../../usage-error.js";
import { eventSink, jsonArg, settingsFor, withProgress, withRuntime } from "../shared.js";

export function resetCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "reset", description: "Wipe the emulator's data (databases, buckets, mail) back to a fresh state" },
    args: {
      yes: {
        type: "boolean",
        alias: "y",
        description: "Do not ask for confirmation (required when not on a terminal)",
      },
      hard: { type: "boolean", description: "Delete the data disk; the next start is a cold boot" },
      json: jsonArg,
    },
    examples: [
      "stack emulator reset          # asks first",
      "stack emulator reset --yes    # in scripts and CI",
      "stack emulator reset --hard --yes",
    ],
    notes:
      "A running emulator is stopped first.\n\nEXIT CODES  0 reset, 1 failure or declined, 2 usage error (no --yes without a terminal)",
    async run({ args, io, path }) {
      const settings = settingsFor({}, io, deps, path);
      const hard = args.hard === true;
      if (args.yes !== true) {
        if (!io.isTTY || io.confirm === undefined) {
          throw new UsageError(
            "reset wipes the emulator's data and needs confirmation: not on a terminal, so pass --yes.",
            path,
          );
        }
        const ok = await io.confirm(
          `Wipe all emulator data in ${settings.home}${hard ? " (delete the data disk)" : ""}?`,
        );
        if (!ok) {
          io.stderr.write("Cancelled; nothing was changed.\n");
          return ExitCode.Failure;
        }
      }
      const json = args.json === true;
      const result = await withRuntime(deps, io, settings, (runtime) =>
        withProgress(io, json, (renderer) => runtime.reset({ hard, signal: io.signal, onEvent: eventSink(renderer) })),
      );
      if (json) writeJson(io.stdout, result);
      else {
        const what =
          result.mode === "snapshot"
            ? "Data reset: the next start resumes the fresh state."
            : result.mode === "overlay-deleted"
              ? `Data disk deleted (${result.reason}).`
              : "There was no data to reset.";
        io.stdout.write(`${result.stoppedFirst ? "Stopped the emulator. " : ""}${what}\n`);
      }
      return ExitCode.Ok;
    },
  });
}
