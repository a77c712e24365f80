// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are shell code, where ${...} is shell syntax.
/**
 * `stack completion bash`: a bash completion function generated from the
 * command tree. It finds the command path among the words typed so far
 * (skipping flags and their values), then offers that command's subcommands
 * and flags, or the values of the flag just typed.
 */
import { type CompletionNode, subcommandSteps, type ValueCompletion } from "./completion-model.js";

/** A single-quoted shell word. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

const key = (path: readonly string[]) => path.join(" ");

function valueReply(value: ValueCompletion): string {
  switch (value.kind) {
    case "choices":
      return `COMPREPLY=($(compgen -W ${shellQuote(value.choices.join(" "))} -- "$cur"))`;
    case "file":
      return `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`;
    case "directory":
      return `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))`;
    case "none":
      return "COMPREPLY=()";
  }
}

export function bashCompletion(nodes: readonly CompletionNode[], bin = "stack"): string {
  const fn = `_${bin.replace(/[^A-Za-z0-9_]/g, "_")}_completion`;
  const lines: string[] = [
    `# bash completion for ${bin}. Load it with:  source <(${bin} completion bash)`,
    `# or install it:  ${bin} completion bash > ~/.local/share/bash-completion/completions/${bin}`,
    `${fn}() {`,
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" word i',
    '  [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    word="${COMP_WORDS[i]}"',
    '    case "$word" in',
    "      -*) continue ;;",
    "    esac",
    '    case "$path|$word" in',
  ];
  // Descend only into known subcommands; any other word is a flag value or a positional.
  for (const step of subcommandSteps(nodes)) {
    lines.push(`      ${shellQuote(step.match)}) path=${shellQuote(step.to)} ;;`);
  }
  lines.push("    esac", "  done");
  // The value of the flag just typed.
  const valueCases: string[] = [];
  for (const node of nodes) {
    for (const flag of node.flags) {
      if (flag.value === undefined) continue;
      const patterns = flag.spellings.map((s) => shellQuote(`${key(node.path)}|${s}`)).join(" | ");
      valueCases.push(`    ${patterns}) ${valueReply(flag.value)}; return 0 ;;`);
    }
  }
  if (valueCases.length > 0) lines.push('  case "$path|$prev" in', ...valueCases, "  esac");
  lines.push('  case "$path" in');
  for (const node of nodes) {
    const choices = node.positional?.kind === "choices" ? node.positional.choices : [];
    const words = [...node.subcommands.map((s) => s.name), ...choices, ...node.flags.flatMap((f) => f.spellings)];
    const wordsReply = `COMPREPLY=($(compgen -W ${shellQuote(words.join(" "))} -- "$cur"))`;
    const reply =
      node.positional?.kind === "file" || node.positional?.kind === "directory"
        ? `if [[ "$cur" == -* ]]; then ${wordsReply}; else ${valueReply(node.positional)}; fi`
        : wordsReply;
    lines.push(`    ${shellQuote(key(node.path))}) ${reply} ;;`);
  }
  lines.push("  esac", "}", `complete -F ${fn} ${bin}`, "");
  return lines.join("\n");
}
