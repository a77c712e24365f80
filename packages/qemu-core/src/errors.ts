/**
 * The one error base class of the Hexclave emulator libraries.
 *
 * Every error a library throws is a `HexclaveError` with a stable `code`
 * (never parse `message`), a human `message` that names what was wrong, a
 * `hint` that says what to do, and the underlying `cause` when there is one.
 * Each package keeps its codes in one catalogue (`errors-data.ts` style) and
 * builds errors through {@link defineErrorCatalogue}, so codes and hints live
 * in one place. The CLI is the only place that prints them.
 */

export interface HexclaveErrorOptions {
  readonly hint?: string | undefined;
  readonly cause?: unknown;
  /** Structured facts for `--json` output and tests (paths, ports, digests). */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

const BRAND = Symbol.for("hexclave.error");

export class HexclaveError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly [BRAND] = true;

  constructor(code: string, message: string, options: HexclaveErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HexclaveError";
    this.code = code;
    this.hint = options.hint ?? "";
    this.details = options.details ?? {};
  }

  /** True for any HexclaveError, even one from another copy of this package. */
  static is(value: unknown): value is HexclaveError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  toJSON(): { code: string; message: string; hint: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

/** One entry of an error catalogue: a title for docs and the default hint. */
export interface ErrorCatalogueEntry {
  readonly title: string;
  readonly hint: string;
}

export type ErrorCatalogue = Readonly<Record<string, ErrorCatalogueEntry>>;

/**
 * Turns a catalogue into a typed factory:
 *
 * ```ts
 * const errors = defineErrorCatalogue({ QEMU_NOT_FOUND: { title: "...", hint: "..." } });
 * throw errors.create("QEMU_NOT_FOUND", "qemu-system-x86_64 is not on PATH", { details: { searched } });
 * ```
 *
 * The hint defaults to the catalogue's and may be overridden with a more
 * specific one (for example naming the package for the user's OS).
 */
export function defineErrorCatalogue<const C extends ErrorCatalogue>(catalogue: C) {
  return {
    catalogue,
    create(code: keyof C & string, message: string, options: HexclaveErrorOptions = {}): HexclaveError {
      const entry = catalogue[code];
      return new HexclaveError(code, message, { ...options, hint: options.hint ?? entry?.hint });
    },
    /** True when `value` is a HexclaveError with one of this catalogue's codes (or the given one). */
    is(value: unknown, code?: keyof C & string): value is HexclaveError {
      return HexclaveError.is(value) && (code === undefined ? value.code in catalogue : value.code === code);
    },
  };
}
