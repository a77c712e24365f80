/**
 * The command tree as shell completion needs it: for each command path, its
 * subcommands and its flags (every spelling, whether it takes a value, the
 * values it accepts). Built from the same `StackCommand` definitions that
 * parse the arguments, so completion cannot drift from the parser.
 */
import type { ArgsDef } from "citty";
import type { StackCommand } from "../command-runner.js";

/** What a flag's or positional's value completes to. */
export type ValueCompletion =
  | { readonly kind: "choices"; readonly choices: readonly string[] }
  | { readonly kind: "file" }
  | { readonly kind: "directory" }
  | { readonly kind: "none" };

export interface CompletionFlag {
  /** `--arch`, `--no-snapshot`, `-f`... */
  readonly spellings: readonly string[];
  readonly description: string;
  /** Undefined for a boolean flag (no value follows). */
  readonly value?: ValueCompletion;
}

export interface CompletionNode {
  /** `[]` for the root, `["emulator", "start"]`... */
  readonly path: readonly string[];
  readonly subcommands: readonly { readonly name: string; readonly description: string }[];
  readonly flags: readonly CompletionFlag[];
  /** Completion of the first positional argument, when the command takes one. */
  readonly positional?: ValueCompletion;
}

const HELP_FLAG: CompletionFlag = { spellings: ["--help", "-h"], description: "Show help" };

/** `amd64|arm64` lists choices; `DIR` a directory; `PATH`, `URL|DIR` and the like a file; `N`, `MB`... nothing. */
export function valueCompletion(valueHint: string | undefined): ValueCompletion {
  if (valueHint === undefined) return { kind: "none" };
  const parts = valueHint.split("|");
  if (parts.length > 1 && parts.every((part) => /^[a-z][a-z0-9-]*$/.test(part))) {
    return { kind: "choices", choices: parts };
  }
  if (valueHint === "DIR") return { kind: "directory" };
  if (/PATH|FILE|DIR/.test(valueHint)) return { kind: "file" };
  return { kind: "none" };
}

function flagsOf(args: ArgsDef | undefined): { flags: CompletionFlag[]; positional?: ValueCompletion } {
  const flags: CompletionFlag[] = [];
  let positional: ValueCompletion | undefined;
  for (const [name, def] of Object.entries(args ?? {})) {
    const hint = (def as { valueHint?: string }).valueHint;
    if (def.type === "positional") {
      positional ??= valueCompletion(hint);
      continue;
    }
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    const boolean = (def.type ?? "boolean") === "boolean";
    // A boolean that defaults to true is given as its negation (`--no-snapshot`).
    const negated = boolean && (def as { default?: unknown }).default === true;
    const spellings = [
      `--${negated ? `no-${kebab}` : kebab}`,
      ...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`)),
    ];
    flags.push({
      spellings,
      description: def.description ?? "",
      ...(boolean ? {} : { value: valueCompletion(hint) }),
    });
  }
  return { flags, ...(positional === undefined ? {} : { positional }) };
}

/** Every command of the tree, parents before children. */
export function completionModel(root: StackCommand): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const walk = (command: StackCommand, path: readonly string[]) => {
    const subCommands = Object.entries(command.subCommands ?? {});
    const { flags, positional } = flagsOf(command.args);
    nodes.push({
      path,
      subcommands: subCommands.map(([name, sub]) => ({ name, description: sub.meta.description })),
      flags: [...flags, HELP_FLAG, ...(path.length === 0 ? [VERSION_FLAG] : [])],
      ...(positional === undefined ? {} : { positional }),
    });
    for (const [name, sub] of subCommands) walk(sub, [...path, name]);
  };
  walk(root, []);
  return nodes;
}

const VERSION_FLAG: CompletionFlag = { spellings: ["--version", "-v"], description: "Print the version" };

/**
 * Every step from a command to one of its subcommands, as the generated scripts match them: `from|word` (the
 * path so far, space-joined, a bar, the word typed) leads to `to` (the new path).
 */
export function subcommandSteps(nodes: readonly CompletionNode[]): { readonly match: string; readonly to: string }[] {
  return nodes.flatMap((node) =>
    node.subcommands.map((sub) => ({
      match: `${node.path.join(" ")}|${sub.name}`,
      to: [...node.path, sub.name].join(" "),
    })),
  );
}
