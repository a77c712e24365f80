/**
 * Shell quoting that survives any value: POSIX single quotes, with each `'`
 * written as `'\''`. Works the same in bash and dash, for spaces, quotes,
 * `$`, backticks, newlines, the empty string and non-ASCII text. NUL bytes
 * cannot be passed to a shell at all and are refused.
 */
import { cloudInitError } from "./errors-data.js";

/** Words that need no quotes in any POSIX shell (and are left bare for readability). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one value as a single shell word. */
export function shQuote(value: string | number | boolean): string {
  const s = String(value);
  if (s.includes("\0"))
    throw cloudInitError("INVALID_SHELL_VALUE", `Shell value contains a NUL byte: ${JSON.stringify(s.slice(0, 60))}`);
  if (SAFE_WORD.test(s) && !s.startsWith("=")) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A piece of shell text inserted as is by {@link sh} (for operators, redirections, nested `sh` results). */
export interface RawShell {
  readonly rawShell: string;
}

/** Marks text as shell syntax that `sh` must not quote. Only for trusted text. */
export function raw(text: string): RawShell {
  return { rawShell: text };
}

export type ShellValue = string | number | boolean | RawShell | readonly (string | number | boolean)[];

function interpolate(value: ShellValue): string {
  if (typeof value === "object" && value !== null && "rawShell" in value) return value.rawShell;
  if (Array.isArray(value)) return value.map((v) => shQuote(v)).join(" ");
  return shQuote(value as string | number | boolean);
}

/**
 * Tagged template: the literal text is shell syntax, every `${value}` is one
 * quoted word (an array becomes several words; `raw(...)` is inserted as is).
 *
 * ```ts
 * sh`docker load -i ${path}`           // docker load -i '/srv/my image.tar'
 * sh`install -m 0755 ${files} ${dest}` // one word per file
 * ```
 */
export function sh(strings: TemplateStringsArray, ...values: readonly ShellValue[]): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += interpolate(value) + (strings[i + 1] ?? "");
  });
  return out;
}

/** Quotes each argument and joins them: `shCommand(["echo", "a b"])` = `echo 'a b'`. */
export function shCommand(argv: readonly (string | number | boolean)[]): string {
  return argv.map((a) => shQuote(a)).join(" ");
}

export interface ShellScriptOptions {
  /** Default `/bin/sh`. */
  readonly shell?: string;
  /** `set -eu` (default true): stop at the first failing command or unset variable. */
  readonly strict?: boolean;
}

/**
 * A script built line by line, for `write_files`, a `text/x-shellscript`
 * MIME part or `runcmd`:
 *
 * ```ts
 * const script = new ShellScript().line(sh`cd ${dir}`).command(["docker", "load", "-i", path]).toString();
 * ```
 */
export class ShellScript {
  readonly #lines: string[] = [];
  readonly #options: ShellScriptOptions;

  constructor(options: ShellScriptOptions = {}) {
    this.#options = options;
  }

  /** Appends shell text (build it with {@link sh} so values are quoted). */
  line(text: string): this {
    this.#lines.push(text);
    return this;
  }

  /** Appends a command from an argument list, every argument quoted. */
  command(argv: readonly (string | number | boolean)[]): this {
    return this.line(shCommand(argv));
  }

  /** Appends `name=value` with the value quoted. */
  assign(name: string, value: string | number | boolean): this {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw cloudInitError("INVALID_SHELL_VALUE", `Not a shell variable name: ${JSON.stringify(name)}`, {
        hint: "Use letters, digits and underscores, not starting with a digit.",
      });
    return this.line(`${name}=${shQuote(value)}`);
  }

  /** The script text: shebang, `set -eu` unless disabled, the lines, a final newline. */
  toString(): string {
    const head = [`#!${this.#options.shell ?? "/bin/sh"}`];
    if (this.#options.strict ?? true) head.push("set -eu");
    return `${[...head, ...this.#lines].join("\n")}\n`;
  }
}
