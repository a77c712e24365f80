import type { CliDeps } from "../cli-deps.js";
import { cliVersion } from "../cli-version.js";
import { defineStackCommand, type StackCommand } from "../command-runner.js";
import { buildImageCommand } from "./build-image.js";
import { completionCommand } from "./completion.js";
import { emulatorCommand } from "./emulator/index.js";
import { helpCommand } from "./help.js";

export function rootCommand(deps: CliDeps): StackCommand {
  const root: StackCommand = defineStackCommand({
    meta: { name: "stack", description: "The Hexclave local emulator: run it, inspect it, build its image" },
    examples: [
      "stack emulator doctor        # is this machine ready?",
      "stack emulator pull          # get the published image",
      "stack emulator start         # boot it; prints the four URLs",
      "stack build-image amd64 --profile selftest --base bootstrap",
      "stack help emulator start    # the same as: stack emulator start --help",
      "source <(stack completion bash)",
    ],
    notes: `OPTIONS

  -v, --version  Print the version of stack

ENVIRONMENT  NO_COLOR=1 turns colour off, FORCE_COLOR=1 turns it on without a terminal (FORCE_COLOR=0 off)

EXIT CODES  0 ok, 1 failure, 2 usage error (see each command's --help for more)`,
    version: cliVersion(),
    subCommands: {
      emulator: emulatorCommand(deps),
      "build-image": buildImageCommand(deps),
      help: helpCommand(() => root),
      completion: completionCommand(() => root),
    },
  });
  return root;
}
