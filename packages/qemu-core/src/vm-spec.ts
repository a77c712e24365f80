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

/**
 * A guest TCP connection to `guestAddress:guestPort` handed to a host command
 * (`guestfwd=tcp:ADDR:PORT-cmd:COMMAND`): QEMU starts the command once per
 * connection, its stdin, stdout and stderr being the connection. The command
 * is split like a shell would (quotes work) but no shell runs it.
 */
export interface GuestForward {
  /** An address of the user network (10.0.2.0/24) other than the host (10.0.2.2) and DNS (10.0.2.3). */
  readonly guestAddress: string;
  readonly guestPort: number;
  readonly command: string;
}

export interface UserNetworkSpec {
  readonly kind: "user";
  readonly forwards: readonly PortForward[];
  /**
   * `restrict=on`: the guest reaches nothing beyond the VM (not the host, not
   * the LAN, not the internet); `forwards` and `guestForwards` still work.
   */
  readonly restrict?: boolean;
  /** Guest connections to these addresses go to host commands (also under `restrict`). */
  readonly guestForwards?: readonly GuestForward[];
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
  /**
   * Back the guest's RAM with this file, mapped shared (`memory-backend-file,share=on`), instead of anonymous
   * memory. A state file saved from such a VM holds only the device state: the RAM is the file itself (QEMU's
   * `x-ignore-shared`), so saving and resuming cost what the device state costs, not what the RAM does. The file
   * grows to what the guest touches, up to `memoryMb`. See `instance/state-file.ts`.
   */
  readonly memoryFile?: string;
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
  /**
   * A virtio balloon (`virtio-balloon-pci`, QEMU 5.1+ for `freePageReporting`). With `freePageReporting` the guest
   * tells QEMU which blocks of its memory it freed (Linux `CONFIG_PAGE_REPORTING`, 2 MiB blocks and up, a few seconds
   * after they were freed) and QEMU discards them: a `memoryFile` gets holes there instead of the stale pages.
   */
  readonly balloon?: { readonly freePageReporting?: boolean };
  /** Exit QEMU when the guest powers off or resets: `-no-reboot`. */
  readonly noReboot?: boolean;
  /** Escape hatch, appended verbatim. */
  readonly extraArgs?: readonly string[];
}
