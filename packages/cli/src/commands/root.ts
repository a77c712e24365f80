import type { CliDeps } from "../cli-deps.js";
import { defineStackCommand } from "../command-runner.js";
import { buildImageCommand } from "./build-image.js";
import { emulatorCommand } from "./emulator/index.js";

export function rootCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "stack", description: "The Hexclave local emulator: run it, inspect it, build its image" },
    examples: [
      "stack emulator doctor        # is this machine ready?",
      "stack emulator pull          # get the published image",
      "stack emulator start         # boot it; prints the four URLs",
      "stack build-image amd64 --profile selftest --base bootstrap",
    ],
    notes: "EXIT CODES  0 ok, 1 failure, 2 usage error (see each command's --help for more)",
    subCommands: { emulator: emulatorCommand(deps), "build-image": buildImageCommand(deps) },
  });
}
