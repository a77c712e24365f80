/**
 * Pure verdicts: each function turns facts gathered by `doctor-probes.ts`
 * into one {@link DoctorCheck} with a summary and a fix.
 */
import { describeGuestNetwork, type GuestNetworkSettings } from "@hexclave/emulator";
import type { Accelerator, Arch } from "@hexclave/qemu-core";
import { PORT_ENV, type ServiceName, type SettingSource } from "../emulator-settings.js";
import { formatBytes } from "../render/format.js";
import type { DoctorCheck, Verdict } from "./doctor-report.js";

/** A probe's outcome: a value, or the error it threw (message and hint kept). */
export type Probed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string; readonly hint: string; readonly code: string | null };

const check = (
  c: Omit<DoctorCheck, "fix" | "details"> & { fix?: string | null; details?: Record<string, unknown> },
): DoctorCheck => ({
  ...c,
  fix: c.verdict === "ok" ? null : (c.fix ?? "See the summary."),
  details: c.details ?? {},
});

export function qemuBinaryCheck(
  arch: Arch,
  probed: Probed<{ path: string; version: string; packageVersion?: string | undefined }>,
): DoctorCheck {
  if (!probed.ok) {
    return check({
      id: "qemu-binary",
      category: "qemu",
      title: `QEMU for ${arch}`,
      verdict: "fail",
      summary: probed.message,
      fix: probed.hint,
      details: { code: probed.code },
    });
  }
  const pkg = probed.value.packageVersion === undefined ? "" : ` (${probed.value.packageVersion})`;
  return check({
    id: "qemu-binary",
    category: "qemu",
    title: `QEMU for ${arch}`,
    verdict: "ok",
    summary: `${probed.value.path} version ${probed.value.version}${pkg}`,
    details: { path: probed.value.path, version: probed.value.version },
  });
}

export function qemuImgCheck(probed: Probed<{ path: string; version: string }>): DoctorCheck {
  if (!probed.ok) {
    return check({
      id: "qemu-img",
      category: "qemu",
      title: "qemu-img",
      verdict: "fail",
      summary: probed.message,
      fix: probed.hint,
    });
  }
  return check({
    id: "qemu-img",
    category: "qemu",
    title: "qemu-img",
    verdict: "ok",
    summary: `${probed.value.path} version ${probed.value.version}`,
    details: { ...probed.value },
  });
}

export function firmwareCheck(
  arch: Arch,
  probed: Probed<{ code: string; varsTemplate?: string; source: string }>,
): DoctorCheck {
  if (!probed.ok) {
    return check({
      id: "firmware",
      category: "firmware",
      title: `UEFI firmware for ${arch}`,
      verdict: "fail",
      summary: probed.message,
      fix: probed.hint,
    });
  }
  return check({
    id: "firmware",
    category: "firmware",
    title: `UEFI firmware for ${arch}`,
    verdict: "ok",
    summary: `${probed.value.code} (${probed.value.source})`,
    details: { ...probed.value },
  });
}

export interface AcceleratorFacts {
  readonly accel: Accelerator;
  readonly reason: string;
  readonly tried: readonly {
    readonly accel: string;
    readonly ok: boolean;
    readonly reason: string;
    readonly durationMs: number;
  }[];
  /** The answer came from qemu-core's probe cache. */
  readonly fromCache: boolean;
  /** `runtime`: a real guest failed under the hardware accelerator and tcg was recorded (qemu-core recordAcceleratorFailure). */
  readonly verdict?: "probe" | "runtime" | undefined;
}

/** How the user overrides the probe's answer (doctor says it with every accelerator verdict). */
export const ACCEL_OVERRIDE_TEXT =
  "choose with --accel auto|kvm|hvf|whpx|tcg (start, build-image, bench) or EMULATOR_ACCEL; HEXCLAVE_NO_ACCEL_CACHE=1 probes again";

export function acceleratorCheck(probed: Probed<AcceleratorFacts>, kvmFix: string | null): DoctorCheck {
  if (!probed.ok) {
    return check({
      id: "accelerator",
      category: "accelerator",
      title: "Accelerator",
      verdict: "fail",
      summary: probed.message,
      fix: probed.hint,
    });
  }
  const { accel, reason, tried } = probed.value;
  const tcg = accel === "tcg";
  const runtime = probed.value.verdict === "runtime";
  return check({
    id: "accelerator",
    category: "accelerator",
    title: "Accelerator",
    verdict: tcg ? "warn" : "ok",
    summary: `${tcg ? "TCG in use (software emulation, several times slower)" : `${accel.toUpperCase()} in use`}: ${reason}${probed.value.fromCache ? ` (cached${runtime ? " verdict of a failed real guest" : " answer"}; ${ACCEL_OVERRIDE_TEXT})` : ` (${ACCEL_OVERRIDE_TEXT})`}`,
    fix: runtime
      ? `The hardware accelerator passed the probe but could not run a real guest, so tcg is used: ${ACCEL_OVERRIDE_TEXT}.`
      : tcg
        ? (kvmFix ?? "Hardware acceleration is not available here; the emulator works under TCG, with longer boots.")
        : null,
    details: { accel, reason, tried, fromCache: probed.value.fromCache, verdict: probed.value.verdict ?? "probe" },
  });
}

/** What can be learned about KVM on a Linux host without running a guest. */
export interface KvmFacts {
  readonly deviceExists: boolean;
  /** Read and write access to /dev/kvm for this user. */
  readonly accessible: boolean;
  /** Group owning /dev/kvm (usually `kvm`), and whether this user is in it. */
  readonly group: string | null;
  readonly inGroup: boolean;
  /** The CPU advertises vmx or svm to us. */
  readonly cpuVirtualization: boolean;
  /** We run inside a VM (the `hypervisor` CPU flag). */
  readonly insideVm: boolean;
  /** The kvm_intel/kvm_amd `nested` parameter when readable. */
  readonly nested: boolean | null;
  readonly user: string;
}

/** The KVM device check and the fix to show for TCG; undefined off Linux. */
export function kvmCheck(
  facts: KvmFacts,
  probeAnswer: AcceleratorFacts | null,
): { check: DoctorCheck; fix: string | null } {
  const details: Record<string, unknown> = { ...facts };
  if (!facts.deviceExists) {
    const fix = facts.insideVm
      ? "This machine is a VM without nested virtualisation: enable it on the host (for example `nested=1` for kvm_intel/kvm_amd, or the cloud provider's nested-virtualisation option), then `sudo modprobe kvm_intel` (or kvm_amd)."
      : facts.cpuVirtualization
        ? "Load the KVM module: `sudo modprobe kvm_intel` (Intel) or `sudo modprobe kvm_amd` (AMD)."
        : "Enable virtualisation (VT-x/AMD-V) in the firmware settings, then load the KVM module (`sudo modprobe kvm_intel` or `kvm_amd`).";
    return {
      check: check({
        id: "kvm-device",
        category: "kvm",
        title: "KVM",
        verdict: "warn",
        summary: `KVM unusable: /dev/kvm does not exist${facts.insideVm ? " (this machine is itself a VM)" : ""}${facts.cpuVirtualization ? "" : "; the CPU does not advertise vmx/svm"}`,
        fix,
        details,
      }),
      fix,
    };
  }
  if (!facts.accessible) {
    const group = facts.group ?? "kvm";
    const fix = facts.inGroup
      ? `Your user is in group ${group} but cannot open /dev/kvm: log out and in again, or check the device permissions (\`ls -l /dev/kvm\`).`
      : `Add your user to the ${group} group: \`sudo usermod -aG ${group} ${facts.user}\`, then log out and in again.`;
    return {
      check: check({
        id: "kvm-device",
        category: "kvm",
        title: "KVM",
        verdict: "warn",
        summary: `KVM unusable: no read/write access to /dev/kvm for ${facts.user} (owned by group ${group}; ${facts.inGroup ? "you are in it" : "you are not in it"})`,
        fix,
        details,
      }),
      fix,
    };
  }
  if (probeAnswer !== null && probeAnswer.accel === "tcg") {
    const kvmTry = probeAnswer.tried.find((t) => t.accel === "kvm");
    const why = kvmTry?.reason ?? probeAnswer.reason;
    const fix = facts.insideVm
      ? `/dev/kvm exists but a guest could not run under it (${why}); nested virtualisation on this VM's host is likely broken or disabled: enable it there, or use TCG.`
      : `/dev/kvm exists but a guest could not run under it (${why}); check \`dmesg\` for KVM errors and update the kernel or firmware.`;
    return {
      check: check({
        id: "kvm-device",
        category: "kvm",
        title: "KVM",
        verdict: "warn",
        summary: `KVM unusable: /dev/kvm is accessible but ${probeAnswer.verdict === "runtime" ? "a real guest failed under it" : "the probe guest failed"}: ${why}`,
        fix,
        details,
      }),
      fix,
    };
  }
  return {
    check: check({
      id: "kvm-device",
      category: "kvm",
      title: "KVM",
      verdict: "ok",
      summary: `/dev/kvm accessible${facts.nested === true ? " (nested virtualisation on)" : ""}`,
      details,
    }),
    fix: null,
  };
}

export interface PortFact {
  readonly service: ServiceName;
  readonly port: number;
  readonly free: boolean;
  readonly holder: { readonly pid: number; readonly command: string } | null;
  /** The bind error when taken (EADDRINUSE, EACCES). */
  readonly reason: string | null;
  /** Held by this emulator's own QEMU (a running emulator): fine. */
  readonly heldByEmulator: boolean;
}

export function portCheck(fact: PortFact): DoctorCheck {
  const base = { id: `port:${fact.service}`, category: "ports" as const, title: `Port ${fact.port} (${fact.service})` };
  const details = {
    port: fact.port,
    service: fact.service,
    pid: fact.holder?.pid ?? null,
    command: fact.holder?.command ?? null,
  };
  if (fact.free) return check({ ...base, verdict: "ok", summary: `127.0.0.1:${fact.port} is free`, details });
  if (fact.heldByEmulator) {
    return check({
      ...base,
      verdict: "ok",
      summary: `127.0.0.1:${fact.port} is held by the running emulator (pid ${fact.holder?.pid})`,
      details,
    });
  }
  const who =
    fact.holder !== null
      ? `pid ${fact.holder.pid} (${fact.holder.command})`
      : `an unknown process (${fact.reason ?? "in use"})`;
  return check({
    ...base,
    verdict: "fail",
    summary: `127.0.0.1:${fact.port} is held by ${who}`,
    fix: `${fact.holder !== null ? `Stop pid ${fact.holder.pid}` : "Stop the process holding it"}, or move the ${fact.service} port: ${PORT_ENV[fact.service]}=<free port> stack emulator start`,
    details,
  });
}

/** Space needed: an image (~1 GB compressed) plus overlays and snapshots that grow with use. */
export const DISK_FAIL_BYTES = 2_000_000_000;
export const DISK_WARN_BYTES = 10_000_000_000;

/** The guest network setting starts will use (not a probe: what `--guest-network`/`EMULATOR_GUEST_NETWORK` resolve to). */
export function guestNetworkCheck(settings: GuestNetworkSettings, source: SettingSource): DoctorCheck {
  return check({
    id: "guest-network",
    category: "network",
    title: "What the guest may reach",
    verdict: "ok",
    summary: `${describeGuestNetwork(settings)} (${source === "default" ? "the default" : `from ${source === "env" ? "EMULATOR_GUEST_NETWORK/EMULATOR_GUEST_REACH" : "the flags"}`}; choose with --guest-network isolated|open and --guest-reach PORT)`,
    fix: null,
    details: { mode: settings.mode, reach: settings.reach, source },
  });
}

export function diskCheck(probed: Probed<{ path: string; freeBytes: number }>): DoctorCheck {
  const base = { id: "disk", category: "disk" as const, title: "Free disk for images and overlays" };
  if (!probed.ok) return check({ ...base, verdict: "warn", summary: probed.message, fix: probed.hint });
  const { path, freeBytes } = probed.value;
  const verdict: Verdict = freeBytes < DISK_FAIL_BYTES ? "fail" : freeBytes < DISK_WARN_BYTES ? "warn" : "ok";
  return check({
    ...base,
    verdict,
    summary: `${formatBytes(freeBytes)} free at ${path}`,
    fix: `Free space there (at least ${formatBytes(verdict === "fail" ? DISK_FAIL_BYTES : DISK_WARN_BYTES)} recommended), or move the emulator home with HEXCLAVE_EMULATOR_HOME.`,
    details: { path, freeBytes },
  });
}

export function dockerCheck(probed: Probed<{ endpoint: string; version: string | null }>): DoctorCheck {
  const base = { id: "docker", category: "docker" as const, title: "Docker engine (only to build images)" };
  if (!probed.ok) {
    return check({
      ...base,
      verdict: "warn",
      summary: `Not reachable: ${probed.message}`,
      fix: "Only `stack build-image` needs it: start dockerd (`sudo systemctl start docker`) or Docker Desktop; `stack emulator pull` works without it.",
    });
  }
  return check({
    ...base,
    verdict: "ok",
    summary: `reachable at ${probed.value.endpoint}${probed.value.version === null ? "" : ` (engine ${probed.value.version})`}`,
    details: { ...probed.value },
  });
}

export interface ImageFacts {
  readonly arch: Arch;
  readonly imagePath: string;
  readonly manifestPath: string;
  readonly imagePresent: boolean;
  readonly manifestPresent: boolean;
  readonly sizeBytes: number | null;
  /** From the manifest; null when absent or unreadable. */
  readonly expectedSha256: string | null;
  readonly actualSha256: string | null;
  readonly manifestError: string | null;
  readonly version: string | null;
  readonly source: string | null;
}

export function imageCheck(facts: ImageFacts): DoctorCheck {
  const base = { id: "image", category: "image" as const, title: `Emulator image (${facts.arch})` };
  const details = { ...facts };
  const getOne = `\`stack emulator pull --arch ${facts.arch}\`, or build one: \`stack build-image ${facts.arch} --profile selftest --base bootstrap\``;
  if (!facts.imagePresent) {
    return check({
      ...base,
      verdict: "warn",
      summary: `not installed (${facts.imagePath})`,
      fix: `Get one: ${getOne}.`,
      details,
    });
  }
  if (!facts.manifestPresent || facts.manifestError !== null || facts.expectedSha256 === null) {
    return check({
      ...base,
      verdict: "fail",
      summary: facts.manifestPresent
        ? `manifest unreadable: ${facts.manifestError ?? "no sha256"}`
        : `manifest missing: ${facts.manifestPath}`,
      fix: `The image cannot be verified. Delete ${facts.imagePath} and get it again: ${getOne}.`,
      details,
    });
  }
  if (facts.actualSha256 !== facts.expectedSha256) {
    return check({
      ...base,
      verdict: "fail",
      summary: `corrupt: sha256 of ${facts.imagePath} is ${facts.actualSha256}, the manifest expects ${facts.expectedSha256}`,
      fix: `Delete ${facts.imagePath} and its manifest, then get it again: ${getOne}.`,
      details,
    });
  }
  const size = facts.sizeBytes === null ? "" : `, ${formatBytes(facts.sizeBytes)}`;
  return check({
    ...base,
    verdict: "ok",
    summary: `${facts.imagePath}${facts.version === null ? "" : ` version ${facts.version}`}${size}, sha256 verified${facts.source === null ? "" : `, from ${facts.source}`}`,
    details,
  });
}
