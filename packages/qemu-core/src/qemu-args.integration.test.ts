import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execaRunner } from "./command-runner.js";
import { findFirmware } from "./firmware.js";
import { writeIso } from "./iso9660.js";
import { AMD64_PROBE_DEVICE, AMD64_PROBE_EXIT_CODE, PROBE_MARKER, probeGuest } from "./probe-guests.js";
import { buildQemuArgs } from "./qemu-args.js";
import { findQemuBinary } from "./qemu-binary.js";
import type { Arch, VmSpec } from "./vm-spec.js";

let dir: string;
beforeAll(async () => {
  // Every path below contains commas: QEMU must receive them escaped.
  dir = join(await mkdtemp(join(tmpdir(), "qa-")), "a,b");
  await mkdir(dir);
});
afterAll(async () => {
  await rm(join(dir, ".."), { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address !== null ? address.port : 0;
}

async function fullSpec(arch: Arch): Promise<VmSpec> {
  const guest = probeGuest(arch);
  const guestFile = join(dir, `${arch},${guest.fileName}`);
  await writeFile(guestFile, guest.bytes);
  const disk = join(dir, `${arch},disk.qcow2`);
  execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", disk, "16M"]);
  const seed = join(dir, `${arch},seed.iso`);
  await writeIso(seed, { volumeId: "cidata", files: [{ name: "user-data", content: "#cloud-config\n" }] });
  await writeFile(join(dir, "fw,cfg"), "token");
  return {
    name: `probe,${arch}`,
    arch,
    accel: "tcg",
    cpus: 2,
    memoryMb: 256,
    drives: [
      { id: "disk", file: disk, format: "qcow2", discard: true, cache: "unsafe", serial: "disk,1" },
      { id: "seed", file: seed, format: "raw", readOnly: true },
    ],
    ...(arch === "arm64" ? { kernelBoot: { kernel: guestFile, append: "console=ttyAMA0,115200" } } : {}),
    network: {
      kind: "user",
      mac: "52:54:00:12:34:56",
      forwards: [{ hostPort: await freePort(), guestPort: 8101 }],
    },
    rng: true,
    fwCfg: [
      { name: "opt/hexclave/token", string: "a,b" },
      { name: "opt/hexclave/file", file: join(dir, "fw,cfg") },
    ],
    smbios: [{ type: 1, fields: { serial: "ds=nocloud;s=http://10.0.2.2:8000/" } }],
    qmpSocket: join(dir, `${arch}.qmp`),
    guestAgentSocket: join(dir, `${arch}.qga`),
    serial: { file: join(dir, `${arch},serial.log`) },
    pidFile: join(dir, `${arch},qemu.pid`),
    noReboot: true,
    ...(arch === "amd64" ? { extraArgs: ["-bios", guestFile, "-device", AMD64_PROBE_DEVICE] } : {}),
  };
}

describe("real QEMU accepts buildQemuArgs output", () => {
  it.each(["amd64", "arm64"] as const)(
    "%s: every kind of option, with commas in paths, runs the probe guest to its marker",
    async (arch) => {
      const spec = await fullSpec(arch);
      const binary = await findQemuBinary(arch);
      const result = await execaRunner(binary.path, buildQemuArgs(spec, { hostArch: "amd64" }), { timeoutMs: 30_000 });
      expect(result.stderr).toBe("");
      expect(result.exitCode).toBe(arch === "amd64" ? AMD64_PROBE_EXIT_CODE : 0);
      const serial = spec.serial as { file: string };
      expect(await readFile(serial.file, "utf8")).toContain(PROBE_MARKER);
    },
  );

  it("amd64 UEFI firmware with qcow2 vars, paused (-S), quit from the monitor", async () => {
    const firmware = await findFirmware("amd64");
    const vars = join(dir, "efi,vars.qcow2");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", firmware.varsTemplate!, vars]);
    const spec: VmSpec = {
      name: "uefi",
      arch: "amd64",
      accel: "tcg",
      cpus: 1,
      memoryMb: 256,
      drives: [],
      firmware: { code: firmware.code, vars },
      extraArgs: ["-S", "-monitor", "stdio"],
    };
    const binary = await findQemuBinary("amd64");
    const result = await execaRunner(binary.path, buildQemuArgs(spec), { input: "quit\n", timeoutMs: 30_000 });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });
});
