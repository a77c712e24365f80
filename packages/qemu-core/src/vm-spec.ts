/**
 * Typed description of a virtual machine. `buildQemuArgs(spec)` turns it into
 * a QEMU argument array (pure), and `VmInstance` records it so a resume uses
 * exactly the same machine.
 */

/** Guest and host architectures, normalised (`x86_64` -> `amd64`, `aarch64` -> `arm64`). */
export type Arch = "amd64" | "arm64";
export const ARCHES: readonly Arch[] = ["amd64", "arm64"];

export type Accelerator = "kvm" | "hvf" | "whpx" | "tcg";

export interface DriveSpec {
  /** Drive id, unique within the VM (`disk`, `seed`, `payload`). */
  readonly id: string;
  readonly file: string;
  /** Always stated: QEMU never guesses a format. */
  readonly format: "qcow2" | "raw";
  readonly readOnly?: boolean;
  /** Pass guest discards (TRIM) down to the image: `discard=unmap,detect-zeroes=unmap`. */
  readonly discard?: boolean;
  readonly cache?: "none" | "writeback" | "unsafe";
  /** Serial number shown to the guest (`/dev/disk/by-id/virtio-<serial>`). */
  readonly serial?: string;
}

export interface PortForward {
  readonly protocol?: "tcp" | "udp";
  /** Host address to bind; `127.0.0.1` unless the spec asks otherwise. */
  readonly hostAddress?: string;
  readonly hostPort: number;
  readonly guestPort: number;
  readonly guestAddress?: string;
}

export interface UserNetworkSpec {
  readonly kind: "user";
  readonly forwards: readonly PortForward[];
  /** MAC address of the guest NIC (stable across resumes). */
  readonly mac?: string;
}

export interface KernelBootSpec {
  readonly kernel: string;
  readonly initrd?: string;
  readonly append?: string;
}

export interface FirmwareSpec {
  /** Read-only UEFI code image. */
  readonly code: string;
  /** Writable UEFI variables: qcow2, so `savevm` is not blocked. */
  readonly vars?: string;
  readonly varsFormat?: "qcow2" | "raw";
}

export interface FwCfgEntry {
  /** Must start with `opt/` (for example `opt/hexclave/bridge`). */
  readonly name: string;
  readonly file?: string;
  readonly string?: string;
}

export interface SmbiosEntry {
  readonly type: number;
  readonly fields: Readonly<Record<string, string>>;
}

export interface VmSpec {
  readonly name: string;
  readonly arch: Arch;
  readonly accel: Accelerator;
  /** Override the CPU model chosen for the accelerator and arch. */
  readonly cpuModel?: string;
  readonly cpus: number;
  readonly memoryMb: number;
  readonly drives: readonly DriveSpec[];
  readonly firmware?: FirmwareSpec;
  readonly kernelBoot?: KernelBootSpec;
  readonly network?: UserNetworkSpec;
  readonly fwCfg?: readonly FwCfgEntry[];
  readonly smbios?: readonly SmbiosEntry[];
  /** Unix socket path for QMP (server, no wait). */
  readonly qmpSocket?: string;
  /** Unix socket for the QEMU guest agent (virtio-serial port `org.qemu.guest_agent.0`). */
  readonly guestAgentSocket?: string;
  /** Guest serial console to this file; `stdio` for foreground use. */
  readonly serial?: { readonly file: string } | "stdio" | "none";
  readonly pidFile?: string;
  readonly daemonize?: boolean;
  /** Resume from this internal snapshot at start (`-loadvm`). */
  readonly loadvm?: string;
  /** Wait for an incoming migration (`-incoming`). */
  readonly incoming?: string;
  /** virtio-rng from the host: guests boot without waiting for entropy. */
  readonly rng?: boolean;
  /** Exit QEMU when the guest powers off or resets: `-no-reboot`. */
  readonly noReboot?: boolean;
  /** Escape hatch, appended verbatim. */
  readonly extraArgs?: readonly string[];
}
