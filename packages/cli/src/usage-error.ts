/**
 * A mistake in how the command was called (unknown command or flag, a bad
 * value, a bad environment variable). The error boundary prints it with the
 * command's help pointer and exits 2. Only the CLI throws it; libraries throw
 * `HexclaveError`.
 */
export class UsageError extends Error {
  /** The command path the user ran, for the `stack <cmd> --help` pointer (`["emulator", "start"]`). */
  readonly commandPath: readonly string[];

  constructor(message: string, commandPath: readonly string[] = []) {
    super(message);
    this.name = "UsageError";
    this.commandPath = commandPath;
  }

  static is(value: unknown): value is UsageError {
    return value instanceof UsageError;
  }
}
