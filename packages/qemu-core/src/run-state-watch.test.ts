import { describe, expect, it } from "vitest";
import type { QmpStatus } from "./qmp-client.js";
import {
  acceleratorErrorInOutput,
  classifyVmFailure,
  exitedFailure,
  runStateFailure,
  watchQemuRun,
} from "./run-state-watch.js";

// What QEMU printed on a nested paravirtual KVM host (kvm-pvm) before it paused the VM.
const KVM_REPORT = [
  "KVM internal error. Suberror: 1",
  "extra data[0]: 0x0000000000000000",
  "extra data[1]: 0x0000000000000030",
  "emulation failure",
  "RAX=0000000000000000 RBX=ffffffff82a03e38 RCX=0000000000000000 RDX=0000000000000000",
  "RIP=ffffffff81a3f7e4 RFL=00010046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0",
].join("\n");

const status = (s: string): QmpStatus => ({ running: s === "running", status: s });

describe("runStateFailure", () => {
  it("names the error run states with who is at fault, and nothing for the others", () => {
    expect(runStateFailure("internal-error")).toMatchObject({ kind: "internal-error", fault: "accelerator" });
    expect(runStateFailure("guest-panicked")).toMatchObject({ kind: "guest-panicked", fault: "guest" });
    expect(runStateFailure("shutdown")).toMatchObject({ kind: "shutdown", fault: "guest" });
    expect(runStateFailure("io-error")).toMatchObject({ kind: "io-error", fault: "host" });
    for (const fine of ["running", "paused", "prelaunch", "inmigrate", "postmigrate", "finish-migrate"]) {
      expect(runStateFailure(fine)).toBeUndefined();
    }
  });
});

describe("acceleratorErrorInOutput", () => {
  it("keeps QEMU's report and its detail lines, not KVM's raw exit data or the register dump", () => {
    expect(acceleratorErrorInOutput(`qemu: warning: something\n${KVM_REPORT}`)).toBe(
      "KVM internal error. Suberror: 1\nemulation failure",
    );
  });

  it("finds the other accelerator failures QEMU reports", () => {
    expect(acceleratorErrorInOutput("error: kvm run failed Bad address\n")).toBe("error: kvm run failed Bad address");
    expect(acceleratorErrorInOutput("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0")).toContain(
      "failed to set MSR 0x10a",
    );
    expect(
      acceleratorErrorInOutput(
        "Could not access KVM kernel module: No such file or directory\nqemu: failed to initialize kvm",
      ),
    ).toContain("Could not access KVM kernel module");
  });

  it("is undefined for ordinary output", () => {
    expect(acceleratorErrorInOutput("")).toBeUndefined();
    expect(acceleratorErrorInOutput("qemu-system-x86_64: warning: host doesn't support requested feature")).toBe(
      undefined,
    );
  });
});

describe("classifyVmFailure", () => {
  it("an internal-error run state with QEMU's report: the accelerator's fault, in QEMU's words", () => {
    const failure = classifyVmFailure("internal-error", KVM_REPORT);
    expect(failure).toMatchObject({ kind: "internal-error", fault: "accelerator", runState: "internal-error" });
    expect(failure?.message).toContain("run state internal-error");
    expect(failure?.message).toContain("QEMU said: KVM internal error. Suberror: 1; emulation failure");
  });

  it("a guest panic without an accelerator report is the guest's fault", () => {
    expect(classifyVmFailure("guest-panicked", "")).toMatchObject({
      kind: "guest-panicked",
      fault: "guest",
      qemuSaid: "",
    });
  });

  it("the report alone (the run state not read yet) is already a failure", () => {
    expect(classifyVmFailure(undefined, KVM_REPORT)).toMatchObject({
      kind: "accelerator-output",
      fault: "accelerator",
    });
    expect(classifyVmFailure("running", "")).toBeUndefined();
    expect(classifyVmFailure("paused", "")).toBeUndefined();
  });

  it("an exit says what QEMU said last", () => {
    expect(exitedFailure("qemu: terminating on signal 9\n")).toMatchObject({
      kind: "exited",
      fault: "unknown",
      message: "QEMU exited while the VM should run; QEMU said: qemu: terminating on signal 9",
    });
    expect(exitedFailure(KVM_REPORT)).toMatchObject({ kind: "exited", fault: "accelerator" });
  });
});

describe("watchQemuRun", () => {
  it("resolves with the failure once the run state leaves running, waiting for QEMU's words", async () => {
    let polls = 0;
    let output = "";
    const watch = watchQemuRun({
      pollMs: 5,
      outputGraceMs: 2000,
      queryStatus: async () => {
        polls++;
        if (polls < 3) return status("running");
        setTimeout(() => {
          output = KVM_REPORT; // the words land a little after the state
        }, 30);
        return status("internal-error");
      },
      readOutput: async () => output,
    });
    const failure = await watch.failure;
    expect(failure).toMatchObject({ kind: "internal-error", fault: "accelerator" });
    expect(failure?.qemuSaid).toContain("KVM internal error. Suberror: 1");
  });

  it("reports an exit, and ignores sources that throw", async () => {
    let alive = true;
    const watch = watchQemuRun({
      pollMs: 5,
      queryStatus: async () => {
        throw new Error("QMP busy");
      },
      readOutput: async () => "qemu-system-x86_64: terminating on signal 15 from pid 1\n",
      isAlive: async () => alive,
    });
    setTimeout(() => {
      alive = false;
    }, 30);
    expect(await watch.failure).toMatchObject({ kind: "exited" });
  });

  it("resolves undefined when stopped before any failure", async () => {
    const watch = watchQemuRun({ pollMs: 5, queryStatus: async () => status("running") });
    setTimeout(() => watch.stop(), 20);
    expect(await watch.failure).toBeUndefined();
  });
});
