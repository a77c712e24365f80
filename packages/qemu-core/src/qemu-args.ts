/**
 * `buildQemuArgs(spec)`: a pure function from a {@link VmSpec} to the exact
 * QEMU argument array. Same spec in, same array out: `VmInstance` records it
 * so that a resume (`-loadvm`) runs an identical machine.
 *
 * Every user-provided string placed inside a comma-separated option value
 * (`-drive file=...`, `-chardev ...,path=...`, `-fw_cfg ...,string=...`) has
 * its commas doubled, QEMU's escape, so a path containing a comma works.
 * Arguments that take a whole string (`-kernel`, `-append`, `-pidfile`) are
 * passed as they are.
 */
import { qemuErrors } from "./errors-data.js";
import type { Accelerator, Arch, DriveSpec, GuestForward, PortForward, VmSpec } from "./vm-spec.js";
import { ARCHES } from "./vm-spec.js";

export interface BuildQemuArgsOptions {
  /**
   * The host's arch, for cross-arch choices: a hardware accelerator needs a
   * guest of the host's arch, and an amd64 guest on an arm64 host runs TCG
   * single-threaded (its stronger memory ordering cannot be kept by MTTCG).
   * Unknown when omitted: only choices valid on any host are made.
   */
  readonly hostArch?: Arch | undefined;
}

/** One problem found by {@link validateVmSpec}: the field's path and what is wrong with it. */
export interface VmSpecIssue {
  readonly path: string;
  readonly message: string;
}

/** Doubles commas, QEMU's escape for a value inside a comma-separated option string. */
export function escapeQemuOptionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

const ACCELERATORS: readonly Accelerator[] = ["kvm", "hvf", "whpx", "tcg"];
const QEMU_ID = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const SMBIOS_FIELD = /^[a-z][a-z0-9_-]*$/;
const IPV4 = /^[0-9]{1,3}(\.[0-9]{1,3}){3}$/;
/** QEMU's user network (10.0.2.0/24) and the two addresses it keeps for itself (a guestfwd there is refused). */
const USER_NETWORK_PREFIX = "10.0.2.";
const USER_NETWORK_RESERVED = new Set(["10.0.2.0", "10.0.2.2", "10.0.2.3", "10.0.2.255"]);

/** The QEMU system emulator binary name for a guest arch (without `.exe`). */
export function qemuSystemBinaryName(arch: Arch): string {
  return arch === "amd64" ? "qemu-system-x86_64" : "qemu-system-aarch64";
}

/**
 * The CPU model `buildQemuArgs` uses for an arch and accelerator (unless the
 * spec sets `cpuModel`): `host` under KVM and HVF; `max` under TCG for amd64
 * and under WHPX; `max,pauth-impdef=on` under TCG for arm64 (pointer
 * authentication with QEMU's cheap implementation-defined algorithm: about
 * 2.7 times faster than plain `max`; `cortex-a57` is the other fast choice).
 */
export function defaultCpuModel(arch: Arch, accel: Accelerator): string {
  if (accel === "kvm" || accel === "hvf") return "host";
  if (accel === "tcg" && arch === "arm64") return "max,pauth-impdef=on";
  return "max";
}

/**
 * Checks a spec and returns every problem found (empty when valid). Pure.
 * {@link buildQemuArgs} throws `INVALID_VM_SPEC` with these issues.
 */
export function validateVmSpec(spec: VmSpec, options: BuildQemuArgsOptions = {}): VmSpecIssue[] {
  const issues: VmSpecIssue[] = [];
  const bad = (path: string, message: string) => issues.push({ path, message });
  const nonEmpty = (path: string, value: unknown) => {
    if (typeof value !== "string" || value === "") bad(path, "must be a non-empty string");
  };
  const s = spec as Partial<Record<keyof VmSpec, unknown>> & VmSpec;
  if (typeof spec !== "object" || spec === null) return [{ path: "", message: "the spec must be an object" }];

  nonEmpty("name", s.name);
  if (!ARCHES.includes(s.arch)) bad("arch", `must be one of ${ARCHES.join(", ")} (got ${JSON.stringify(s.arch)})`);
  if (!ACCELERATORS.includes(s.accel)) {
    bad("accel", `must be one of ${ACCELERATORS.join(", ")} (got ${JSON.stringify(s.accel)})`);
  } else if (s.accel !== "tcg" && options.hostArch !== undefined && options.hostArch !== s.arch) {
    bad(
      "accel",
      `${s.accel} cannot run a ${s.arch} guest on a ${options.hostArch} host: use tcg for a cross-arch guest`,
    );
  }
  if (s.cpuModel !== undefined) nonEmpty("cpuModel", s.cpuModel);
  if (!Number.isInteger(s.cpus) || s.cpus < 1 || s.cpus > 1024) {
    bad("cpus", `must be an integer from 1 to 1024 (got ${JSON.stringify(s.cpus)})`);
  }
  if (!Number.isInteger(s.memoryMb) || s.memoryMb < 128 || s.memoryMb > 4_194_304) {
    bad("memoryMb", `must be an integer number of MB, at least 128 (got ${JSON.stringify(s.memoryMb)})`);
  }

  if (!Array.isArray(s.drives)) {
    bad("drives", "must be an array (empty for none)");
  } else {
    const seen = new Set<string>();
    s.drives.forEach((drive: DriveSpec, i: number) => {
      const at = `drives[${i}]`;
      if (typeof drive.id !== "string" || !QEMU_ID.test(drive.id)) {
        bad(`${at}.id`, "must start with a letter and hold only letters, digits, '-', '.', '_'");
      } else if (seen.has(drive.id) || drive.id === "net0" || drive.id.startsWith("pflash")) {
        bad(`${at}.id`, `"${drive.id}" is used twice or reserved`);
      } else {
        seen.add(drive.id);
      }
      nonEmpty(`${at}.file`, drive.file);
      if (drive.format !== "qcow2" && drive.format !== "raw") bad(`${at}.format`, "must be qcow2 or raw");
      if (drive.cache !== undefined && !["none", "writeback", "unsafe"].includes(drive.cache)) {
        bad(`${at}.cache`, "must be none, writeback or unsafe");
      }
      if (drive.serial !== undefined && (drive.serial === "" || drive.serial.length > 20)) {
        bad(`${at}.serial`, "must be 1 to 20 characters (virtio-blk's limit)");
      }
    });
  }

  if (s.firmware !== undefined) {
    nonEmpty("firmware.code", s.firmware.code);
    if (s.firmware.vars !== undefined) nonEmpty("firmware.vars", s.firmware.vars);
    if (s.firmware.varsFormat !== undefined && !["qcow2", "raw"].includes(s.firmware.varsFormat)) {
      bad("firmware.varsFormat", "must be qcow2 or raw");
    }
  }
  if (s.kernelBoot !== undefined) {
    nonEmpty("kernelBoot.kernel", s.kernelBoot.kernel);
    if (s.kernelBoot.initrd !== undefined) nonEmpty("kernelBoot.initrd", s.kernelBoot.initrd);
    if (s.kernelBoot.append !== undefined && typeof s.kernelBoot.append !== "string") {
      bad("kernelBoot.append", "must be a string");
    }
  }
  if (s.arch === "arm64" && s.firmware === undefined && s.kernelBoot === undefined) {
    bad("firmware", "an arm64 guest needs UEFI firmware (firmware.code) or a direct kernel boot (kernelBoot)");
  }

  if (s.network !== undefined) {
    if (s.network.kind !== "user") bad("network.kind", 'must be "user"');
    if (s.network.mac !== undefined && !MAC.test(s.network.mac)) {
      bad("network.mac", "must look like 52:54:00:12:34:56");
    }
    if (!Array.isArray(s.network.forwards)) {
      bad("network.forwards", "must be an array (empty for none)");
    } else {
      const taken = new Set<string>();
      s.network.forwards.forEach((f: PortForward, i: number) => {
        const at = `network.forwards[${i}]`;
        for (const key of ["hostPort", "guestPort"] as const) {
          const port = f[key];
          if (!Number.isInteger(port) || port < 1 || port > 65535) {
            bad(`${at}.${key}`, `must be an integer port from 1 to 65535 (got ${JSON.stringify(port)})`);
          }
        }
        if (f.protocol !== undefined && f.protocol !== "tcp" && f.protocol !== "udp") {
          bad(`${at}.protocol`, "must be tcp or udp");
        }
        for (const key of ["hostAddress", "guestAddress"] as const) {
          const address = f[key];
          if (address !== undefined && !IPV4.test(address)) {
            bad(`${at}.${key}`, `must be an IPv4 address (got ${JSON.stringify(address)})`);
          }
        }
        const key = `${f.protocol ?? "tcp"}:${f.hostAddress ?? "127.0.0.1"}:${f.hostPort}`;
        if (taken.has(key)) bad(`${at}.hostPort`, `${f.hostPort} is forwarded twice`);
        taken.add(key);
      });
    }
    if (s.network.restrict !== undefined && typeof s.network.restrict !== "boolean") {
      bad("network.restrict", "must be a boolean");
    }
    validateGuestForwards(s.network.guestForwards, bad);
  }

  s.fwCfg?.forEach((entry, i) => {
    const at = `fwCfg[${i}]`;
    if (typeof entry.name !== "string" || !entry.name.startsWith("opt/") || entry.name.length > 55) {
      bad(`${at}.name`, 'must start with "opt/" and be at most 55 characters');
    }
    if ((entry.file === undefined) === (entry.string === undefined)) {
      bad(at, "must have exactly one of file or string");
    } else if (entry.file !== undefined) {
      nonEmpty(`${at}.file`, entry.file);
    }
  });
  s.smbios?.forEach((entry, i) => {
    const at = `smbios[${i}]`;
    if (!Number.isInteger(entry.type) || entry.type < 0 || entry.type > 127) {
      bad(`${at}.type`, "must be an SMBIOS structure type, an integer from 0 to 127");
    }
    for (const field of Object.keys(entry.fields ?? {})) {
      if (!SMBIOS_FIELD.test(field)) bad(`${at}.fields.${field}`, "is not a valid SMBIOS field name");
    }
  });

  if (s.qmpSocket !== undefined) nonEmpty("qmpSocket", s.qmpSocket);
  if (s.guestAgentSocket !== undefined) nonEmpty("guestAgentSocket", s.guestAgentSocket);
  if (s.serial !== undefined && s.serial !== "stdio" && s.serial !== "none") {
    if (typeof s.serial !== "object" || s.serial === null) bad("serial", 'must be { file }, "stdio" or "none"');
    else nonEmpty("serial.file", s.serial.file);
  }
  if (s.daemonize === true && s.serial === "stdio") bad("serial", '"stdio" cannot be used with daemonize');
  if (s.pidFile !== undefined) nonEmpty("pidFile", s.pidFile);
  if (s.loadvm !== undefined) nonEmpty("loadvm", s.loadvm);
  if (s.incoming !== undefined) nonEmpty("incoming", s.incoming);
  if (s.memoryFile !== undefined) {
    if (typeof s.memoryFile !== "string" || !s.memoryFile.startsWith("/")) {
      bad("memoryFile", `must be an absolute path (got ${JSON.stringify(s.memoryFile)})`);
    }
  }
  if (s.loadvm !== undefined && s.incoming !== undefined) bad("incoming", "cannot be combined with loadvm");
  if (s.balloon !== undefined) {
    if (typeof s.balloon !== "object" || s.balloon === null) bad("balloon", "must be an object");
    else if (s.balloon.freePageReporting !== undefined && typeof s.balloon.freePageReporting !== "boolean") {
      bad("balloon.freePageReporting", "must be a boolean");
    }
  }
  if (s.extraArgs !== undefined && (!Array.isArray(s.extraArgs) || s.extraArgs.some((a) => typeof a !== "string"))) {
    bad("extraArgs", "must be an array of strings");
  }
  return issues;
}

function validateGuestForwards(
  forwards: readonly GuestForward[] | undefined,
  bad: (path: string, message: string) => void,
): void {
  if (forwards === undefined) return;
  if (!Array.isArray(forwards)) {
    bad("network.guestForwards", "must be an array");
    return;
  }
  const taken = new Set<string>();
  forwards.forEach((f: GuestForward, i: number) => {
    const at = `network.guestForwards[${i}]`;
    const address = f.guestAddress;
    if (typeof address !== "string" || !IPV4.test(address) || !address.startsWith(USER_NETWORK_PREFIX)) {
      bad(`${at}.guestAddress`, `must be an address of the user network 10.0.2.0/24 (got ${JSON.stringify(address)})`);
    } else if (USER_NETWORK_RESERVED.has(address)) {
      bad(`${at}.guestAddress`, `${address} is the user network's own (host, DNS or broadcast): QEMU refuses it`);
    }
    if (!Number.isInteger(f.guestPort) || f.guestPort < 1 || f.guestPort > 65535) {
      bad(`${at}.guestPort`, `must be an integer port from 1 to 65535 (got ${JSON.stringify(f.guestPort)})`);
    }
    if (typeof f.command !== "string" || f.command.trim() === "" || /[\n\r\0]/.test(f.command)) {
      bad(`${at}.command`, "must be a non-empty command on one line");
    }
    const key = `${address}:${f.guestPort}`;
    if (taken.has(key)) bad(`${at}.guestPort`, `${key} is forwarded twice`);
    taken.add(key);
  });
}

/** Throws `INVALID_VM_SPEC` naming every bad field (paths in `details.issues`) unless the spec is valid. */
export function assertValidVmSpec(spec: VmSpec, options: BuildQemuArgsOptions = {}): void {
  const issues = validateVmSpec(spec, options);
  if (issues.length === 0) return;
  const list = issues.map((issue) => `${issue.path === "" ? "spec" : issue.path}: ${issue.message}`).join("; ");
  throw qemuErrors.create("INVALID_VM_SPEC", `Invalid VM spec${spec?.name ? ` "${spec.name}"` : ""}: ${list}`, {
    details: { issues },
  });
}

/**
 * The id of the memory backend of a file-backed guest RAM: the name the machine gives its own RAM (`pc.ram` on
 * q35, `mach-virt.ram` on virt), so the RAM block keeps its name and a state saved without a memory file (an
 * internal snapshot for `-loadvm`, say) still loads into a VM with one.
 */
export const GUEST_RAM_ID: Readonly<Record<Arch, string>> = { amd64: "pc.ram", arm64: "mach-virt.ram" };

const opts = (head: string, pairs: ReadonlyArray<readonly [string, string | undefined]>): string =>
  [head, ...pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)].filter((p) => p !== "").join(",");
const esc = escapeQemuOptionValue;

/** `guestfwd=` value: `tcp:10.0.2.100:8110-cmd:<command>`, commas doubled. */
function guestfwd(f: GuestForward): string {
  return `tcp:${f.guestAddress}:${f.guestPort}-cmd:${esc(f.command)}`;
}

function hostfwd(f: PortForward): string {
  const host = f.hostAddress ?? "127.0.0.1";
  return `${f.protocol ?? "tcp"}:${host}:${f.hostPort}-${f.guestAddress ?? ""}:${f.guestPort}`;
}

/**
 * Builds QEMU's argument list (without the binary) for a spec. Pure and
 * deterministic; throws `INVALID_VM_SPEC` on a malformed spec.
 *
 * The order is fixed: identity, machine, accelerator, CPU, memory, defaults
 * off, firmware, kernel, drives (in spec order), network, RNG, balloon, fw_cfg,
 * SMBIOS, QMP, guest agent, serial, pidfile, daemonize, no-reboot, loadvm or
 * incoming, then `extraArgs`.
 *
 * @example
 * ```ts
 * const args = buildQemuArgs({
 *   name: "vm", arch: "amd64", accel: "tcg", cpus: 2, memoryMb: 2048,
 *   drives: [{ id: "disk", file: "/tmp/disk.qcow2", format: "qcow2", discard: true }],
 *   network: { kind: "user", forwards: [{ hostPort: 26700, guestPort: 8101 }] },
 *   qmpSocket: "/tmp/qmp.sock", serial: { file: "/tmp/serial.log" },
 * });
 * // ["-name", "vm", "-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max", ...]
 * ```
 */
export function buildQemuArgs(spec: VmSpec, options: BuildQemuArgsOptions = {}): string[] {
  assertValidVmSpec(spec, options);
  const args: string[] = [];
  const add = (...parts: string[]) => args.push(...parts);
  const hardware = spec.accel !== "tcg";

  add("-name", esc(spec.name));
  const ramBackend = spec.memoryFile === undefined ? "" : `,memory-backend=${GUEST_RAM_ID[spec.arch]}`;
  if (spec.arch === "amd64") add("-machine", `q35${ramBackend}`);
  else add("-machine", `${hardware ? "virt,gic-version=max" : "virt"}${ramBackend}`);

  if (spec.accel === "tcg") {
    // x86's strong memory ordering cannot be kept by multi-threaded TCG on a weakly ordered (arm64) host.
    const multi = !(spec.arch === "amd64" && options.hostArch === "arm64");
    add("-accel", multi ? "tcg,thread=multi" : "tcg");
  } else {
    add("-accel", spec.accel);
  }
  add("-cpu", spec.cpuModel ?? defaultCpuModel(spec.arch, spec.accel));
  add("-smp", String(spec.cpus));
  add("-m", String(spec.memoryMb));
  if (spec.memoryFile !== undefined) {
    add(
      "-object",
      opts("memory-backend-file", [
        ["id", GUEST_RAM_ID[spec.arch]],
        ["size", `${spec.memoryMb}M`],
        ["mem-path", esc(spec.memoryFile)],
        ["share", "on"],
      ]),
    );
  }
  add("-nodefaults", "-display", "none", "-vga", "none");

  if (spec.kernelBoot !== undefined) {
    add("-kernel", spec.kernelBoot.kernel);
    if (spec.kernelBoot.initrd !== undefined) add("-initrd", spec.kernelBoot.initrd);
    if (spec.kernelBoot.append !== undefined) add("-append", spec.kernelBoot.append);
  }

  for (const d of spec.drives) {
    add(
      "-drive",
      opts("if=none", [
        ["id", d.id],
        ["file", esc(d.file)],
        ["format", d.format],
        ["readonly", d.readOnly === true ? "on" : undefined],
        ["discard", d.discard === true ? "unmap" : undefined],
        ["detect-zeroes", d.discard === true ? "unmap" : undefined],
        ["cache", d.cache],
      ]),
    );
    add(
      "-device",
      opts("virtio-blk-pci", [
        ["drive", d.id],
        ["serial", d.serial === undefined ? undefined : esc(d.serial)],
      ]),
    );
  }

  // Firmware drives come after the disks: `-loadvm` looks for the VM state on the first writable
  // drive that can hold snapshots, which must be the disk, not the UEFI variables.
  if (spec.firmware !== undefined) {
    const fw = spec.firmware;
    add("-drive", `if=pflash,unit=0,format=raw,readonly=on,file=${esc(fw.code)}`);
    if (fw.vars !== undefined) {
      const format = fw.varsFormat ?? (fw.vars.endsWith(".qcow2") ? "qcow2" : "raw");
      add("-drive", `if=pflash,unit=1,format=${format},file=${esc(fw.vars)}`);
    }
  }
  if (spec.network !== undefined) {
    const net = spec.network;
    add(
      "-netdev",
      opts("user", [
        ["id", "net0"],
        ["restrict", net.restrict === true ? "on" : undefined],
        ...net.forwards.map((f) => ["hostfwd", hostfwd(f)] as const),
        ...(net.guestForwards ?? []).map((f) => ["guestfwd", guestfwd(f)] as const),
      ]),
    );
    add(
      "-device",
      opts("virtio-net-pci", [
        ["netdev", "net0"],
        ["mac", net.mac],
      ]),
    );
  }
  if (spec.rng === true) add("-object", "rng-builtin,id=rng0", "-device", "virtio-rng-pci,rng=rng0");
  if (spec.balloon !== undefined) {
    const reporting = spec.balloon.freePageReporting === true ? [["free-page-reporting", "on"] as const] : [];
    add("-device", opts("virtio-balloon-pci", [["id", "balloon0"], ...reporting]));
  }

  for (const entry of spec.fwCfg ?? []) {
    const value = entry.file !== undefined ? `file=${esc(entry.file)}` : `string=${esc(entry.string ?? "")}`;
    add("-fw_cfg", `name=${esc(entry.name)},${value}`);
  }
  for (const entry of spec.smbios ?? []) {
    add(
      "-smbios",
      opts(
        `type=${entry.type}`,
        Object.entries(entry.fields).map(([k, v]) => [k, esc(v)] as const),
      ),
    );
  }

  if (spec.qmpSocket !== undefined) {
    add("-chardev", `socket,id=qmp,path=${esc(spec.qmpSocket)},server=on,wait=off`);
    add("-mon", "chardev=qmp,mode=control");
  }
  if (spec.guestAgentSocket !== undefined) {
    add("-device", "virtio-serial-pci,id=virtio-serial0");
    add("-chardev", `socket,id=qga0,path=${esc(spec.guestAgentSocket)},server=on,wait=off`);
    add("-device", "virtserialport,bus=virtio-serial0.0,chardev=qga0,name=org.qemu.guest_agent.0");
  }
  if (spec.serial === "stdio") add("-serial", "stdio");
  else if (spec.serial === "none") add("-serial", "none");
  else if (spec.serial !== undefined) {
    add("-chardev", `file,id=serial0,path=${esc(spec.serial.file)}`, "-serial", "chardev:serial0");
  }
  if (spec.pidFile !== undefined) add("-pidfile", spec.pidFile);
  if (spec.daemonize === true) add("-daemonize");
  if (spec.noReboot === true) add("-no-reboot");
  if (spec.loadvm !== undefined) add("-loadvm", spec.loadvm);
  if (spec.incoming !== undefined) add("-incoming", spec.incoming);
  if (spec.extraArgs !== undefined) add(...spec.extraArgs);
  return args;
}
