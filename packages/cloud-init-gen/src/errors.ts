/**
 * cloud-init-gen's error class. It has the same shape and the same brand as
 * qemu-core's `HexclaveError` (`Symbol.for("hexclave.error")`), so
 * `HexclaveError.is(e)` recognises it, while this package depends on nothing
 * but `yaml`.
 */

export interface CloudInitGenErrorOptions {
  readonly hint?: string | undefined;
  readonly cause?: unknown;
  /** Structured facts for `--json` output and tests (for validation: the problems with their paths). */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

const BRAND = Symbol.for("hexclave.error");

export class CloudInitGenError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly [BRAND] = true;

  constructor(code: string, message: string, options: CloudInitGenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CloudInitGenError";
    this.code = code;
    this.hint = options.hint ?? "";
    this.details = options.details ?? {};
  }

  /** True for any Hexclave-branded error (this class or qemu-core's HexclaveError). */
  static is(value: unknown): value is CloudInitGenError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  toJSON(): { code: string; message: string; hint: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}
