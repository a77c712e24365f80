import { describe, expect, it } from "vitest";
import { kernelPanicReason, withRebootOnPanic } from "./kernel-panic.js";

describe("kernelPanicReason", () => {
  it("reads the reason from the line that announces the panic", () => {
    expect(kernelPanicReason("[    2.711186] Kernel panic - not syncing: Fatal exception in interrupt")).toBe(
      "Fatal exception in interrupt",
    );
    expect(kernelPanicReason("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r")).toBe(
      "VFS: Unable to mount root fs on unknown-block(0,0)",
    );
    expect(kernelPanicReason("[ 1.0] Kernel panic - not syncing")).toBe("no reason given");
  });

  it("ignores the closing line, Oops lines and ordinary output", () => {
    expect(
      kernelPanicReason("[    5.721152] ---[ end Kernel panic - not syncing: Fatal exception in interrupt ]---"),
    ).toBeUndefined();
    expect(kernelPanicReason("[    2.710869] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI")).toBeUndefined();
    expect(kernelPanicReason("hexclave: stage services-healthy")).toBeUndefined();
    expect(kernelPanicReason("")).toBeUndefined();
  });
});

describe("withRebootOnPanic", () => {
  it("adds panic=-1 and oops=panic to a command line", () => {
    expect(withRebootOnPanic("root=/dev/vda rw console=ttyS0 quiet")).toBe(
      "root=/dev/vda rw console=ttyS0 quiet panic=-1 oops=panic",
    );
  });

  it("keeps options the image already sets, and is idempotent", () => {
    expect(withRebootOnPanic("root=/dev/vda panic=10")).toBe("root=/dev/vda panic=10 oops=panic");
    const once = withRebootOnPanic("root=/dev/vda  quiet");
    expect(withRebootOnPanic(once)).toBe(once);
    expect(withRebootOnPanic("")).toBe("panic=-1 oops=panic");
  });
});
