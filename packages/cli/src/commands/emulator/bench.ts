import type { Accelerator } from "@hexclave/qemu-core";
import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ExitCode } from "../../exit-codes.js";
import { parseInteger } from "../../flag-values.js";
import { requireInstalledImage } from "../../image-store.js";
import { benchReport, renderBenchTable } from "../../render/bench-summary.js";
import { writeJson } from "../../render/json-output.js";
import { accelArg, eventSink, jsonArg, settingsFor, withProgress, withRuntime } from "../shared.js";

export function benchCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "bench", description: "Time stop -> start -> all healthy over several runs (cold boot and resume)" },
    args: {
      runs: {
        type: "string",
        description: "Cycles of each kind (cold boot, resume), >= 1 (default 3)",
        valueHint: "N",
      },
      accel: accelArg,
      json: jsonArg,
    },
    examples: ["stack emulator bench", "stack emulator bench --runs 5 --json > bench.json"],
    notes: `Starts the emulator if needed, then N times: stop without saving -> cold boot -> all healthy, and
stop (suspend) -> resume -> all healthy. Prints min, median and max per phase (QEMU up, guest booted, each
service healthy, all healthy; ms since QEMU was spawned) for cold boots and resumes, and the cold/resume
ratio. Leaves the emulator running. Uses EMULATOR_ARCH, EMULATOR_CPUS, EMULATOR_RAM_MB and the port variables.
--json prints { schemaVersion, arch, cpus, memoryMb, accel, runs: [{ kind, phases, stopMs }],
summary: { cold: { <phase>: { min, median, max, count } }, resume: {...}, ratio } }.
EXIT CODES  0 done, 1 failure, 2 usage error`,
    async run({ args, io, path }) {
      const settings = settingsFor({ accel: args.accel }, io, deps, path);
      const runs =
        args.runs === undefined ? 3 : parseInteger(args.runs, { flag: "--runs" }, { min: 1, max: 100 }, path);
      await requireInstalledImage(settings.home, settings.arch);
      const json = args.json === true;
      let accel: Accelerator | null = null;
      const result = await withRuntime(deps, io, settings, (runtime) =>
        withProgress(io, json, (renderer) => {
          const sink = eventSink(renderer);
          return runtime.bench({
            runs,
            arch: settings.arch,
            cpus: settings.cpus,
            memoryMb: settings.memoryMb,
            ports: settings.ports,
            accel: settings.accel,
            signal: io.signal,
            onEvent: (event) => {
              if (event.type === "accelerator") accel = event.accel;
              sink(event);
            },
          });
        }),
      );
      const report = benchReport(result, {
        arch: settings.arch,
        cpus: settings.cpus,
        memoryMb: settings.memoryMb,
        accel,
      });
      if (json) writeJson(io.stdout, report);
      else io.stdout.write(renderBenchTable(report.summary));
      return ExitCode.Ok;
    },
  });
}
