/** How the runtime's use cases end on an aborted `signal`: with the abort's own HexclaveError, else `ABORTED`. */
import { HexclaveError } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";

export function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

export function abortError(signal: AbortSignal | undefined): HexclaveError {
  const reason = signal?.reason;
  if (HexclaveError.is(reason)) return reason;
  return emulatorErrors.create("ABORTED", "The emulator operation was aborted", { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (aborted(signal)) throw abortError(signal);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects: the caller checks the signal). */
export { abortableSleep as sleep } from "@hexclave/qemu-core";
