import { describe, expect, it } from "vitest";
import { POWEROFF_GRACE_MS, powerOffGraceMs } from "./stop.js";

describe("powerOffGraceMs", () => {
  it.each([
    ["tcg: the container's 25 s plus Docker's and systemd's shutdown, slow", "tcg", POWEROFF_GRACE_MS.tcg],
    ["kvm: qemu-core's default", "kvm", POWEROFF_GRACE_MS.hardware],
    ["hvf: qemu-core's default", "hvf", POWEROFF_GRACE_MS.hardware],
    ["no recorded machine: the longer one (nothing is lost by waiting)", undefined, POWEROFF_GRACE_MS.tcg],
  ] as const)("%s", (_, accel, expected) => {
    expect(powerOffGraceMs(accel)).toBe(expected);
  });

  it("gives TCG more time than a hardware accelerator, and the hardware one qemu-core's 30 s", () => {
    expect(POWEROFF_GRACE_MS.tcg).toBeGreaterThan(POWEROFF_GRACE_MS.hardware);
    expect(POWEROFF_GRACE_MS.hardware).toBe(30_000);
  });
});
