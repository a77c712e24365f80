import { describe, expect, it } from "vitest";
import { compareFingerprints, computeFingerprint, describeDifferences, splitQemuOptions } from "./fingerprint.js";

const args = [
  "-name",
  "vm",
  "-machine",
  "q35",
  "-accel",
  "tcg,thread=multi",
  "-cpu",
  "max",
  "-smp",
  "2",
  "-m",
  "2048",
  "-drive",
  "if=none,id=disk,file=/h/run/vm/disk.qcow2,format=qcow2,discard=unmap,detect-zeroes=unmap",
  "-device",
  "virtio-blk-pci,drive=disk",
  "-netdev",
  "user,id=net0,hostfwd=tcp:127.0.0.1:26700-:8101,hostfwd=tcp:127.0.0.1:26701-:8102",
  "-device",
  "virtio-net-pci,netdev=net0,mac=52:54:00:48:58:01",
  "-object",
  "rng-builtin,id=rng0",
  "-device",
  "virtio-rng-pci,rng=rng0",
];
const base = {
  args,
  accel: "tcg" as const,
  memoryMb: 2048,
  cpus: 2,
  qemuVersion: "7.2.0",
  baseImageSha256: "ab".repeat(32),
};

describe("computeFingerprint", () => {
  it("takes machine, CPU model and every device option, without host port forwards", () => {
    const fp = computeFingerprint(base);
    expect(fp.machine).toBe("q35");
    expect(fp.cpuModel).toBe("max");
    expect(fp.devices).toEqual([
      "-drive if=none,id=disk,file=/h/run/vm/disk.qcow2,format=qcow2,discard=unmap,detect-zeroes=unmap",
      "-device virtio-blk-pci,drive=disk",
      "-netdev user,id=net0",
      "-device virtio-net-pci,netdev=net0,mac=52:54:00:48:58:01",
      "-object rng-builtin,id=rng0",
      "-device virtio-rng-pci,rng=rng0",
    ]);
  });

  it("the guest network's policy (restrict, guest forwards with escaped commas) is host-side: any mode resumes", () => {
    const isolated = args.map((a) =>
      a.startsWith("user,")
        ? `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:26700-:8101,guestfwd=tcp:10.0.2.101:8110-cmd:'/h,,x/guest-connect' bridge,guestfwd=tcp:10.0.2.100:3000-cmd:/h/guest-connect 3000`
        : a,
    );
    expect(computeFingerprint({ ...base, args: isolated }).devices).toContain("-netdev user,id=net0");
    expect(compareFingerprints(computeFingerprint(base), computeFingerprint({ ...base, args: isolated }))).toEqual([]);
  });

  it.each([
    { value: "user,id=net0", parts: ["user", "id=net0"] },
    { value: "a,,b,c", parts: ["a,,b", "c"] },
    { value: "a,,,b", parts: ["a,,", "b"] },
    { value: "x=,,,,y", parts: ["x=,,,,y"] },
    { value: "", parts: [""] },
  ])("splitQemuOptions($value)", ({ value, parts }) => {
    expect(splitQemuOptions(value)).toEqual(parts);
  });

  it("moved host ports keep the fingerprint equal", () => {
    const moved = args.map((a) => a.replace("26700", "36700"));
    expect(compareFingerprints(computeFingerprint(base), computeFingerprint({ ...base, args: moved }))).toEqual([]);
  });
});

describe("compareFingerprints", () => {
  const fp = computeFingerprint(base);
  it("names each differing field with both values", () => {
    const other = computeFingerprint({ ...base, memoryMb: 1024, qemuVersion: "8.2.1" });
    const diff = compareFingerprints(fp, other);
    expect(diff.map((d) => d.field)).toEqual(["qemuVersion", "memoryMb"]);
    expect(describeDifferences(diff)).toBe("QEMU version 7.2.0 -> 8.2.1, memory (MB) 2048 -> 1024");
  });

  it("a changed device list shows what was removed and added", () => {
    const other = computeFingerprint({ ...base, args: args.slice(0, -4) });
    const diff = compareFingerprints(fp, other);
    expect(diff).toHaveLength(1);
    expect(diff[0]!.field).toBe("devices");
    expect(diff[0]!.recorded).toContain("virtio-rng-pci");
  });

  it("a different base image differs, shown by digest prefix", () => {
    const diff = compareFingerprints(fp, computeFingerprint({ ...base, baseImageSha256: "cd".repeat(32) }));
    expect(describeDifferences(diff)).toBe("base image abababababab -> cdcdcdcdcdcd");
  });

  it.each<[string, number | undefined, string]>([
    ["a record of version 1 (no version field)", undefined, "fingerprint version 1 -> 2"],
    ["a record of another version", 3, "fingerprint version 3 -> 2"],
  ])("%s differs by its version alone, so its snapshot boots cold once", (_name, version, reason) => {
    const { version: _current, ...rest } = fp;
    const recorded = version === undefined ? rest : { ...rest, version };
    expect(describeDifferences(compareFingerprints(recorded, fp))).toBe(reason);
  });

  it("accelerator and CPU changes are caught", () => {
    const kvm = computeFingerprint({ ...base, accel: "kvm", args: args.map((a) => (a === "max" ? "host" : a)) });
    expect(compareFingerprints(fp, kvm).map((d) => d.field)).toEqual(["accel", "cpuModel"]);
  });
});
