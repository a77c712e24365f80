/** `status`: the VM, the installed image, the last start, the saved states and the services, read-only. */
import { type Arch, readLockHolder } from "@hexclave/qemu-core";
import type { EmulatorContext } from "../context.js";
import { imagePaths } from "../layout.js";
import { guestNetworkOf } from "../machine/guest-network.js";
import { hostPortsFor, resolveRuntimeSettings } from "../settings/runtime-settings.js";
import { type InstalledImage, readInstalledImage } from "../store/installed-image.js";
import { readSnapshotRecord } from "../store/snapshot-record.js";
import type { EmulatorHealth, EmulatorStatus } from "../types.js";
import { readGuestPrograms } from "./guest-programs.js";
import { checkServicesOnce, type ServiceHealthCheck, serviceEndpoints } from "./service-health.js";

export async function status(
  ctx: EmulatorContext,
  options: { arch?: Arch; signal?: AbortSignal } = {},
): Promise<EmulatorStatus> {
  const vmStatus = await ctx.vm.status();
  const record = await readSnapshotRecord(ctx.recordFile);
  const runSpec = vmStatus.record?.spec ?? record.current?.spec;
  const s = resolveRuntimeSettings(ctx.env, { arch: options.arch ?? runSpec?.arch });
  const paths = imagePaths(ctx.home, s.arch);
  let image: InstalledImage | undefined;
  try {
    image = await readInstalledImage(paths, s.arch);
  } catch {
    image = undefined;
  }
  const startHolder = await readLockHolder(ctx.startLockFile);
  const vmState =
    vmStatus.state === "paused"
      ? "running"
      : (vmStatus.state as "stopped" | "starting" | "running" | "broken" | "crashed");
  // A start in progress (another process holding the start lock) shows as `starting`, from its probe to its first snapshot.
  const state = startHolder?.live === true && vmState !== "crashed" && vmState !== "broken" ? "starting" : vmState;
  const live = state === "running" || state === "starting";
  // The guest's program list is read (one guest-agent file read) while the endpoints are probed: neither waits for the other.
  const programsRead = live ? readGuestPrograms(ctx.vm, options.signal ? { signal: options.signal } : {}) : null;
  let services: ServiceHealthCheck[] = [];
  if (image) {
    const forwards = vmStatus.record?.spec.network?.forwards;
    const ports: Record<string, number> = {};
    if (live && forwards) {
      for (const e of image.manifest.services) {
        const f = forwards.find((x) => x.guestPort === e.guestPort);
        if (f) ports[e.service] = f.hostPort;
      }
    }
    const endpoints = serviceEndpoints(image.manifest.services, hostPortsFor(ctx.env, image.manifest, ports));
    services = live
      ? await checkServicesOnce(endpoints, { timeoutMs: 2000, ...(options.signal ? { signal: options.signal } : {}) })
      : endpoints.map((e) => ({
          name: e.name,
          url: e.url,
          up: false,
          detail: "the emulator is not running",
          lastCheck: null,
        }));
  }
  const programs = programsRead === null ? null : await programsRead;
  const health: EmulatorHealth =
    state === "stopped"
      ? "stopped"
      : state === "crashed"
        ? "crashed"
        : state === "broken"
          ? "broken"
          : services.length > 0 && services.every((x) => x.up)
            ? "healthy"
            : "degraded";
  return {
    health,
    vm: {
      state,
      failure: state === "broken" ? (vmStatus.failure?.message ?? "QEMU holds the VM in an error state") : null,
      pid: vmStatus.pid ?? null,
      arch: runSpec?.arch ?? s.arch,
      accelerator: live ? (vmStatus.accel ?? null) : (record.lastStart?.accel ?? null),
      acceleratorReason: record.lastStart?.accelReason ?? null,
      cpus: live && runSpec ? runSpec.cpus : s.cpus,
      memoryMb: live && runSpec ? runSpec.memoryMb : s.memoryMb,
      uptimeSeconds: live && vmStatus.uptimeMs !== undefined ? Math.round(vmStatus.uptimeMs / 1000) : null,
      guestNetwork: live && runSpec?.network !== undefined ? guestNetworkOf(runSpec.network) : null,
    },
    image: {
      path: paths.image,
      present: image !== undefined,
      version: image?.version ?? null,
      sha256: image?.manifest.image.sha256 ?? null,
      source: image?.source ?? null,
    },
    lastStart: record.lastStart ?? null,
    snapshots: (["suspend", "fresh"] as const).filter((n) => record.snapshots[n] !== undefined),
    resetPending: record.resetPending,
    services,
    programs,
    home: ctx.home,
  };
}
