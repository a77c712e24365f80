/**
 * qemu-core's `VmInstance` events as the emulator's: every one is forwarded as a `vm` event carrying it, with a
 * line of text and a level. `warn` for what a user should see (files of an earlier QEMU cleaned up, a stop that
 * had to escalate), `debug` for the steps the runtime already reports in its own stages (spawn, QMP, snapshots).
 * Pure.
 */
import type { VmInstanceEvent } from "@hexclave/qemu-core";
import type { Emit } from "../context.js";
import type { EmulatorEvent } from "../events.js";

export type VmEventLevel = "info" | "warn" | "debug";

function describe(event: VmInstanceEvent): { level: VmEventLevel; text: string } {
  switch (event.type) {
    case "stale-cleaned":
      return {
        level: "warn",
        text: `Cleaned up after an earlier QEMU (${event.reason}): ${event.files.join(", ")}`,
      };
    case "stop-escalated":
      return { level: "warn", text: `QEMU did not stop in time; ${event.step} (${event.reason})` };
    case "lock-acquired":
      return { level: "debug", text: `lock acquired for ${event.purpose}` };
    case "ports-checked":
      return { level: "debug", text: `host ports free: ${event.ports.join(", ")}` };
    case "overlay-created":
      return { level: "debug", text: `overlay ${event.file} on ${event.backingFile}` };
    case "memory-file-prepared":
      return { level: "debug", text: `guest memory file ${event.file}: ${event.plan}` };
    case "qemu-spawned":
      return { level: "debug", text: `QEMU spawned (pid ${event.pid}): ${event.binary}` };
    case "qmp-ready":
      return { level: "debug", text: `QMP answers (${event.status}) after ${event.elapsedMs} ms` };
    case "powerdown-requested":
      return { level: "debug", text: `power-down requested (grace ${event.graceMs} ms)` };
    case "powerdown-extended":
      return {
        level: "info",
        text: `The guest is still shutting down its services; waiting for it (up to ${Math.round(event.graceMs / 1000)} s in all)`,
      };
    case "stopped":
      return { level: "debug", text: `QEMU stopped (${event.how}) after ${event.elapsedMs} ms` };
    case "snapshot-saved":
      return { level: "debug", text: `state ${event.name} saved in ${event.elapsedMs} ms` };
    case "snapshot-deleted":
      return { level: "debug", text: `snapshot ${event.name} deleted` };
  }
}

/** The emulator event for one `VmInstance` event. */
export function fromVmEvent(event: VmInstanceEvent): EmulatorEvent {
  return { type: "vm", ...describe(event), event };
}

/** The `onEvent` option for `VmInstance.start/stop/saveStateFile`, forwarding to `emit`. */
export function vmEvents(emit: Emit): { onEvent: (event: VmInstanceEvent) => void } {
  return { onEvent: (event) => emit(fromVmEvent(event)) };
}
