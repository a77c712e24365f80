import { buildQemuArgs, instancePaths, instanceVmSpec } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import { imagePaths } from "../layout.js";
import { buildEmulatorVmSpec, type RuntimeManifest, withHostPorts } from "./vm-spec.js";

const manifest: RuntimeManifest = {
  arch: "amd64",
  image: { sha256: "ab".repeat(32) },
  boot: { kind: "kernel", append: "root=LABEL=root console=ttyS0" },
  services: [
    {
      service: "dashboard",
      guestPort: 8101,
      hostPort: 26700,
      health: { kind: "http", path: "/handler/sign-in", expectStatus: [200] },
    },
    {
      service: "backend",
      guestPort: 8102,
      hostPort: 26701,
      health: { kind: "http", path: "/health?db=1", expectStatus: [200] },
    },
    {
      service: "minio",
      guestPort: 9090,
      hostPort: 26702,
      health: { kind: "http", path: "/minio/health/live", expectStatus: [200] },
    },
    { service: "inbucket", guestPort: 9001, hostPort: 26703, health: { kind: "http", path: "/", expectStatus: [200] } },
  ],
};
const home = "/h";
const input = {
  manifest,
  image: imagePaths(home, "amd64"),
  instance: instancePaths(home, "vm"),
  instanceName: "vm",
  accel: "tcg" as const,
  cpus: 2,
  memoryMb: 2048,
  ports: { backend: 36701 },
  memoryFile: "/dev/shm/hexclave-emulator-0123456789abcdef.ram",
};

describe("buildEmulatorVmSpec", () => {
  it("boots the manifest's kernel (rebooting on a panic) on a discard-enabled overlay with four loopback forwards, its RAM in the memory file it is given, whose freed blocks the guest reports", () => {
    const spec = buildEmulatorVmSpec(input);
    expect(spec.kernelBoot).toEqual({
      kernel: "/h/images/stack-emulator-amd64.vmlinuz",
      initrd: "/h/images/stack-emulator-amd64.initrd",
      append: "root=LABEL=root console=ttyS0 panic=-1 oops=panic",
    });
    expect(spec.drives).toEqual([{ id: "disk", file: "/h/run/vm/disk.qcow2", format: "qcow2", discard: true }]);
    expect(spec.network?.forwards).toEqual([
      { hostAddress: "127.0.0.1", hostPort: 26700, guestPort: 8101 },
      { hostAddress: "127.0.0.1", hostPort: 36701, guestPort: 8102 },
      { hostAddress: "127.0.0.1", hostPort: 26702, guestPort: 9090 },
      { hostAddress: "127.0.0.1", hostPort: 26703, guestPort: 9001 },
    ]);
    expect(spec).toMatchObject({
      arch: "amd64",
      accel: "tcg",
      cpus: 2,
      memoryMb: 2048,
      rng: true,
      memoryFile: "/dev/shm/hexclave-emulator-0123456789abcdef.ram",
      balloon: { freePageReporting: true },
    });
    expect(spec.firmware).toBeUndefined();
  });

  it("gives QEMU arguments with the guest agent, QMP and serial of the instance", () => {
    const args = buildQemuArgs(
      instanceVmSpec(input.instance, buildEmulatorVmSpec(input), { instanceName: "vm", overlay: true }),
    );
    expect(args).toContain(
      "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:26700-:8101,hostfwd=tcp:127.0.0.1:36701-:8102,hostfwd=tcp:127.0.0.1:26702-:9090,hostfwd=tcp:127.0.0.1:26703-:9001,guestfwd=tcp:10.0.2.101:8110-cmd:'/h/run/vm/guest-connect' bridge",
    );
    expect(args).toContain("virtserialport,bus=virtio-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0");
    expect(args.join(" ")).toContain("-chardev socket,id=qmp,path=/h/run/vm/qmp.sock");
    // What VmInstance.start launches: the overlay attached as the first drive; QEMU detached by VmInstance, not -daemonize.
    expect(args.join(" ")).toContain("file=/h/run/vm/disk.qcow2");
    expect(args).not.toContain("-daemonize");
  });

  it("firmware images get qcow2 UEFI variables in the instance (so savevm works)", () => {
    const spec = buildEmulatorVmSpec({
      ...input,
      manifest: { ...manifest, boot: { kind: "firmware" } },
      firmwareCode: "/fw/code.fd",
    });
    expect(spec.firmware).toEqual({ code: "/fw/code.fd", vars: "/h/run/vm/efivars.qcow2", varsFormat: "qcow2" });
    expect(spec.kernelBoot).toBeUndefined();
  });

  it("a resume keeps the recorded machine but today's host ports", () => {
    const recorded = buildEmulatorVmSpec({ ...input, ports: {} });
    const today = buildEmulatorVmSpec({ ...input, memoryMb: 4096 });
    const resumed = withHostPorts(recorded, today);
    expect(resumed.memoryMb).toBe(2048);
    expect(resumed.network?.forwards[1]?.hostPort).toBe(36701);
  });

  it.each([
    {
      title: "default: isolated, the bridge forward only",
      guestNetwork: undefined,
      restrict: true,
      forwards: ["10.0.2.101:8110 '/h/run/vm/guest-connect' bridge"],
    },
    {
      title: "open: unrestricted, the bridge forward still (one path for the bridge in every mode)",
      guestNetwork: { mode: "open" as const, reach: [] },
      restrict: false,
      forwards: ["10.0.2.101:8110 '/h/run/vm/guest-connect' bridge"],
    },
    {
      title: "isolated with granted host ports: each once, sorted, at 10.0.2.100",
      guestNetwork: { mode: "isolated" as const, reach: [5173, 3000, 5173] },
      restrict: true,
      forwards: [
        "10.0.2.101:8110 '/h/run/vm/guest-connect' bridge",
        "10.0.2.100:3000 '/h/run/vm/guest-connect' 3000",
        "10.0.2.100:5173 '/h/run/vm/guest-connect' 5173",
      ],
    },
  ])("guest network $title", ({ guestNetwork, restrict, forwards }) => {
    const spec = buildEmulatorVmSpec({ ...input, ...(guestNetwork === undefined ? {} : { guestNetwork }) });
    expect(spec.network?.restrict).toBe(restrict);
    expect(spec.network?.guestForwards?.map((f) => `${f.guestAddress}:${f.guestPort} ${f.command}`)).toEqual(forwards);
  });

  it("a resume runs under today's guest network, whatever the recorded one was", () => {
    const recorded = buildEmulatorVmSpec({ ...input, guestNetwork: { mode: "open", reach: [3000] } });
    const today = buildEmulatorVmSpec({ ...input, guestNetwork: { mode: "isolated", reach: [] } });
    const resumed = withHostPorts(recorded, today);
    expect(resumed.network?.restrict).toBe(true);
    expect(resumed.network?.guestForwards).toEqual(today.network?.guestForwards);
    expect(resumed.network?.mac).toBe(recorded.network?.mac);
  });

  it("an instance directory with a quote or a comma still gives one connector argument (shell-quoted, commas doubled)", () => {
    const odd = { ...input, instance: instancePaths("/h/it's,here", "vm") };
    const args = buildQemuArgs(
      instanceVmSpec(odd.instance, buildEmulatorVmSpec(odd), { instanceName: "vm", overlay: true }),
    );
    const netdev = args[args.indexOf("-netdev") + 1] ?? "";
    expect(netdev).toContain("guestfwd=tcp:10.0.2.101:8110-cmd:'/h/it'\\''s,,here/run/vm/guest-connect' bridge");
  });
});
