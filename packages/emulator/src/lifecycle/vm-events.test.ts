import type { VmInstanceEvent } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import type { EmulatorEvent } from "../events.js";
import { fromVmEvent, vmEvents } from "./vm-events.js";

const cases: { event: VmInstanceEvent; level: "info" | "warn" | "debug"; text: string }[] = [
  {
    event: { type: "stale-cleaned", files: ["qmp.sock", "qemu.pid"], reason: "QEMU pid 42 is gone" },
    level: "warn",
    text: "Cleaned up after an earlier QEMU (QEMU pid 42 is gone): qmp.sock, qemu.pid",
  },
  {
    event: { type: "stop-escalated", step: "sigkill", reason: "no exit 5 s after SIGTERM" },
    level: "warn",
    text: "QEMU did not stop in time; sigkill (no exit 5 s after SIGTERM)",
  },
  { event: { type: "lock-acquired", purpose: "start" }, level: "debug", text: "lock acquired for start" },
  { event: { type: "ports-checked", ports: [26700, 26701] }, level: "debug", text: "host ports free: 26700, 26701" },
  {
    event: { type: "overlay-created", file: "/i/overlay.qcow2", backingFile: "/b.qcow2" },
    level: "debug",
    text: "overlay /i/overlay.qcow2 on /b.qcow2",
  },
  {
    event: { type: "memory-file-prepared", file: "/i/guest.ram", plan: "keep" },
    level: "debug",
    text: "guest memory file /i/guest.ram: keep",
  },
  {
    event: { type: "qemu-spawned", pid: 7, binary: "qemu-system-x86_64", args: ["-S"] },
    level: "debug",
    text: "QEMU spawned (pid 7): qemu-system-x86_64",
  },
  {
    event: { type: "qmp-ready", status: "running", elapsedMs: 120 },
    level: "debug",
    text: "QMP answers (running) after 120 ms",
  },
  {
    event: { type: "powerdown-requested", graceMs: 30000 },
    level: "debug",
    text: "power-down requested (grace 30000 ms)",
  },
  { event: { type: "stopped", how: "quit", elapsedMs: 80 }, level: "debug", text: "QEMU stopped (quit) after 80 ms" },
  {
    event: { type: "snapshot-saved", name: "suspend.vmstate", elapsedMs: 900 },
    level: "debug",
    text: "state suspend.vmstate saved in 900 ms",
  },
  { event: { type: "snapshot-deleted", name: "fresh" }, level: "debug", text: "snapshot fresh deleted" },
];

describe("fromVmEvent", () => {
  for (const { event, level, text } of cases) {
    it(`${event.type} -> vm ${level}`, () => {
      expect(fromVmEvent(event)).toEqual({ type: "vm", level, text, event });
    });
  }
});

describe("vmEvents", () => {
  it("forwards each VmInstance event to the emulator's listener", () => {
    const seen: EmulatorEvent[] = [];
    const { onEvent } = vmEvents((e) => seen.push(e));
    const first = cases[0];
    if (first === undefined) throw new Error("no cases");
    onEvent(first.event);
    expect(seen).toEqual([fromVmEvent(first.event)]);
  });
});
