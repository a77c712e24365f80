import type { CliDeps } from "../../cli-deps.js";
import { wantsColour } from "../../cli-io.js";
import { defineStackCommand } from "../../command-runner.js";
import { writeJson } from "../../render/json-output.js";
import { renderStatusText } from "../../render/status-text.js";
import { createStyle } from "../../render/style.js";
import { statusExitCode, toStatusReport } from "../../status-report.js";
import { jsonArg, settingsReportingProblems, withRuntime } from "../shared.js";

export function statusCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "status", description: "Show the VM, its accelerator, image and the health of each service" },
    args: { json: jsonArg },
    examples: [
      "stack emulator status",
      "stack emulator status --json | jq .health",
      "stack emulator status >/dev/null; echo $?   # 0 healthy, 3 degraded, 4 stopped, 1 crashed",
    ],
    notes: `Shows whether the last start resumed a saved state or booted cold, and why.
The --json document is described by packages/cli/schemas/status.schema.json.

EXIT CODES
  0  running and healthy
  3  degraded: running, but at least one service is down
  4  stopped
  1  crashed (QEMU died without a stop), broken (QEMU holds the VM in an error state such as
     internal-error: the reason is in vm.failure), or the status could not be read
  2  usage error`,
    async run({ args, io, path }) {
      // A bad EMULATOR_* variable does not stop status (it needs none of them to read the VM): a warning on stderr.
      const { settings, problems, env } = settingsReportingProblems({}, io, deps, path);
      for (const problem of problems) {
        io.stderr.write(
          `warning: ${problem.message.replace(/\.$/, "")}; ignored here, but start and stop refuse it.\n`,
        );
      }
      const status = await withRuntime(deps, { ...io, env }, settings, (runtime) =>
        runtime.status({
          // The runtime reads the arch of a running VM from its record; an explicit EMULATOR_ARCH wins.
          ...(settings.sources.arch === "default" ? {} : { arch: settings.arch }),
          signal: io.signal,
        }),
      );
      const report = toStatusReport(status, settings);
      if (args.json === true) writeJson(io.stdout, report);
      else io.stdout.write(renderStatusText(report, createStyle(wantsColour(io))));
      return statusExitCode(report);
    },
  });
}
