import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ExitCode } from "../../exit-codes.js";
import { parseInteger } from "../../flag-values.js";
import { renderBenchTable, summariseBench } from "../../render/bench-summary.js";
import { writeJson } from "../../render/json-output.js";
import { eventSink, jsonArg, settingsFor, withProgress } from "../shared.js";

export function benchCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "bench", description: "Time stop -> start -> all healthy over several runs (cold boot and resume)" },
    args: {
      runs: { type: "string", description: "Number of runs, >= 1 (default 3)", valueHint: "N" },
      json: jsonArg,
    },
    examples: ["stack emulator bench", "stack emulator bench --runs 5 --json > bench.json"],
    notes:
      "Prints min, median and max per phase (QEMU up, guest booted, each service healthy).\n\nEXIT CODES  0 done, 1 failure, 2 usage error",
    async run({ args, io, path }) {
      const settings = settingsFor({}, io, deps, path);
      const runs =
        args.runs === undefined ? 3 : parseInteger(args.runs, { flag: "--runs" }, { min: 1, max: 100 }, path);
      const runtime = await deps.loadRuntime();
      const json = args.json === true;
      const result = await withProgress(io, json, (renderer) =>
        runtime.bench({ settings, runs, signal: io.signal, onEvent: eventSink(renderer) }),
      );
      const summary = summariseBench(result.runs);
      if (json) writeJson(io.stdout, { runs: result.runs, summary });
      else io.stdout.write(renderBenchTable(summary));
      return ExitCode.Ok;
    },
  });
}
