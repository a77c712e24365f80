import type { CliDeps } from "../../cli-deps.js";
import { wantsColour } from "../../cli-io.js";
import { defineStackCommand } from "../../command-runner.js";
import { runDoctor } from "../../doctor/run-doctor.js";
import { ExitCode } from "../../exit-codes.js";
import { writeJson } from "../../render/json-output.js";
import { renderDoctorText } from "../../render/status-text.js";
import { createStyle } from "../../render/style.js";
import { archArg, jsonArg, settingsFor } from "../shared.js";

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
port, free disk, the Docker engine (only needed to build images), and the installed image's checksum.
The --json document is described by packages/cli/schemas/doctor.schema.json.

EXIT CODES  0 no check failed (warnings allowed), 1 at least one failed, 2 usage error`,
    async run({ args, io, path }) {
      const settings = settingsFor({ arch: args.arch }, io, deps, path);
      const report = await runDoctor(settings, deps.doctorProbes(io.env), io.signal);
      if (args.json === true) writeJson(io.stdout, report);
      else io.stdout.write(renderDoctorText(report, createStyle(wantsColour(io))));
      return report.verdict === "fail" ? ExitCode.Failure : ExitCode.Ok;
    },
  });
}
