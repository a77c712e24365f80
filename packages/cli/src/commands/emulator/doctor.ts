import type { CliDeps } from "../../cli-deps.js";
import { wantsColour } from "../../cli-io.js";
import { defineStackCommand } from "../../command-runner.js";
import { type DoctorReport, overallVerdict } from "../../doctor/doctor-report.js";
import { environmentVariableCheck, stackOnPathCheck } from "../../doctor/environment-checks.js";
import { runDoctor } from "../../doctor/run-doctor.js";
import { ExitCode } from "../../exit-codes.js";
import { writeJson } from "../../render/json-output.js";
import { renderDoctorText } from "../../render/status-text.js";
import { createStyle } from "../../render/style.js";
import { archArg, jsonArg, settingsReportingProblems } from "../shared.js";

export function doctorCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "doctor", description: "Check every prerequisite and say how to fix what is missing" },
    args: { arch: archArg, json: jsonArg },
    examples: [
      "stack emulator doctor",
      "stack emulator doctor --arch arm64",
      "stack emulator doctor --json | jq '.checks[] | select(.verdict != \"ok\")'",
    ],
    notes: `Checks QEMU and its version, UEFI firmware, the accelerator (and why KVM is or is not used), each host
port, free disk, the Docker engine (only needed to build images), the installed image's checksum, every
EMULATOR_* variable (a bad value is a failed check, not a refusal) and which program "stack" on PATH runs.
The --json document is described by packages/cli/schemas/doctor.schema.json.

EXIT CODES  0 no check failed (warnings allowed), 1 at least one failed, 2 usage error`,
    async run({ args, io, path }) {
      // A bad EMULATOR_* variable is a failed check here, not a usage error: doctor is what people run when stuck.
      const { settings, problems, env } = settingsReportingProblems({ arch: args.arch }, io, deps, path);
      const [machine, onPath] = await Promise.all([
        runDoctor(settings, deps.doctorProbes(env), io.signal),
        deps.stackOnPath(io.env),
      ]);
      const checks = [...problems.map(environmentVariableCheck), ...machine.checks, stackOnPathCheck(onPath)];
      const report: DoctorReport = { ...machine, verdict: overallVerdict(checks), checks };
      if (args.json === true) writeJson(io.stdout, report);
      else io.stdout.write(renderDoctorText(report, createStyle(wantsColour(io))));
      return report.verdict === "fail" ? ExitCode.Failure : ExitCode.Ok;
    },
  });
}
