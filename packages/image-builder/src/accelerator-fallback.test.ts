import { qemuErrors, type VmFailure } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import { acceleratorFailureOf, forcedAcceleratorFailed, verdictWords, vmFailedError } from "./accelerator-fallback.js";

const internalError: VmFailure = {
  kind: "internal-error",
  fault: "accelerator",
  runState: "internal-error",
  qemuSaid: "KVM internal error. Suberror: 1\nemulation failure",
  message:
    "QEMU paused the VM in run state internal-error (the accelerator could not run the guest); QEMU said: KVM internal error. Suberror: 1; emulation failure",
};

describe("acceleratorFailureOf", () => {
  it("an accelerator failure seen by the watch is one, with QEMU's words as the verdict", () => {
    const error = vmFailedError("The emulator VM stopped", {
      accel: "kvm",
      failure: internalError,
      detectedAfterMs: 1234,
    });
    expect(error.code).toBe("EMULATOR_VM_FAILED");
    expect(error.message).toBe(
      `The emulator VM stopped: ${internalError.message} (under kvm, 1.2 s after QEMU started)`,
    );
    const info = acceleratorFailureOf(error, "kvm");
    expect(info).toMatchObject({ accel: "kvm", detectedAfterMs: 1234, failure: { kind: "internal-error" } });
    expect(info && verdictWords(info)).toBe("KVM internal error. Suberror: 1; emulation failure");
  });

  it("a guest's own failure, or any failure under tcg, is not the accelerator's", () => {
    const panic: VmFailure = { ...internalError, kind: "guest-panicked", fault: "guest", qemuSaid: "" };
    const guest = vmFailedError("The emulator VM stopped", { accel: "kvm", failure: panic, detectedAfterMs: 10 });
    expect(acceleratorFailureOf(guest, "kvm")).toBeUndefined();
    const underTcg = vmFailedError("x", { accel: "tcg", failure: internalError, detectedAfterMs: 10 });
    expect(acceleratorFailureOf(underTcg, "tcg")).toBeUndefined();
    expect(acceleratorFailureOf(new Error("KVM internal error. Suberror: 1"), "kvm")).toBeUndefined();
  });

  it("a QEMU that could not start under the accelerator is one too (its output says so)", () => {
    const start = qemuErrors.create("VM_START_FAILED", 'QEMU for instance "vm" exited with code 1', {
      details: {
        stderr:
          "Could not access KVM kernel module: Permission denied\nqemu-system-x86_64: failed to initialize kvm: Permission denied",
      },
    });
    expect(acceleratorFailureOf(start, "kvm")?.failure).toMatchObject({
      kind: "accelerator-output",
      fault: "accelerator",
    });
    const other = qemuErrors.create("VM_START_FAILED", "QEMU exited", {
      details: { stderr: "could not open disk image" },
    });
    expect(acceleratorFailureOf(other, "kvm")).toBeUndefined();
  });

  it("a forced accelerator's failure names the choice and how to change it", () => {
    const error = forcedAcceleratorFailed({ accel: "kvm", failure: internalError, detectedAfterMs: 900 }, "kvm");
    expect(error.code).toBe("ACCEL_FAILED");
    expect(error.message).toContain(
      "kvm was chosen (--accel kvm or EMULATOR_ACCEL) and cannot run this guest on this host",
    );
    expect(error.hint).toContain("--accel auto");
  });
});
