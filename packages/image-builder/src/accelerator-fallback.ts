/**
 * The errors of a VM that QEMU stopped in an error state, and the decision
 * every QEMU run of ours (warm boot, emulator start, resume, bench) makes on
 * one: a failure of the hardware accelerator (not of the guest) under an
 * accelerator the probe chose is retried under TCG; under one the user forced
 * (`--accel`, `EMULATOR_ACCEL`) it is `ACCEL_FAILED`, never a fallback.
 */
import {
  type Accelerator,
  type AcceleratorChoice,
  acceleratorErrorInOutput,
  HexclaveError,
  oneLine,
  type VmFailure,
} from "@hexclave/qemu-core";
import { imageBuilderErrors } from "./errors-data.js";

/** What a failed run carries in its error's details. */
export interface AcceleratorFailureInfo {
  readonly accel: Accelerator;
  readonly failure: VmFailure;
  /** From QEMU's spawn to the failure being seen. */
  readonly detectedAfterMs: number;
}

/** `EMULATOR_VM_FAILED` for a failure the run-state watch found. */
export function vmFailedError(what: string, info: AcceleratorFailureInfo): HexclaveError {
  return imageBuilderErrors.create(
    "EMULATOR_VM_FAILED",
    `${what}: ${info.failure.message} (under ${info.accel}, ${Math.round(info.detectedAfterMs / 100) / 10} s after QEMU started)`,
    { details: { accel: info.accel, failure: info.failure, detectedAfterMs: info.detectedAfterMs } },
  );
}

/**
 * The accelerator failure behind `error`, if it is one: an `EMULATOR_VM_FAILED`
 * whose fault is the accelerator, or a QEMU start that failed with an
 * accelerator error in its output. Undefined for anything else. Pure.
 */
export function acceleratorFailureOf(error: unknown, accel: Accelerator): AcceleratorFailureInfo | undefined {
  if (!HexclaveError.is(error) || accel === "tcg") return undefined;
  if (error.code === "EMULATOR_VM_FAILED") {
    const failure = error.details.failure as VmFailure | undefined;
    if (failure?.fault !== "accelerator") return undefined;
    const detectedAfterMs = typeof error.details.detectedAfterMs === "number" ? error.details.detectedAfterMs : 0;
    return { accel, failure, detectedAfterMs };
  }
  const stderr = typeof error.details.stderr === "string" ? error.details.stderr : "";
  const said = acceleratorErrorInOutput(`${stderr}\n${error.message}`);
  if (said === undefined) return undefined;
  return {
    accel,
    failure: {
      kind: "accelerator-output",
      fault: "accelerator",
      qemuSaid: said,
      message: `QEMU could not run the guest under ${accel}: ${oneLine(said)}`,
    },
    detectedAfterMs: 0,
  };
}

/** The words cached as the verdict: `<accel> cannot run this guest on this host: <this>`. */
export function verdictWords(info: AcceleratorFailureInfo): string {
  return info.failure.qemuSaid === "" ? info.failure.message : oneLine(info.failure.qemuSaid);
}

/** `ACCEL_FAILED`: a forced accelerator failed the guest (no fallback). */
export function forcedAcceleratorFailed(info: AcceleratorFailureInfo, choice: AcceleratorChoice): HexclaveError {
  return imageBuilderErrors.create(
    "ACCEL_FAILED",
    `${info.accel} was chosen (--accel ${choice} or EMULATOR_ACCEL) and cannot run this guest on this host: ${info.failure.message}`,
    { details: { accel: info.accel, failure: info.failure } },
  );
}
