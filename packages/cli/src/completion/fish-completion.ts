// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are shell code, where ${...} is shell syntax.
/**
 * `stack completion fish`: fish `complete` rules generated from the command
 * tree. A helper function finds the command path among the tokens typed so
 * far; each rule applies to one path.
 */
import { shellQuote } from "./bash-completion.js";
import { type CompletionFlag, type CompletionNode, subcommandSteps, type ValueCompletion } from "./completion-model.js";

const key = (path: readonly string[]) => path.join(" ");

function valueOptions(value: ValueCompletion): string {
  switch (value.kind) {
    case "choices":
      return `-x -a ${shellQuote(value.choices.join(" "))}`;
    case "file":
      return "-r -F";
    case "directory":
      return "-x -a '(__fish_complete_directories)'";
    case "none":
      return "-x";
  }
}

function flagOptions(flag: CompletionFlag): string {
  return flag.spellings.map((s) => (s.startsWith("--") ? `-l ${s.slice(2)}` : `-s ${s.slice(1)}`)).join(" ");
}

export function fishCompletion(nodes: readonly CompletionNode[], bin = "stack"): string {
  const prefix = `__${bin.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const lines: string[] = [
    `# fish completion for ${bin}. Load it with:  ${bin} completion fish | source`,
    `# or install it:  ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`,
    `function ${prefix}_command_path`,
    "    set -l key ''",
    "    for word in (commandline -opc)[2..-1]",
    "        string match -q -- '-*' $word; and continue",
    '        switch "$key|$word"',
  ];
  for (const step of subcommandSteps(nodes)) {
    lines.push(`            case ${shellQuote(step.match)}`, `                set key ${shellQuote(step.to)}`);
  }
  lines.push(
    "        end",
    "    end",
    '    echo "$key"',
    "end",
    `function ${prefix}_at`,
    `    test "$(${prefix}_command_path)" = "$argv[1]"`,
    "end",
    `complete -c ${bin} -f`,
  );
  for (const node of nodes) {
    const condition = `-n ${shellQuote(`${prefix}_at ${shellQuote(key(node.path))}`)}`;
    for (const sub of node.subcommands) {
      lines.push(`complete -c ${bin} ${condition} -a ${shellQuote(sub.name)} -d ${shellQuote(sub.description)}`);
    }
    if (node.positional?.kind === "choices") {
      lines.push(`complete -c ${bin} ${condition} -a ${shellQuote(node.positional.choices.join(" "))}`);
    } else if (node.positional?.kind === "file" || node.positional?.kind === "directory") {
      lines.push(`complete -c ${bin} ${condition} -F`);
    }
    for (const flag of node.flags) {
      const value = flag.value === undefined ? "" : ` ${valueOptions(flag.value)}`;
      lines.push(`complete -c ${bin} ${condition} ${flagOptions(flag)}${value} -d ${shellQuote(flag.description)}`);
    }
  }
  lines.push("");
  return lines.join("\n");
}
