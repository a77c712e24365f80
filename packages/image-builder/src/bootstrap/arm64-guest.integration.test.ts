/**
 * arm64 as far as this amd64 host allows without a 460 s cross-arch
 * bootstrap: the recipe and QEMU arguments for arm64, the UEFI firmware
 * lookup (for cloud bases), and trixie's real arm64 kernel (the one the
 * bootstrap installs, from the linux-image-arm64 .deb) booted under TCG with
 * `qemu-system-aarch64 -M virt` and direct kernel boot, to its banner on the
 * arm64 serial console (ttyAMA0) that the image's command line names.
 *
 * Not covered here: the arm64 mmdebstrap itself (qemu-user-static), the
 * arm64 initrd's modules, and an arm64 warm boot.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildQemuArgs, detectHost, findFirmware, qemuSystemBinaryName } from "@hexclave/qemu-core";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { defaultCacheDir } from "../cache-dir.js";
import {
  BOOTSTRAP_MIRROR,
  BOOTSTRAP_SUITE,
  bootstrapMmdebstrapArgs,
  bootstrapRecipe,
  kernelCommandLine,
} from "./recipe.js";

/** Downloads trixie's linux-image-arm64 (and the kernel it depends on) with a private apt state, once. */
async function arm64Kernel(): Promise<string> {
  const dir = join(defaultCacheDir(), "arm64-kernel");
  const found = async () =>
    (await readdir(join(dir, "x", "boot")).catch(() => [] as string[])).find((n) => n.startsWith("vmlinuz-"));
  const cached = await found();
  if (cached !== undefined) return join(dir, "x", "boot", cached);
  await rm(dir, { recursive: true, force: true });
  for (const sub of ["etc", "state/lists/partial", "cache/archives/partial", "debs"])
    await mkdir(join(dir, sub), { recursive: true });
  await writeFile(
    join(dir, "etc", "sources.list"),
    `deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${BOOTSTRAP_MIRROR} ${BOOTSTRAP_SUITE} main\n`,
  );
  await writeFile(join(dir, "state", "status"), "");
  const apt = [
    "-o",
    `Dir::Etc::SourceList=${join(dir, "etc", "sources.list")}`,
    "-o",
    "Dir::Etc::SourceParts=/nonexistent",
    "-o",
    `Dir::State=${join(dir, "state")}`,
    "-o",
    `Dir::State::status=${join(dir, "state", "status")}`,
    "-o",
    `Dir::Cache=${join(dir, "cache")}`,
    "-o",
    "APT::Architecture=arm64",
    "-o",
    "APT::Architectures=arm64",
    "-o",
    "Acquire::Languages=none",
  ];
  await execa("apt-get", [...apt, "update"]);
  // linux-image-arm64 is a metapackage: its dependency is the real kernel package.
  const depends = await execa("apt-cache", [
    ...apt,
    "depends",
    "--no-recommends",
    "--no-suggests",
    "linux-image-arm64",
  ]);
  const kernelPackage = /Depends: (linux-image-[0-9][^\s]*)/.exec(depends.stdout)?.[1];
  if (kernelPackage === undefined) throw new Error(`no kernel dependency in:\n${depends.stdout}`);
  await execa("apt-get", [...apt, "download", `${kernelPackage}:arm64`], { cwd: join(dir, "debs") });
  const deb = (await readdir(join(dir, "debs"))).find((n) => n.endsWith(".deb"));
  if (deb === undefined) throw new Error("apt-get download left no .deb");
  await execa("dpkg-deb", ["-x", join(dir, "debs", deb), join(dir, "x")]);
  const kernel = await found();
  if (kernel === undefined) throw new Error(`no /boot/vmlinuz-* in ${deb}`);
  return join(dir, "x", "boot", kernel);
}

describe("arm64 guests on this host", () => {
  it("bootstraps arm64 with its own kernel and boots it on ttyAMA0", () => {
    const args = bootstrapMmdebstrapArgs(bootstrapRecipe({ arch: "arm64" }), "/r");
    expect(args).toContain("--architectures=arm64");
    expect(args.find((a) => a.startsWith("--include="))).toContain("linux-image-arm64");
    expect(kernelCommandLine("arm64")).toContain("console=ttyAMA0");
  });

  it("finds the arm64 UEFI firmware (for cloud bases)", async () => {
    const firmware = await findFirmware("arm64");
    expect(existsSync(firmware.code)).toBe(true);
  });

  it("boots trixie's arm64 kernel under TCG to its banner on the serial console", async () => {
    const kernel = await arm64Kernel();
    const work = await mkdtemp(join(tmpdir(), "hexclave-arm64-"));
    const serial = join(work, "serial.log");
    try {
      const args = buildQemuArgs(
        {
          name: "arm64-kernel-probe",
          arch: "arm64",
          accel: "tcg",
          cpus: 1,
          memoryMb: 512,
          drives: [],
          // No root disk: the kernel boots, prints its banner, fails to mount root and panics; panic=-1 and
          // -no-reboot turn that into QEMU exiting.
          // (`quiet` dropped so the banner is printed.)
          kernelBoot: { kernel, append: `${kernelCommandLine("arm64").replace(/ quiet$/, "")} panic=-1` },
          serial: { file: serial },
          noReboot: true,
        },
        { hostArch: detectHost().arch },
      );
      expect(args.slice(0, 8)).toEqual([
        "-name",
        "arm64-kernel-probe",
        "-machine",
        "virt",
        "-accel",
        "tcg,thread=multi",
        "-cpu",
        "max,pauth-impdef=on",
      ]);
      const started = Date.now();
      const r = await execa(qemuSystemBinaryName("arm64"), args, { reject: false, timeout: 240_000 });
      const log = await readFile(serial, "utf8");
      console.log(`arm64 kernel boot to panic: ${Math.round((Date.now() - started) / 1000)} s`);
      expect(log).toMatch(/Linux version 6\.\d+\.\d+[^\n]*aarch64|Linux version 6\.\d+\.\d+\+deb13-arm64/);
      expect(log).toMatch(/Machine model: linux,dummy-virt/);
      expect(log).toMatch(/Kernel command line: root=\/dev\/vda rw console=ttyAMA0 panic=-1/);
      expect(log).toMatch(/VFS: Unable to mount root fs|Kernel panic/);
      expect(r.timedOut).toBe(false);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
