/**
 * Runs a tree of citty command definitions strictly and without touching the
 * process: citty parses arguments and renders help; this module adds what
 * `stack` needs on top (citty's own `runMain` prints through a global logger
 * and calls `process.exit`):
 *
 * - unknown commands, unknown flags, missing flag values and extra arguments
 *   are `UsageError`s (citty ignores unknown flags);
 * - `--help` / `-h` on any command prints that command's usage plus its
 *   examples and notes to stdout;
 * - a command's `run` returns its exit code.
 */
import { stripVTControlCharacters } from "node:util";
import { type ArgsDef, type CommandDef, type ParsedArgs, parseArgs, renderUsage } from "citty";
import { type CliIo, wantsColour } from "./cli-io.js";
import { UsageError } from "./usage-error.js";

export interface CommandContext<A extends ArgsDef = ArgsDef> {
  readonly args: ParsedArgs<A>;
  readonly io: CliIo;
  /** The command path (`["emulator", "start"]`). */
  readonly path: readonly string[];
}

export interface StackCommand<A extends ArgsDef = ArgsDef> {
  readonly meta: { readonly name: string; readonly description: string };
  readonly args?: A;
  /** Shown under EXAMPLES in `--help`: full command lines, optionally with `# comment`. */
  readonly examples?: readonly string[];
  /** Extra help text (exit codes, environment variables), shown after the examples. */
  readonly notes?: string;
  readonly subCommands?: Readonly<Record<string, StackCommand>>;
  /** The root's version: `--version` / `-v` before any subcommand prints it. */
  readonly version?: string;
  readonly run?: (context: CommandContext<A>) => Promise<number>;
}

/** Defines a command with its argument types inferred (like citty's `defineCommand`). */
export function defineStackCommand<const A extends ArgsDef>(command: StackCommand<A>): StackCommand {
  return command as unknown as StackCommand;
}

const HELP_FLAGS = new Set(["--help", "-h"]);
const VERSION_FLAGS = new Set(["--version", "-v"]);

/** Tokens before a `--` separator (the only ones that can be flags). */
function flagRegion(tokens: readonly string[]): readonly string[] {
  const end = tokens.indexOf("--");
  return end === -1 ? tokens : tokens.slice(0, end);
}

export async function runCommandTree(root: StackCommand, argv: readonly string[], io: CliIo): Promise<number> {
  let command = root;
  const path: string[] = [];
  let rest = [...argv];
  // `--version` / `-v` among the flags before the first command name.
  const rootRegion = flagRegion(argv);
  const firstWord = rootRegion.findIndex((token) => !token.startsWith("-"));
  const rootFlags = firstWord === -1 ? rootRegion : rootRegion.slice(0, firstWord);
  if (root.version !== undefined && rootFlags.some((token) => VERSION_FLAGS.has(token))) {
    io.stdout.write(`${root.version}\n`);
    return 0;
  }
  for (;;) {
    const subCommands = command.subCommands;
    if (subCommands === undefined || Object.keys(subCommands).length === 0) break;
    const region = flagRegion(rest);
    const index = region.findIndex((token) => !token.startsWith("-"));
    if (index === -1) {
      if (region.some((token) => HELP_FLAGS.has(token))) {
        await printHelp(command, path, io);
        return 0;
      }
      const unknownFlag = region.find((token) => token.startsWith("-"));
      if (unknownFlag !== undefined) throw new UsageError(`unknown option ${unknownFlag}.`, path);
      if (command.run === undefined) {
        throw new UsageError(`missing command: choose one of ${Object.keys(subCommands).join(", ")}.`, path);
      }
      break;
    }
    const name = region[index]!;
    const next = subCommands[name];
    if (next === undefined) {
      const where = path.length === 0 ? "stack" : `stack ${path.join(" ")}`;
      throw new UsageError(
        `unknown command "${name}" for ${where}; available: ${Object.keys(subCommands).join(", ")}.`,
        path,
      );
    }
    path.push(name);
    command = next;
    rest = [...rest.slice(0, index), ...rest.slice(index + 1)];
  }

  if (flagRegion(rest).some((token) => HELP_FLAGS.has(token))) {
    await printHelp(command, path, io);
    return 0;
  }
  const argsDef = command.args ?? {};
  checkTokens(rest, argsDef, path);
  let args: ParsedArgs;
  try {
    args = parseArgs(rest, argsDef);
  } catch (error) {
    // citty's CLIError: a missing required argument.
    throw new UsageError(`${(error as Error).message}.`, path);
  }
  if (command.run === undefined) throw new UsageError("missing command.", path);
  return command.run({ args, io, path });
}

/** Renders `stack <path> --help`: citty's usage, then examples and notes. Colour only when wanted. */
export async function renderHelp(command: StackCommand, path: readonly string[], colour: boolean): Promise<string> {
  const named = { ...command, meta: { ...command.meta, name: ["stack", ...path].join(" ") } } as unknown as CommandDef;
  let text = await renderUsage(named);
  if (command.examples !== undefined && command.examples.length > 0) {
    text += `\n\nEXAMPLES\n\n${command.examples.map((line) => `  ${line}`).join("\n")}`;
  }
  if (command.notes !== undefined) text += `\n\n${command.notes.trimEnd()}`;
  text = text
    .replaceAll("`", "")
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
  return `${colour ? text : stripVTControlCharacters(text)}\n`;
}

async function printHelp(command: StackCommand, path: readonly string[], io: CliIo): Promise<void> {
  io.stdout.write(await renderHelp(command, path, wantsColour(io)));
}

interface FlagInfo {
  readonly type: "string" | "boolean" | "enum" | "number";
}

/** Every accepted spelling of every flag: name, kebab and camel forms, aliases. */
function flagTable(argsDef: ArgsDef): { flags: Map<string, FlagInfo>; positionals: number } {
  const flags = new Map<string, FlagInfo>();
  let positionals = 0;
  for (const [name, def] of Object.entries(argsDef)) {
    if (def.type === "positional") {
      positionals += 1;
      continue;
    }
    const info: FlagInfo = { type: (def.type ?? "boolean") as FlagInfo["type"] };
    const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const spelling of [name, kebab, ...aliases]) flags.set(spelling, info);
  }
  return { flags, positionals };
}

/** citty accepts anything; we refuse unknown flags, flags missing their value, and surplus arguments. */
function checkTokens(tokens: readonly string[], argsDef: ArgsDef, path: readonly string[]): void {
  const { flags, positionals } = flagTable(argsDef);
  let seenPositionals = 0;
  let afterSeparator = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (afterSeparator || token === "-" || !token.startsWith("-")) {
      if (token === "--" && !afterSeparator) {
        afterSeparator = true;
        continue;
      }
      seenPositionals += 1;
      if (seenPositionals > positionals) {
        throw new UsageError(
          positionals === 0
            ? `unexpected argument "${token}": this command takes no arguments.`
            : `unexpected argument "${token}".`,
          path,
        );
      }
      continue;
    }
    const long = token.startsWith("--");
    const body = token.slice(long ? 2 : 1);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const names = long ? [name] : [...name];
    for (const [k, single] of names.entries()) {
      let info = flags.get(single);
      if (info === undefined && long && single.startsWith("no-")) {
        const negated = flags.get(single.slice(3));
        if (negated?.type === "boolean") info = negated;
      }
      if (info === undefined) {
        throw new UsageError(`unknown option ${long ? "--" : "-"}${single}.`, path);
      }
      const last = k === names.length - 1;
      if (info.type !== "boolean" && last && eq === -1) {
        const value = tokens[i + 1];
        if (value === undefined || (value.startsWith("-") && value !== "-")) {
          throw new UsageError(`option ${long ? "--" : "-"}${single} needs a value.`, path);
        }
        i += 1;
      }
    }
  }
}
