import { describe, expect, it } from "vitest";
import { HexclaveError } from "./errors.js";
import { buildQemuArgs, escapeQemuOptionValue, validateVmSpec } from "./qemu-args.js";
import type { VmSpec } from "./vm-spec.js";

const base = { name: "vm", cpus: 2, memoryMb: 2048, drives: [] } as const;
const head = ["-name", "vm"];
const tail = ["-smp", "2", "-m", "2048", "-nodefaults", "-display", "none", "-vga", "none"];
const kernel = { kernelBoot: { kernel: "/k/Image" } } as const;
const kernelArgs = ["-kernel", "/k/Image"];

/** Every arch and accelerator, with the host arch where it matters: exact output. */
const table: Array<{ title: string; spec: VmSpec; hostArch?: "amd64" | "arm64"; args: string[] }> = [
  {
    title: "amd64 kvm",
    spec: { ...base, arch: "amd64", accel: "kvm" },
    args: [...head, "-machine", "q35", "-accel", "kvm", "-cpu", "host", ...tail],
  },
  {
    title: "amd64 hvf (Intel Mac)",
    spec: { ...base, arch: "amd64", accel: "hvf" },
    args: [...head, "-machine", "q35", "-accel", "hvf", "-cpu", "host", ...tail],
  },
  {
    title: "amd64 whpx",
    spec: { ...base, arch: "amd64", accel: "whpx" },
    args: [...head, "-machine", "q35", "-accel", "whpx", "-cpu", "max", ...tail],
  },
  {
    title: "amd64 tcg, host unknown",
    spec: { ...base, arch: "amd64", accel: "tcg" },
    args: [...head, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...tail],
  },
  {
    title: "amd64 tcg on an arm64 host (cross-arch: single-threaded TCG)",
    spec: { ...base, arch: "amd64", accel: "tcg" },
    hostArch: "arm64",
    args: [...head, "-machine", "q35", "-accel", "tcg", "-cpu", "max", ...tail],
  },
  {
    title: "amd64 tcg with its RAM in a shared file (commas doubled)",
    spec: { ...base, arch: "amd64", accel: "tcg", memoryFile: "/run,1/guest.ram" },
    args: [
      ...[...head, "-machine", "q35,memory-backend=pc.ram", "-accel", "tcg,thread=multi", "-cpu", "max"],
      ...["-smp", "2", "-m", "2048"],
      ...["-object", "memory-backend-file,id=pc.ram,size=2048M,mem-path=/run,,1/guest.ram,share=on"],
      ...tail.slice(4),
    ],
  },
  {
    title: "arm64 hvf with its RAM in a shared file",
    spec: { ...base, arch: "arm64", accel: "hvf", memoryFile: "/r/guest.ram", ...kernel },
    hostArch: "arm64",
    args: [
      ...[...head, "-machine", "virt,gic-version=max,memory-backend=mach-virt.ram", "-accel", "hvf", "-cpu", "host"],
      ...["-smp", "2", "-m", "2048"],
      ...["-object", "memory-backend-file,id=mach-virt.ram,size=2048M,mem-path=/r/guest.ram,share=on"],
      ...tail.slice(4),
      ...kernelArgs,
    ],
  },
  {
    title: "arm64 kvm",
    spec: { ...base, arch: "arm64", accel: "kvm", ...kernel },
    hostArch: "arm64",
    args: [...head, "-machine", "virt,gic-version=max", "-accel", "kvm", "-cpu", "host", ...tail, ...kernelArgs],
  },
  {
    title: "arm64 hvf (Apple silicon)",
    spec: { ...base, arch: "arm64", accel: "hvf", ...kernel },
    args: [...head, "-machine", "virt,gic-version=max", "-accel", "hvf", "-cpu", "host", ...tail, ...kernelArgs],
  },
  {
    title: "arm64 whpx",
    spec: { ...base, arch: "arm64", accel: "whpx", ...kernel },
    args: [...head, "-machine", "virt,gic-version=max", "-accel", "whpx", "-cpu", "max", ...tail, ...kernelArgs],
  },
  {
    title: "arm64 tcg on an amd64 host (cross-arch: MTTCG, fast pointer auth)",
    spec: { ...base, arch: "arm64", accel: "tcg", ...kernel },
    hostArch: "amd64",
    args: [
      ...head,
      ...["-machine", "virt", "-accel", "tcg,thread=multi", "-cpu", "max,pauth-impdef=on"],
      ...tail,
      ...kernelArgs,
    ],
  },
  {
    title: "arm64 tcg with the cortex-a57 alternative",
    spec: { ...base, arch: "arm64", accel: "tcg", cpuModel: "cortex-a57", ...kernel },
    args: [...head, "-machine", "virt", "-accel", "tcg,thread=multi", "-cpu", "cortex-a57", ...tail, ...kernelArgs],
  },
  {
    title: "arm64 with UEFI firmware (qcow2 vars) instead of a kernel",
    spec: {
      ...base,
      arch: "arm64",
      accel: "tcg",
      firmware: { code: "/usr/share/AAVMF/AAVMF_CODE.fd", vars: "/run/vm/efivars.qcow2" },
    },
    args: [
      ...head,
      ...["-machine", "virt", "-accel", "tcg,thread=multi", "-cpu", "max,pauth-impdef=on"],
      ...tail,
      ...["-drive", "if=pflash,unit=0,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd"],
      ...["-drive", "if=pflash,unit=1,format=qcow2,file=/run/vm/efivars.qcow2"],
    ],
  },
  {
    title: "amd64 UEFI with raw vars stated explicitly",
    spec: {
      ...base,
      arch: "amd64",
      accel: "kvm",
      firmware: { code: "/fw/OVMF_CODE_4M.fd", vars: "/fw/vars.bin", varsFormat: "raw" },
    },
    args: [
      ...head,
      ...["-machine", "q35", "-accel", "kvm", "-cpu", "host"],
      ...tail,
      ...["-drive", "if=pflash,unit=0,format=raw,readonly=on,file=/fw/OVMF_CODE_4M.fd"],
      ...["-drive", "if=pflash,unit=1,format=raw,file=/fw/vars.bin"],
    ],
  },
  {
    title: "the full emulator: drives, kernel, network, rng, fw_cfg, smbios, QMP, agent, serial, pidfile, daemonize",
    spec: {
      name: "hexclave",
      arch: "amd64",
      accel: "tcg",
      cpus: 4,
      memoryMb: 4096,
      kernelBoot: { kernel: "/img/vmlinuz", initrd: "/img/initrd.img", append: "root=/dev/vda console=ttyS0,115200" },
      drives: [
        { id: "disk", file: "/run/vm/disk.qcow2", format: "qcow2", discard: true, cache: "unsafe", serial: "disk" },
        { id: "seed", file: "/run/vm/seed.iso", format: "raw", readOnly: true },
      ],
      network: {
        kind: "user",
        mac: "52:54:00:12:34:56",
        forwards: [
          { hostPort: 26700, guestPort: 8101 },
          { hostPort: 26701, guestPort: 8102, hostAddress: "0.0.0.0" },
          { protocol: "udp", hostPort: 5353, guestPort: 53, guestAddress: "10.0.2.15" },
        ],
      },
      rng: true,
      fwCfg: [
        { name: "opt/hexclave/token", string: "a,b" },
        { name: "opt/hexclave/config", file: "/run/vm/config.json" },
      ],
      smbios: [{ type: 1, fields: { serial: "ds=nocloud;s=http://10.0.2.2:8000/" } }],
      qmpSocket: "/run/vm/qmp.sock",
      guestAgentSocket: "/run/vm/qga.sock",
      serial: { file: "/run/vm/serial.log" },
      pidFile: "/run/vm/qemu.pid",
      daemonize: true,
      noReboot: true,
      loadvm: "suspend",
      extraArgs: ["-snapshot"],
    },
    args: [
      ...["-name", "hexclave", "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max"],
      ...["-smp", "4", "-m", "4096", "-nodefaults", "-display", "none", "-vga", "none"],
      ...["-kernel", "/img/vmlinuz", "-initrd", "/img/initrd.img", "-append", "root=/dev/vda console=ttyS0,115200"],
      "-drive",
      "if=none,id=disk,file=/run/vm/disk.qcow2,format=qcow2,discard=unmap,detect-zeroes=unmap,cache=unsafe",
      ...["-device", "virtio-blk-pci,drive=disk,serial=disk"],
      ...["-drive", "if=none,id=seed,file=/run/vm/seed.iso,format=raw,readonly=on"],
      ...["-device", "virtio-blk-pci,drive=seed"],
      "-netdev",
      "user,id=net0,hostfwd=tcp:127.0.0.1:26700-:8101,hostfwd=tcp:0.0.0.0:26701-:8102,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53",
      ...["-device", "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56"],
      ...["-object", "rng-builtin,id=rng0", "-device", "virtio-rng-pci,rng=rng0"],
      ...["-fw_cfg", "name=opt/hexclave/token,string=a,,b"],
      ...["-fw_cfg", "name=opt/hexclave/config,file=/run/vm/config.json"],
      ...["-smbios", "type=1,serial=ds=nocloud;s=http://10.0.2.2:8000/"],
      ...["-chardev", "socket,id=qmp,path=/run/vm/qmp.sock,server=on,wait=off", "-mon", "chardev=qmp,mode=control"],
      ...["-device", "virtio-serial-pci,id=virtio-serial0"],
      ...["-chardev", "socket,id=qga0,path=/run/vm/qga.sock,server=on,wait=off"],
      ...["-device", "virtserialport,bus=virtio-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0"],
      ...["-chardev", "file,id=serial0,path=/run/vm/serial.log", "-serial", "chardev:serial0"],
      ...["-pidfile", "/run/vm/qemu.pid", "-daemonize", "-no-reboot", "-loadvm", "suspend", "-snapshot"],
    ],
  },
  {
    title: "restricted user network: restrict=on, hostfwd kept, guestfwd to commands (commas doubled)",
    spec: {
      ...base,
      arch: "amd64",
      accel: "tcg",
      network: {
        kind: "user",
        restrict: true,
        forwards: [{ hostPort: 26700, guestPort: 8101 }],
        guestForwards: [
          { guestAddress: "10.0.2.100", guestPort: 3000, command: "'/run,1/connect' 3000" },
          { guestAddress: "10.0.2.101", guestPort: 8110, command: "/run/connect bridge" },
        ],
      },
    },
    args: [
      ...[...head, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...tail],
      "-netdev",
      "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:26700-:8101,guestfwd=tcp:10.0.2.100:3000-cmd:'/run,,1/connect' 3000,guestfwd=tcp:10.0.2.101:8110-cmd:/run/connect bridge",
      ...["-device", "virtio-net-pci,netdev=net0"],
    ],
  },
  {
    title: "unrestricted user network with a guest forward: no restrict option at all",
    spec: {
      ...base,
      arch: "amd64",
      accel: "tcg",
      network: {
        kind: "user",
        restrict: false,
        forwards: [],
        guestForwards: [{ guestAddress: "10.0.2.100", guestPort: 1, command: "c" }],
      },
    },
    args: [
      ...[...head, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...tail],
      ...["-netdev", "user,id=net0,guestfwd=tcp:10.0.2.100:1-cmd:c", "-device", "virtio-net-pci,netdev=net0"],
    ],
  },
  {
    title: "foreground: serial on stdio, incoming migration",
    spec: { ...base, arch: "amd64", accel: "tcg", serial: "stdio", incoming: "defer" },
    args: [
      ...[...head, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...tail],
      ...["-serial", "stdio", "-incoming", "defer"],
    ],
  },
  {
    title: "a balloon that reports the guest's free pages",
    spec: { ...base, arch: "amd64", accel: "tcg", balloon: { freePageReporting: true } },
    args: [
      ...[...head, "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...tail],
      ...["-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on"],
    ],
  },
  {
    title: "a plain balloon, after the RNG",
    spec: { ...base, arch: "arm64", accel: "kvm", ...kernel, rng: true, balloon: {} },
    args: [
      ...[...head, "-machine", "virt,gic-version=max", "-accel", "kvm", "-cpu", "host", ...tail, ...kernelArgs],
      ...["-object", "rng-builtin,id=rng0", "-device", "virtio-rng-pci,rng=rng0"],
      ...["-device", "virtio-balloon-pci,id=balloon0"],
    ],
  },
  {
    title: "no serial at all",
    spec: { ...base, arch: "amd64", accel: "kvm", serial: "none" },
    args: [...head, "-machine", "q35", "-accel", "kvm", "-cpu", "host", ...tail, "-serial", "none"],
  },
  {
    title: "commas in every user-provided option value are doubled; whole-string arguments are not",
    spec: {
      ...base,
      name: "a,b",
      arch: "amd64",
      accel: "tcg",
      kernelBoot: { kernel: "/k,1/vmlinuz", append: "console=ttyS0,115200" },
      drives: [{ id: "disk", file: "/data,1/disk.qcow2", format: "qcow2", serial: "s,1" }],
      firmware: { code: "/fw,1/code.fd", vars: "/fw,1/vars.qcow2" },
      qmpSocket: "/run,1/qmp.sock",
      guestAgentSocket: "/run,1/qga.sock",
      serial: { file: "/run,1/serial.log" },
      pidFile: "/run,1/qemu.pid",
      fwCfg: [{ name: "opt/x,y", file: "/f,1" }],
      smbios: [{ type: 1, fields: { serial: "ds=nocloud;s=http://h/,x" } }],
    },
    args: [
      ...["-name", "a,,b", "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...tail],
      ...["-kernel", "/k,1/vmlinuz", "-append", "console=ttyS0,115200"],
      ...["-drive", "if=none,id=disk,file=/data,,1/disk.qcow2,format=qcow2"],
      ...["-device", "virtio-blk-pci,drive=disk,serial=s,,1"],
      ...["-drive", "if=pflash,unit=0,format=raw,readonly=on,file=/fw,,1/code.fd"],
      ...["-drive", "if=pflash,unit=1,format=qcow2,file=/fw,,1/vars.qcow2"],
      ...["-fw_cfg", "name=opt/x,,y,file=/f,,1"],
      ...["-smbios", "type=1,serial=ds=nocloud;s=http://h/,,x"],
      ...["-chardev", "socket,id=qmp,path=/run,,1/qmp.sock,server=on,wait=off", "-mon", "chardev=qmp,mode=control"],
      ...["-device", "virtio-serial-pci,id=virtio-serial0"],
      ...["-chardev", "socket,id=qga0,path=/run,,1/qga.sock,server=on,wait=off"],
      ...["-device", "virtserialport,bus=virtio-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0"],
      ...["-chardev", "file,id=serial0,path=/run,,1/serial.log", "-serial", "chardev:serial0"],
      ...["-pidfile", "/run,1/qemu.pid"],
    ],
  },
];

describe("buildQemuArgs", () => {
  it.each(table)("$title", ({ spec, hostArch, args }) => {
    expect(buildQemuArgs(spec, hostArch === undefined ? {} : { hostArch })).toEqual(args);
  });

  it("is pure: the same spec gives the same array, and the spec is not changed", () => {
    const spec = table[12]!.spec;
    const copy = structuredClone(spec);
    expect(buildQemuArgs(spec)).toEqual(buildQemuArgs(spec));
    expect(spec).toEqual(copy);
  });

  it("escapes commas by doubling them", () => {
    expect(escapeQemuOptionValue("/a,b,,c")).toBe("/a,,b,,,,c");
  });
});

describe("spec validation", () => {
  const invalid: Array<{ title: string; spec: unknown; hostArch?: "amd64" | "arm64"; path: string }> = [
    { title: "zero CPUs", spec: { ...base, arch: "amd64", accel: "tcg", cpus: 0 }, path: "cpus" },
    { title: "fractional CPUs", spec: { ...base, arch: "amd64", accel: "tcg", cpus: 1.5 }, path: "cpus" },
    { title: "too little memory", spec: { ...base, arch: "amd64", accel: "tcg", memoryMb: 64 }, path: "memoryMb" },
    { title: "memory as text", spec: { ...base, arch: "amd64", accel: "tcg", memoryMb: "lots" }, path: "memoryMb" },
    { title: "unknown arch", spec: { ...base, arch: "riscv64", accel: "tcg" }, path: "arch" },
    { title: "unknown accelerator", spec: { ...base, arch: "amd64", accel: "xen" }, path: "accel" },
    {
      title: "hardware accelerator for a cross-arch guest",
      spec: { ...base, arch: "arm64", accel: "kvm", ...kernel },
      hostArch: "amd64",
      path: "accel",
    },
    {
      title: "arm64 with neither firmware nor kernel",
      spec: { ...base, arch: "arm64", accel: "tcg" },
      path: "firmware",
    },
    {
      title: "duplicate drive ids",
      spec: {
        ...base,
        arch: "amd64",
        accel: "tcg",
        drives: [
          { id: "disk", file: "/a", format: "qcow2" },
          { id: "disk", file: "/b", format: "raw" },
        ],
      },
      path: "drives[1].id",
    },
    {
      title: "drive id with a comma",
      spec: { ...base, arch: "amd64", accel: "tcg", drives: [{ id: "a,b", file: "/a", format: "qcow2" }] },
      path: "drives[0].id",
    },
    {
      title: "drive without a format",
      spec: { ...base, arch: "amd64", accel: "tcg", drives: [{ id: "d", file: "/a" }] },
      path: "drives[0].format",
    },
    {
      title: "port out of range",
      spec: {
        ...base,
        arch: "amd64",
        accel: "tcg",
        network: { kind: "user", forwards: [{ hostPort: 70000, guestPort: 80 }] },
      },
      path: "network.forwards[0].hostPort",
    },
    {
      title: "port zero",
      spec: {
        ...base,
        arch: "amd64",
        accel: "tcg",
        network: { kind: "user", forwards: [{ hostPort: 80, guestPort: 0 }] },
      },
      path: "network.forwards[0].guestPort",
    },
    {
      title: "IPv6 host address (hostfwd cannot)",
      spec: {
        ...base,
        arch: "amd64",
        accel: "tcg",
        network: { kind: "user", forwards: [{ hostPort: 80, guestPort: 80, hostAddress: "::1" }] },
      },
      path: "network.forwards[0].hostAddress",
    },
    ...(
      [
        ["guest forward to the host address 10.0.2.2 (QEMU refuses it)", [["10.0.2.2", 80, "c"]], "0].guestAddress"],
        ["guest forward outside the user network", [["192.168.1.5", 80, "c"]], "0].guestAddress"],
        ["guest forward port out of range", [["10.0.2.100", 65536, "c"]], "0].guestPort"],
        ["guest forward with an empty command", [["10.0.2.100", 80, " "]], "0].command"],
        ["guest forward command over two lines", [["10.0.2.100", 80, "a\nb"]], "0].command"],
        [
          "the same guest address and port twice",
          [
            ["10.0.2.100", 80, "a"],
            ["10.0.2.100", 80, "b"],
          ],
          "1].guestPort",
        ],
      ] as const
    ).map(([title, forwards, at]) => ({
      title,
      spec: {
        ...base,
        arch: "amd64" as const,
        accel: "tcg" as const,
        network: {
          kind: "user" as const,
          forwards: [],
          guestForwards: forwards.map(([guestAddress, guestPort, command]) => ({ guestAddress, guestPort, command })),
        },
      },
      path: `network.guestForwards[${at}`,
    })),
    {
      title: "bad MAC",
      spec: { ...base, arch: "amd64", accel: "tcg", network: { kind: "user", forwards: [], mac: "nope" } },
      path: "network.mac",
    },
    {
      title: "fw_cfg name outside opt/",
      spec: { ...base, arch: "amd64", accel: "tcg", fwCfg: [{ name: "etc/x", string: "1" }] },
      path: "fwCfg[0].name",
    },
    {
      title: "fw_cfg with both file and string",
      spec: { ...base, arch: "amd64", accel: "tcg", fwCfg: [{ name: "opt/x", string: "1", file: "/f" }] },
      path: "fwCfg[0]",
    },
    {
      title: "daemonize with serial on stdio",
      spec: { ...base, arch: "amd64", accel: "tcg", daemonize: true, serial: "stdio" },
      path: "serial",
    },
    {
      title: "a relative memory file",
      spec: { ...base, arch: "amd64", accel: "tcg", memoryFile: "guest.ram" },
      path: "memoryFile",
    },
    {
      title: "a balloon given as a flag",
      spec: { ...base, arch: "amd64", accel: "tcg", balloon: true },
      path: "balloon",
    },
    {
      title: "free page reporting as text",
      spec: { ...base, arch: "amd64", accel: "tcg", balloon: { freePageReporting: "on" } },
      path: "balloon.freePageReporting",
    },
    {
      title: "loadvm and incoming together",
      spec: { ...base, arch: "amd64", accel: "tcg", loadvm: "s", incoming: "defer" },
      path: "incoming",
    },
  ];

  it.each(invalid)("rejects $title with INVALID_VM_SPEC naming $path", ({ spec, hostArch, path }) => {
    let error: unknown;
    try {
      buildQemuArgs(spec as VmSpec, hostArch === undefined ? {} : { hostArch });
    } catch (e) {
      error = e;
    }
    expect(HexclaveError.is(error)).toBe(true);
    const e = error as HexclaveError;
    expect(e.code).toBe("INVALID_VM_SPEC");
    expect(e.message).toContain(`${path}:`);
    expect(e.hint).not.toBe("");
    expect((e.details.issues as Array<{ path: string }>).map((i) => i.path)).toContain(path);
  });

  it("collects every problem, not just the first", () => {
    const issues = validateVmSpec({ ...base, arch: "amd64", accel: "tcg", cpus: 0, memoryMb: 1 } as VmSpec);
    expect(issues.map((i) => i.path)).toEqual(["cpus", "memoryMb"]);
  });
});
