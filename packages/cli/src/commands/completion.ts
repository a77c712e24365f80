import { defineStackCommand, type StackCommand } from "../command-runner.js";
import { bashCompletion } from "../completion/bash-completion.js";
import { completionModel } from "../completion/completion-model.js";
import { fishCompletion } from "../completion/fish-completion.js";
import { zshCompletion } from "../completion/zsh-completion.js";
import { ExitCode } from "../exit-codes.js";
import { parseChoice } from "../flag-values.js";

const SHELLS = ["bash", "zsh", "fish"] as const;

/** `stack completion bash|zsh|fish`: prints the completion script for that shell. */
export function completionCommand(root: () => StackCommand) {
  return defineStackCommand({
    meta: { name: "completion", description: "Print a shell completion script: bash, zsh or fish" },
    args: {
      shell: { type: "positional", required: true, description: "bash, zsh or fish", valueHint: "bash|zsh|fish" },
    },
    examples: [
      "source <(stack completion bash)     # in ~/.bashrc",
      "source <(stack completion zsh)      # in ~/.zshrc, after compinit",
      "stack completion fish > ~/.config/fish/completions/stack.fish",
    ],
    async run({ args, io, path }) {
      const shell = parseChoice(args.shell, SHELLS, { flag: "SHELL" }, path);
      const model = completionModel(root());
      const render = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      io.stdout.write(render(model));
      return ExitCode.Ok;
    },
  });
}
