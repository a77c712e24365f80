import { describe, expect, it } from "vitest";
import { instancePaths } from "../instance-layout.js";
import type { DriveSpec } from "../vm-spec.js";
import { type InstanceVmSpec, type InstanceVmSpecOptions, instanceVmSpec } from "./instance-vm-spec.js";

const paths = instancePaths("/h", "vm");
const spec: InstanceVmSpec = { arch: "amd64", accel: "tcg", cpus: 2, memoryMb: 2048, drives: [] };
const overlay: DriveSpec = { id: "disk", file: "/h/run/vm/disk.qcow2", format: "qcow2", discard: true };
const data: DriveSpec = { id: "data", file: "/h/data.qcow2", format: "qcow2" };

describe("instanceVmSpec", () => {
  const cases: Array<{
    name: string;
    spec: InstanceVmSpec;
    options: InstanceVmSpecOptions;
    expected: Record<string, unknown>;
    absent?: string[];
  }> = [
    {
      name: "fills the instance's files and names the VM after the instance",
      spec,
      options: { instanceName: "vm" },
      expected: {
        name: "vm",
        drives: [],
        qmpSocket: "/h/run/vm/qmp.sock",
        guestAgentSocket: "/h/run/vm/qga.sock",
        serial: { file: "/h/run/vm/serial.log" },
        pidFile: "/h/run/vm/qemu.pid",
      },
      absent: ["loadvm", "incoming", "daemonize"],
    },
    {
      name: "keeps a name the spec gives",
      spec: { ...spec, name: "mine" },
      options: { instanceName: "vm" },
      expected: { name: "mine" },
    },
    {
      name: "attaches the overlay first",
      spec: { ...spec, drives: [data] },
      options: { instanceName: "vm", overlay: true },
      expected: { drives: [overlay, data] },
    },
    {
      name: "does not attach the overlay twice",
      spec: { ...spec, drives: [data, { ...overlay, discard: false }] },
      options: { instanceName: "vm", overlay: true },
      expected: { drives: [data, { ...overlay, discard: false }] },
    },
    {
      name: "resumes an internal snapshot",
      spec,
      options: { instanceName: "vm", loadvm: "fresh" },
      expected: { loadvm: "fresh" },
      absent: ["incoming"],
    },
    {
      name: "resumes a state file through a quoted exec: stream",
      spec,
      options: { instanceName: "vm", incomingStateFile: "/h/it's/s.vmstate" },
      expected: { incoming: "exec:cat '/h/it'\\''s/s.vmstate'" },
      absent: ["loadvm"],
    },
    {
      name: "resumes the state file of a VM with a memory file through -incoming defer (x-ignore-shared first)",
      spec: { ...spec, memoryFile: "/h/guest.ram" },
      options: { instanceName: "vm", incomingStateFile: "/h/s.vmstate" },
      expected: { incoming: "defer", memoryFile: "/h/guest.ram" },
      absent: ["loadvm"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = instanceVmSpec(paths, c.spec, c.options) as unknown as Record<string, unknown>;
      expect(out).toMatchObject(c.expected);
      for (const key of c.absent ?? []) expect(out).not.toHaveProperty(key);
    });
  }
});
