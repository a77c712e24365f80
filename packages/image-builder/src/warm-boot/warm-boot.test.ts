import { describe, expect, it } from "vitest";
import { warmBootVmSpec } from "./warm-boot.js";

describe("warmBootVmSpec", () => {
  it("attaches the disk with discard, the seed and payload read-only, and boots the kernel with panic=-1 oops=panic", () => {
    const spec = warmBootVmSpec({
      arch: "amd64",
      accel: "tcg",
      cpus: 2,
      memoryMb: 3072,
      disk: "/w/disk.qcow2",
      seed: "/w/seed.iso",
      payload: "/c/payload-amd64.tar",
      boot: {
        kind: "kernel",
        kernel: "/c/vmlinuz",
        initrd: "/c/initrd",
        append: "root=/dev/vda rw console=ttyS0 quiet",
      },
      serialLog: "/w/serial.log",
    });
    expect(spec.drives).toEqual([
      { id: "disk", file: "/w/disk.qcow2", format: "qcow2", discard: true, cache: "unsafe" },
      { id: "seed", file: "/w/seed.iso", format: "raw", readOnly: true },
      { id: "payload", file: "/c/payload-amd64.tar", format: "raw", readOnly: true, serial: "payload" },
    ]);
    expect(spec.kernelBoot).toEqual({
      kernel: "/c/vmlinuz",
      initrd: "/c/initrd",
      append: "root=/dev/vda rw console=ttyS0 quiet panic=-1 oops=panic",
    });
    expect(spec.noReboot).toBe(true);
    expect(spec.network).toEqual({ kind: "user", forwards: [] });
  });
  it("boots a cloud base through firmware", () => {
    const spec = warmBootVmSpec({
      arch: "arm64",
      accel: "tcg",
      cpus: 2,
      memoryMb: 2048,
      disk: "/w/d",
      seed: "/w/s",
      payload: "/w/p",
      boot: { kind: "firmware", code: "/usr/share/AAVMF/AAVMF_CODE.fd" },
      serialLog: "/w/l",
    });
    expect(spec.kernelBoot).toBeUndefined();
    expect(spec.firmware).toEqual({ code: "/usr/share/AAVMF/AAVMF_CODE.fd" });
  });
});
