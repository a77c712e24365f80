import { wantsColour } from "../cli-io.js";
import { defineStackCommand, renderHelp, type StackCommand } from "../command-runner.js";
import { ExitCode } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";

/** `stack help [command] [subcommand]`: the same text as `stack <command> <subcommand> --help`. */
export function helpCommand(root: () => StackCommand) {
  return defineStackCommand({
    meta: { name: "help", description: "Show help for stack or one of its commands" },
    args: {
      command: { type: "positional", required: false, description: "A command, e.g. emulator" },
      subcommand: { type: "positional", required: false, description: "One of its subcommands, e.g. start" },
    },
    examples: ["stack help", "stack help emulator start"],
    async run({ args, io, path }) {
      let command = root();
      const names: string[] = [];
      for (const name of [args.command, args.subcommand]) {
        if (name === undefined || name === "") continue;
        const next = command.subCommands?.[name];
        if (next === undefined) {
          const available = Object.keys(command.subCommands ?? {});
          const where = ["stack", ...names].join(" ");
          throw new UsageError(
            available.length === 0
              ? `"${where}" has no subcommands.`
              : `unknown command "${name}" for ${where}; available: ${available.join(", ")}.`,
            path,
          );
        }
        names.push(name);
        command = next;
      }
      io.stdout.write(await renderHelp(command, names, wantsColour(io)));
      return ExitCode.Ok;
    },
  });
}
