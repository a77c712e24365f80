/** How the file bridge is wired into the emulator's machine, and the bridge record: pure parts. */
import { buildQemuArgs, instancePaths, instanceVmSpec } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import { imagePaths } from "../layout.js";
import { compareFingerprints, computeFingerprint, describeDifferences } from "../machine/fingerprint.js";
import { buildEmulatorVmSpec, type RuntimeManifest } from "../machine/vm-spec.js";
import { bridgeDaemonCommand } from "./bridge-process.js";
import { parseBridgeRecord } from "./bridge-record.js";

const manifest: RuntimeManifest = {
  arch: "amd64",
  image: { sha256: "ab".repeat(32) },
  boot: { kind: "kernel", append: "console=ttyS0" },
  services: [
    { service: "backend", guestPort: 8102, hostPort: 26701, health: { kind: "http", path: "/", expectStatus: [200] } },
  ],
};
const instance = instancePaths("/h", "vm");
const spec = buildEmulatorVmSpec({
  manifest,
  image: imagePaths("/h", "amd64"),
  instance,
  memoryFile: "/dev/shm/hexclave-emulator-0123456789abcdef.ram",
  instanceName: "vm",
  accel: "tcg",
  cpus: 2,
  memoryMb: 2048,
  ports: {},
});
const fingerprint = (s: typeof spec) =>
  computeFingerprint({
    args: buildQemuArgs(instanceVmSpec(instance, s, { instanceName: "vm", overlay: true })),
    accel: "tcg",
    memoryMb: 2048,
    cpus: 2,
    qemuVersion: "7.2.0",
    baseImageSha256: "ab".repeat(32),
  });

describe("the file bridge in the emulator's machine", () => {
  it("the spec always carries the fw_cfg entry, a file in the run directory (no token in the arguments)", () => {
    // Other entries (the runtime environment, opt/hexclave/env) may sit beside it.
    expect(spec.fwCfg).toContainEqual({ name: "opt/hexclave/bridge", file: "/h/run/vm/bridge.fwcfg" });
    const args = buildQemuArgs(instanceVmSpec(instance, spec, { instanceName: "vm", overlay: true }));
    const at = args.indexOf("-fw_cfg");
    expect(args[at + 1]).toBe("name=opt/hexclave/bridge,file=/h/run/vm/bridge.fwcfg");
  });

  it("is part of the fingerprint: a snapshot of a machine without it boots cold, saying why", () => {
    const { fwCfg: _, ...without } = spec;
    const differences = compareFingerprints(fingerprint(without), fingerprint(spec));
    expect(differences.map((d) => d.field)).toEqual(["devices"]);
    expect(describeDifferences(differences)).toContain("-fw_cfg name=opt/hexclave/bridge");
    expect(compareFingerprints(fingerprint(spec), fingerprint(spec))).toEqual([]);
  });
});

describe("bridgeDaemonCommand", () => {
  it("runs the bundled daemon beside dist/index.js", () => {
    expect(bridgeDaemonCommand("file:///p/dist/index.js")).toEqual({
      command: process.execPath,
      args: ["/p/dist/file-bridge-daemon.js"],
    });
  });
  it("runs the TypeScript source with a resolve hook from the sources", () => {
    const c = bridgeDaemonCommand("file:///w/packages/emulator/src/file-bridge/bridge-process.ts");
    expect(c.args.at(-1)).toBe("/w/packages/emulator/src/file-bridge/bridge-daemon.ts");
    expect(c.args).toContain("--experimental-transform-types");
    expect(decodeURIComponent(c.args.find((a) => a.startsWith("data:")) ?? "")).toContain("file:///w/packages");
  });
});

describe("parseBridgeRecord", () => {
  const good = {
    formatVersion: 1,
    pid: 42,
    identity: { pid: 42, startTime: "9", cmdline: ["node"] },
    port: 40000,
    projectDir: "/p",
    startedAt: "2025-01-01T00:00:00.000Z",
    configFile: { hostPath: "/p/stack.config.ts", startDigest: "a".repeat(64), mode: 0o644 },
  };
  it("accepts a record and rejects what is not one", () => {
    expect(parseBridgeRecord(JSON.stringify(good))).toEqual(good);
    expect(parseBridgeRecord(JSON.stringify({ ...good, configFile: null }))?.configFile).toBeNull();
    expect(parseBridgeRecord("not json")).toBeUndefined();
    expect(parseBridgeRecord(JSON.stringify({ ...good, formatVersion: 2 }))).toBeUndefined();
    expect(parseBridgeRecord(JSON.stringify({ ...good, pid: "42" }))).toBeUndefined();
    expect(
      parseBridgeRecord(JSON.stringify({ ...good, configFile: { ...good.configFile, startDigest: "x" } })),
    ).toBeUndefined();
  });
});
