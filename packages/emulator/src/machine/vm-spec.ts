/**
 * The emulator's VM, as a qemu-core `VmSpec` built from the image manifest and
 * the run settings. Pure: same inputs, same spec (and so the same QEMU
 * arguments, which a resume depends on).
 */

import { type ImagePaths, runtimeEnvFwCfgEntry } from "@hexclave/image-builder/image";
import type { Accelerator, Arch, InstancePaths, InstanceVmSpec, PortForward, VmSpec } from "@hexclave/qemu-core";
import { REBOOT_ON_PANIC_OPTIONS, withKernelOptions } from "@hexclave/qemu-core";
import { bridgeFwCfgEntry } from "../file-bridge/fw-cfg.js";
import { DEFAULT_GUEST_NETWORK, type GuestNetworkSettings, guestNetworkSpec } from "./guest-network.js";

/** One endpoint forwarded to the host (docker/services.json `exposed`, recorded in the manifest). */
export interface ExposedEndpoint {
  readonly service: string;
  readonly guestPort: number;
  readonly hostPort: number;
  readonly hostPortEnv?: string;
  readonly health: { readonly kind: "http"; readonly path: string; readonly expectStatus: readonly number[] };
}

/** How the image boots (manifest `boot`). */
export type EmulatorBoot = { readonly kind: "kernel"; readonly append: string } | { readonly kind: "firmware" };

/** The part of the image manifest the runtime needs. */
export interface RuntimeManifest {
  readonly arch: Arch;
  readonly image: { readonly sha256: string };
  readonly boot: EmulatorBoot;
  readonly services: readonly ExposedEndpoint[];
}

/** The guest NIC's MAC: fixed, so a resumed guest sees the same NIC. */
export const EMULATOR_MAC = "52:54:00:48:58:01";

/** Drive id of the overlay (the node that holds snapshots). */
export const OVERLAY_DRIVE_ID = "disk";
/** Name of the guest NIC for QMP `set_link`. */
export const NIC_ID = "net0";

export interface EmulatorSpecInput {
  readonly manifest: RuntimeManifest;
  readonly image: ImagePaths;
  readonly instance: InstancePaths;
  readonly instanceName: string;
  readonly accel: Accelerator;
  readonly cpus: number;
  readonly memoryMb: number;
  /** Host port per service name; a service missing here uses the manifest's default. */
  readonly ports: Readonly<Record<string, number>>;
  /** UEFI code for firmware-booting images (`findFirmware`). */
  readonly firmwareCode?: string;
  /** What the guest may reach (`--guest-network`, `--guest-reach`); default isolated, no host port. */
  readonly guestNetwork?: GuestNetworkSettings;
  /** The guest's RAM, a file mapped shared (machine/guest-memory.ts). */
  readonly memoryFile: string;
}

/** Host port per service: the given ones over the manifest's defaults. */
export function resolveHostPorts(
  services: readonly ExposedEndpoint[],
  ports: Readonly<Record<string, number>>,
): Record<string, number> {
  return Object.fromEntries(services.map((s) => [s.service, ports[s.service] ?? s.hostPort]));
}

/**
 * The emulator VM as `VmInstance.start` takes it (the instance adds its QMP,
 * guest agent and serial files, pidfile, daemonize and loadvm).
 */
export function buildEmulatorVmSpec(input: EmulatorSpecInput): InstanceVmSpec {
  const { manifest, instance } = input;
  const hostPorts = resolveHostPorts(manifest.services, input.ports);
  const forwards: PortForward[] = manifest.services.map((s) => ({
    hostAddress: "127.0.0.1",
    hostPort: hostPorts[s.service] ?? s.hostPort,
    guestPort: s.guestPort,
  }));
  const boot: Pick<VmSpec, "kernelBoot" | "firmware"> =
    manifest.boot.kind === "kernel"
      ? {
          kernelBoot: {
            kernel: input.image.kernel,
            initrd: input.image.initrd,
            // A guest kernel that panics (rare under TCG, early in boot) reboots instead of hanging the start.
            // (No `init_on_free=1` any more: with the RAM in a memory file it made the guest write all of it, and
            // so the file, at boot; freed pages leave the file through the balloon's free page reporting instead.)
            append: withKernelOptions(manifest.boot.append, REBOOT_ON_PANIC_OPTIONS),
          },
        }
      : {
          firmware: {
            code: input.firmwareCode ?? "",
            vars: instance.uefiVars,
            varsFormat: "qcow2",
          },
        };
  return {
    name: `hexclave-emulator-${input.instanceName}`,
    arch: manifest.arch,
    accel: input.accel,
    cpus: input.cpus,
    memoryMb: input.memoryMb,
    memoryFile: input.memoryFile,
    drives: [{ id: OVERLAY_DRIVE_ID, file: instance.overlay, format: "qcow2", discard: true }],
    ...boot,
    network: {
      kind: "user",
      forwards,
      mac: EMULATOR_MAC,
      ...guestNetworkSpec(input.guestNetwork ?? DEFAULT_GUEST_NETWORK, instance.dir),
    },
    rng: true,
    // Blocks the guest frees become holes in the memory file (QEMU punches them out): the host gets that RAM back,
    // and the copies a suspend and `fresh` make (sparse) skip them; the page cache dropped before `fresh` so
    // leaves `fresh.ram` small.
    balloon: { freePageReporting: true },
    // The file bridge's port and token (issue 10) and the runtime environment (issue 13): always present,
    // read by QEMU from their files at each start.
    fwCfg: [bridgeFwCfgEntry(instance.dir), runtimeEnvFwCfgEntry(instance.dir)],
  };
}

/**
 * A recorded spec with today's host-side network: host ports, `restrict` and
 * guest forwards do not change the guest's machine (fingerprint.ts), so a
 * resume runs under this start's `--guest-network`.
 */
export function withHostPorts(spec: InstanceVmSpec, current: InstanceVmSpec): InstanceVmSpec {
  if (spec.network === undefined || current.network === undefined) return spec;
  const { restrict: _restrict, guestForwards: _guestForwards, ...recorded } = spec.network;
  return {
    ...spec,
    network: {
      ...recorded,
      forwards: current.network.forwards,
      ...(current.network.restrict === undefined ? {} : { restrict: current.network.restrict }),
      ...(current.network.guestForwards === undefined ? {} : { guestForwards: current.network.guestForwards }),
    },
  };
}
