/**
 * The machine fingerprint stored with every snapshot (issue 8). A saved VM
 * state only loads into a machine built exactly the same way: same QEMU,
 * accelerator, CPU model, machine type, memory, CPU count, devices, and the
 * same base image under the overlay. Pure: computed from the QEMU argument
 * list that `buildQemuArgs` produced, so it describes what QEMU really saw.
 */
import type { Accelerator } from "@hexclave/qemu-core";

/**
 * Bumped when what the fingerprint is computed from changes: a snapshot saved under another version boots cold
 * once, saying so. 1 (unrecorded): the args of the runtime's own spec composition; 2: the args of qemu-core's
 * `instanceVmSpec`, exactly what `VmInstance.start` launches (the overlay drive in, `-daemonize` out).
 */
export const FINGERPRINT_VERSION = 2;

export interface VmFingerprint {
  /** {@link FINGERPRINT_VERSION} when it was computed (absent in records of version 1). */
  readonly version?: number;
  readonly qemuVersion: string;
  readonly accel: Accelerator;
  readonly cpuModel: string;
  readonly machine: string;
  readonly memoryMb: number;
  readonly cpus: number;
  /** Every device-defining option (`-device`, `-drive`, `-netdev`, `-object`, ...), host-only details removed. */
  readonly devices: readonly string[];
  readonly baseImageSha256: string;
}

export interface FingerprintInput {
  /** QEMU's argument list (without the binary), as built by `buildQemuArgs`. */
  readonly args: readonly string[];
  readonly accel: Accelerator;
  readonly memoryMb: number;
  readonly cpus: number;
  readonly qemuVersion: string;
  readonly baseImageSha256: string;
}

/** Options whose values define the guest's hardware. */
const DEVICE_OPTIONS = new Set([
  "-device",
  "-drive",
  "-netdev",
  "-object",
  "-blockdev",
  "-global",
  "-bios",
  // fw_cfg files are machine state (the guest kernel lists them at boot): a snapshot without the file bridge entry boots cold.
  "-fw_cfg",
]);

/**
 * Host-side network policy that does not change the guest's machine: where
 * host ports are bound (`hostfwd=`), whether the user network is restricted
 * (`restrict=`) and where guest forwards go (`guestfwd=`, `cmd:` ones: QEMU
 * saves no state for them). A moved port or another `--guest-network` must not
 * throw away a saved state; a VM saved under one loads under the other.
 */
const HOST_SIDE_NETDEV_KEYS = ["hostfwd=", "restrict=", "guestfwd="];

/** Splits a QEMU option string at its single commas (a doubled comma is an escaped one and stays in its part). */
export function splitQemuOptions(value: string): string[] {
  const parts: string[] = [];
  let part = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "," && value[i + 1] === ",") {
      part += ",,";
      i++;
    } else if (c === ",") {
      parts.push(part);
      part = "";
    } else {
      part += c;
    }
  }
  parts.push(part);
  return parts;
}

function normaliseDeviceValue(option: string, value: string): string {
  if (option !== "-netdev") return value;
  return splitQemuOptions(value)
    .filter((part) => !HOST_SIDE_NETDEV_KEYS.some((key) => part.startsWith(key)))
    .join(",");
}

function optionValue(args: readonly string[], option: string): string | undefined {
  const i = args.lastIndexOf(option);
  return i >= 0 ? args[i + 1] : undefined;
}

export function computeFingerprint(input: FingerprintInput): VmFingerprint {
  const devices: string[] = [];
  for (let i = 0; i < input.args.length; i++) {
    const option = input.args[i];
    const value = input.args[i + 1];
    if (option !== undefined && value !== undefined && DEVICE_OPTIONS.has(option)) {
      devices.push(`${option} ${normaliseDeviceValue(option, value)}`);
      i++;
    }
  }
  return {
    version: FINGERPRINT_VERSION,
    qemuVersion: input.qemuVersion,
    accel: input.accel,
    cpuModel: optionValue(input.args, "-cpu") ?? "default",
    machine: optionValue(input.args, "-machine") ?? "default",
    memoryMb: input.memoryMb,
    cpus: input.cpus,
    devices,
    baseImageSha256: input.baseImageSha256,
  };
}

/** One field that differs between a recorded and the current fingerprint. */
export interface FingerprintDifference {
  readonly field: keyof VmFingerprint;
  readonly recorded: string;
  readonly current: string;
}

const FIELD_LABELS: Readonly<Record<keyof VmFingerprint, string>> = {
  version: "fingerprint version",
  qemuVersion: "QEMU version",
  accel: "accelerator",
  cpuModel: "CPU model",
  machine: "machine type",
  memoryMb: "memory (MB)",
  cpus: "CPUs",
  devices: "devices",
  baseImageSha256: "base image",
};

const show = (field: keyof VmFingerprint, value: unknown): string => {
  if (field === "baseImageSha256" && typeof value === "string") return value.slice(0, 12);
  if (field === "version" && value === undefined) return "1";
  if (Array.isArray(value)) return `${value.length} devices`;
  return String(value);
};

/** The fields that differ (empty when the fingerprints match). A missing recorded fingerprint differs in everything. */
export function compareFingerprints(recorded: VmFingerprint, current: VmFingerprint): FingerprintDifference[] {
  const differences: FingerprintDifference[] = [];
  for (const field of Object.keys(FIELD_LABELS) as (keyof VmFingerprint)[]) {
    const a = recorded[field];
    const b = current[field];
    const same =
      Array.isArray(a) && Array.isArray(b)
        ? a.length === b.length && a.every((value, i) => value === b[i])
        : JSON.stringify(a) === JSON.stringify(b);
    if (!same) {
      let recordedText = show(field, a);
      let currentText = show(field, b);
      if (field === "devices" && Array.isArray(a) && Array.isArray(b)) {
        const removed = a.filter((d) => !b.includes(d));
        const added = b.filter((d) => !a.includes(d));
        recordedText = removed.length > 0 ? removed.join("; ") : recordedText;
        currentText = added.length > 0 ? added.join("; ") : currentText;
      }
      differences.push({ field, recorded: recordedText, current: currentText });
    }
  }
  return differences;
}

/** "memory (MB) 4096 -> 2048, CPUs 4 -> 2": for reasons shown to the user. */
export function describeDifferences(differences: readonly FingerprintDifference[]): string {
  return differences.map((d) => `${FIELD_LABELS[d.field]} ${d.recorded} -> ${d.current}`).join(", ");
}
