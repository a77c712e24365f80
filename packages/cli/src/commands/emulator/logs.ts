import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ExitCode } from "../../exit-codes.js";
import { UsageError } from "../../usage-error.js";
import { settingsFor, withRuntime } from "../shared.js";

export function logsCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "logs", description: "Show the guest console or the services' logs" },
    args: {
      follow: { type: "boolean", alias: "f", description: "Keep printing new lines until Ctrl-C" },
      serial: { type: "boolean", description: "The guest's serial console (default)" },
      services: { type: "boolean", description: "The services' logs, fetched from the guest" },
    },
    examples: [
      "stack emulator logs",
      "stack emulator logs --services --follow",
      "stack emulator logs --serial | tail -50",
    ],
    notes: "EXIT CODES  0 done (or interrupted while following), 1 failure, 2 usage error",
    async run({ args, io, path }) {
      if (args.serial === true && args.services === true) {
        throw new UsageError("choose one of --serial and --services.", path);
      }
      const settings = settingsFor({}, io, deps, path);
      const follow = args.follow === true;
      await withRuntime(deps, io, settings, async (runtime) => {
        try {
          for await (const line of runtime.logs({
            source: args.services === true ? "services" : "serial",
            follow,
            signal: io.signal,
          })) {
            io.stdout.write(`${line}\n`);
          }
        } catch (error) {
          // --follow ends on Ctrl-C: that is its normal end, not a failure.
          if (!(follow && io.signal.aborted)) throw error;
        }
      });
      return ExitCode.Ok;
    },
  });
}
