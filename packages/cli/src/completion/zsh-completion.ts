// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are shell code, where ${...} is shell syntax.
/**
 * `stack completion zsh`: a zsh completion function (with descriptions)
 * generated from the command tree. Works from `$fpath` (as `_stack`) and
 * when sourced.
 */
import { shellQuote } from "./bash-completion.js";
import { type CompletionNode, subcommandSteps, type ValueCompletion } from "./completion-model.js";

const key = (path: readonly string[]) => path.join(" ");
/** A `name:description` entry for `_describe` (colons in the name escaped). */
const entry = (name: string, description: string) => shellQuote(`${name.replaceAll(":", "\\:")}:${description}`);

function valueAction(value: ValueCompletion): string {
  switch (value.kind) {
    case "choices":
      return `compadd -- ${value.choices.map(shellQuote).join(" ")}`;
    case "file":
      return "_files";
    case "directory":
      return "_directories";
    case "none":
      return ":";
  }
}

export function zshCompletion(nodes: readonly CompletionNode[], bin = "stack"): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const lines: string[] = [
    `#compdef ${bin}`,
    `# zsh completion for ${bin}. Load it with:  source <(${bin} completion zsh)`,
    `# or install it as ${fn} in a directory of your $fpath:  ${bin} completion zsh > "\${fpath[1]}/${fn}"`,
    `${fn}() {`,
    '  local key="" word prev i',
    "  local -a commands flags",
    "  for ((i = 2; i < CURRENT; i++)); do",
    "    word=${words[i]}",
    "    [[ $word == -* ]] && continue",
    '    case "$key|$word" in',
  ];
  for (const step of subcommandSteps(nodes)) {
    lines.push(`      (${shellQuote(step.match)}) key=${shellQuote(step.to)} ;;`);
  }
  lines.push("    esac", "  done", "  prev=${words[CURRENT-1]}", '  case "$key|$prev" in');
  for (const node of nodes) {
    for (const flag of node.flags) {
      if (flag.value === undefined) continue;
      const patterns = flag.spellings.map((s) => shellQuote(`${key(node.path)}|${s}`)).join("|");
      lines.push(`    (${patterns}) ${valueAction(flag.value)}; return ;;`);
    }
  }
  lines.push("  esac", '  case "$key" in');
  for (const node of nodes) {
    const commands = node.subcommands.map((s) => entry(s.name, s.description));
    const flags = node.flags.flatMap((f) => f.spellings.map((s) => entry(s, f.description)));
    const positional =
      node.positional === undefined || node.positional.kind === "none" ? "" : ` ${valueAction(node.positional)};`;
    lines.push(
      `    (${shellQuote(key(node.path))}) commands=(${commands.join(" ")}); flags=(${flags.join(" ")});${positional} ;;`,
    );
  }
  lines.push(
    "  esac",
    "  (( ${#commands} )) && _describe -t commands 'command' commands",
    "  [[ $PREFIX == -* || ${#commands} -eq 0 ]] && _describe -t options 'option' flags",
    "  return 0",
    "}",
    `if [ "\${funcstack[1]}" = "${fn}" ]; then`,
    `  ${fn} "$@"`,
    "else",
    `  compdef ${fn} ${bin}`,
    "fi",
    "",
  );
  return lines.join("\n");
}
