import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { benchCommand } from "./bench.js";
import { doctorCommand } from "./doctor.js";
import { logsCommand } from "./logs.js";
import { pullCommand } from "./pull.js";
import { resetCommand } from "./reset.js";
import { startCommand } from "./start.js";
import { statusCommand } from "./status.js";
import { stopCommand } from "./stop.js";

export function emulatorCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "emulator", description: "Run the local Hexclave emulator (a QEMU VM with every backend service)" },
    examples: [
      "stack emulator doctor",
      "stack emulator pull",
      "stack emulator start",
      "stack emulator status",
      "stack emulator stop",
    ],
    subCommands: {
      start: startCommand(deps),
      stop: stopCommand(deps),
      reset: resetCommand(deps),
      status: statusCommand(deps),
      bench: benchCommand(deps),
      pull: pullCommand(deps),
      logs: logsCommand(deps),
      doctor: doctorCommand(deps),
    },
  });
}
