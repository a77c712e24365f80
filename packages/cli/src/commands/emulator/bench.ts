import { HOME_ENV, MACHINE_SETTINGS } from "@hexclave/emulator";
import { runWholeCommandBench } from "../../bench/whole-command-bench.js";
import {
  BENCH_SCHEMA_VERSION,
  parseBenchConfigs,
  summariseConfig,
  type WholeBenchReport,
} from "../../bench/whole-command-stats.js";
import { writeBenchReport } from "../../bench/write-report.js";
import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ACCEL_ENV, ARCH_ENV } from "../../emulator-settings.js";
import { ExitCode } from "../../exit-codes.js";
import { parseInteger } from "../../flag-values.js";
import { requireInstalledImage } from "../../image-store.js";
import { renderWholeBenchTables, STEP_LABELS } from "../../render/bench-whole-table.js";
import { formatDuration } from "../../render/format.js";
import { writeJson } from "../../render/json-output.js";
import { UsageError } from "../../usage-error.js";
import { accelArg, jsonArg, settingsFor } from "../shared.js";

export function benchCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: {
      name: "bench",
      description: "Time start (cold, resume), stop, reset and status as whole commands, with their phases",
    },
    args: {
      runs: {
        type: "string",
        description: "Cycles per configuration, >= 1 (default 3)",
        valueHint: "N",
      },
      configs: {
        type: "string",
        description: `Machine sizes to bench, comma-separated: default (EMULATOR_CPUS/EMULATOR_RAM_MB or ${MACHINE_SETTINGS.cpus.default} CPUs, ${MACHINE_SETTINGS.memoryMb.default} MB) or CPUSxMB (default: default)`,
        valueHint: "default,2x2048",
      },
      report: {
        type: "string",
        description: "Also write a self-contained HTML page with the waterfall of the phases and the command bars",
        valueHint: "FILE.html",
      },
      accel: accelArg,
      json: jsonArg,
    },
    examples: [
      "stack emulator bench",
      "stack emulator bench --runs 5 --configs default,2x2048 --report bench.html",
      "stack emulator bench --json > bench.json",
    ],
    notes: `Runs \`stack emulator ...\` as new processes, as you would, and times each from its spawn to its exit.
Per configuration, after \`reset --hard --yes\` (it wipes the emulator's data: a reset needs a fresh
snapshot of the machine size, which the first cold start then saves): N times \`status --json\` (stopped); then N cycles of start (cold boot)
-> status --json (running) -> stop (suspend) -> start (resume) -> reset --yes -> start, each cycle after the
first beginning with \`stop --no-snapshot\`. Prints per command the median, min and max; the suspend's save time
and size; each start's phases since QEMU's spawn (qemu-up, guest-booted, each service, all-healthy); and the
cold/resume ratios. Leaves the emulator running. Uses EMULATOR_ARCH and the port variables; a configuration
sets EMULATOR_CPUS and EMULATOR_RAM_MB for its commands.
--json prints { schemaVersion: 2, arch, accel, runs, at, configs: [{ label, cpus, memoryMb, samples: [{ step,
wholeMs, exitCode, phases?, bootKind?, saveMs?, saveBytes? }] }], summary: [{ label, cpus, memoryMb, whole: { <step>: { min,
median, max, count } }, phases: { cold|resume|reset: [{ phase, medianMs }] }, save, coldResumeRatioWhole,
coldResumeRatioFromSpawn }] }.
EXIT CODES  0 done, 1 failure, 2 usage error`,
    async run({ args, io, path }) {
      const settings = settingsFor({ accel: args.accel }, io, deps, path);
      const runs =
        args.runs === undefined ? 3 : parseInteger(args.runs, { flag: "--runs" }, { min: 1, max: 100 }, path);
      const configs = parseBenchConfigs(args.configs ?? "default", {
        cpus: settings.cpus,
        memoryMb: settings.memoryMb,
      });
      if (configs === null) {
        throw new UsageError(
          `--configs must be a comma-separated list of default or CPUSxMB (like 2x2048, at least ${MACHINE_SETTINGS.memoryMb.min} MB), got "${args.configs}".`,
          path,
        );
      }
      if (args.report !== undefined && !/\.html?$/i.test(args.report)) {
        throw new UsageError(`--report names an HTML file (FILE.html), got "${args.report}".`, path);
      }
      await requireInstalledImage(settings.home, settings.arch);
      const json = args.json === true;
      const run = deps.stackCommand({
        cwd: io.cwd,
        env: {
          ...io.env,
          [HOME_ENV]: settings.home,
          [ARCH_ENV]: settings.arch,
          ...(args.accel === undefined ? {} : { [ACCEL_ENV]: args.accel }),
        },
      });
      const result = await runWholeCommandBench({
        runs,
        configs,
        run,
        signal: io.signal,
        onEvent: (event) => {
          if (event.type === "config") io.stderr.write(`bench: ${event.config.label}\n`);
          else io.stderr.write(`  ${STEP_LABELS[event.sample.step]}: ${formatDuration(event.sample.wholeMs)}\n`);
        },
      });
      const report: WholeBenchReport = {
        schemaVersion: BENCH_SCHEMA_VERSION,
        arch: settings.arch,
        accel: result.accel as WholeBenchReport["accel"],
        runs,
        at: new Date().toISOString(),
        configs: result.configs,
        summary: result.configs.map(summariseConfig),
      };
      if (args.report !== undefined) {
        const file = await writeBenchReport(args.report, report, io.cwd);
        io.stderr.write(`bench: report written to ${file}\n`);
      }
      if (json) writeJson(io.stdout, report);
      else io.stdout.write(renderWholeBenchTables(report.summary));
      return ExitCode.Ok;
    },
  });
}
