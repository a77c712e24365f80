/**
 * Which emulator instances (`<home>/run/<instance>/`) are running on an arch's
 * base image right now, per qemu-core's `VmInstance.status()` (pid identity,
 * QMP): a pull never replaces an image under a running VM.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type Arch, RUN_DIR, VmInstance, type VmState } from "@hexclave/qemu-core";

export interface InstanceInUse {
  readonly instance: string;
  readonly state: VmState;
  readonly pid: number | undefined;
}

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Instances running (or starting, or paused) on `arch`'s image; an instance whose arch is unknown counts. */
export async function instancesUsingImage(home: string, arch: Arch): Promise<InstanceInUse[]> {
  const names = await readdir(join(home, RUN_DIR), { withFileTypes: true }).then(
    (entries) => entries.filter((e) => e.isDirectory() && INSTANCE_NAME.test(e.name)).map((e) => e.name),
    () => [] as string[],
  );
  const inUse: InstanceInUse[] = [];
  for (const name of names) {
    const vm = new VmInstance({ home, name });
    try {
      const status = await vm.status();
      if (status.state === "stopped" || status.state === "crashed") continue;
      const runningArch = status.record?.spec.arch;
      if (runningArch !== undefined && runningArch !== arch) continue;
      inUse.push({ instance: name, state: status.state, pid: status.pid });
    } finally {
      vm.close();
    }
  }
  return inUse;
}
