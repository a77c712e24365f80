/**
 * The local stand-in of Debian's cloud image host (test-support/cloud-image-host.ts)
 * holds to the real host's contract: SHA512SUMS in the real layout naming the
 * image by the real name, and a disk in the real cloud layout (GPT, root
 * partition 1 last, BIOS boot 14, ESP 15 with GRUB for EFI at the removable
 * path) with cloud-init, growpart and qemu-guest-agent and no Docker. The
 * first run builds the disk from the Debian mirror (about 3-5 min, cached).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qemuImg } from "@hexclave/qemu-core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CloudImageHost, startCloudImageHost } from "../../test-support/cloud-image-host.js";
import { digestFile } from "../download/hash-file.js";
import { fetchCloudBaseImage, fetchSha512Sums } from "./cloud.js";
import { CLOUD_LAYOUT, cloudLayoutProblems, SECTOR_BYTES, type SfdiskPartition } from "./genericcloud-layout.js";

let host: CloudImageHost;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-cloud-host-"));
  host = await startCloudImageHost(["amd64"], { log: (line) => console.log(`[cloud stand-in] ${line}`) });
}, 3_600_000);
afterAll(async () => {
  await host?.close();
  await rm(work, { recursive: true, force: true });
});

describe("the cloud image host stand-in", () => {
  it("publishes SHA512SUMS where the real host does, and the image it lists downloads verified", async () => {
    const { url, sums } = await fetchSha512Sums(host.latestUrl);
    expect(url).toBe(`${host.url}/images/cloud/trixie/latest/SHA512SUMS`);
    expect([...sums.keys()]).toEqual(["debian-13-generic-amd64.qcow2"]);
    const image = await fetchCloudBaseImage({
      arch: "amd64",
      mirrorUrl: host.latestUrl,
      cacheDir: join(work, "cache"),
    });
    expect(image.url).toBe(`${host.latestUrl}debian-13-generic-amd64.qcow2`);
    expect(await digestFile(image.path, "sha512")).toBe(sums.get("debian-13-generic-amd64.qcow2"));
  });

  it("serves a disk in the Debian cloud layout with cloud-init, growpart and the guest agent, and no Docker", async () => {
    const disk = host.disks[0];
    if (disk === undefined) throw new Error("no disk");
    const raw = join(work, "disk.raw");
    await qemuImg.convert({ src: disk.file, dst: raw, srcFormat: "qcow2", dstFormat: "raw" });
    const table = JSON.parse((await execa("sfdisk", ["--json", raw])).stdout) as {
      partitiontable: { label: string; partitions: SfdiskPartition[] };
    };
    expect(cloudLayoutProblems(table.partitiontable, "amd64")).toEqual([]);

    const esp = `${raw}@@${CLOUD_LAYOUT.esp.start * SECTOR_BYTES}`;
    const efi = await execa("mdir", ["-i", esp, "-b", "::/EFI/BOOT"]);
    expect(efi.stdout).toMatch(/BOOTX64\.EFI/i);

    const rootPart = join(work, "root.ext4");
    await execa("dd", [
      `if=${raw}`,
      `of=${rootPart}`,
      "bs=1M",
      `skip=${(CLOUD_LAYOUT.rootStart * SECTOR_BYTES) / 2 ** 20}`,
      "conv=sparse",
      "status=none",
    ]);
    const exists = async (path: string) =>
      (await execa("debugfs", ["-R", `stat ${path}`, rootPart], { reject: false })).stdout.includes("Inode:");
    for (const path of [
      "/usr/bin/cloud-init",
      "/usr/bin/growpart",
      "/usr/sbin/qemu-ga",
      "/boot/grub/grub.cfg",
      "/etc/fstab",
    ])
      expect({ path, present: await exists(path) }).toEqual({ path, present: true });
    expect(await exists("/usr/sbin/dockerd")).toBe(false);
    const fstab = (await execa("debugfs", ["-R", "cat /etc/fstab", rootPart])).stdout;
    expect(fstab).toMatch(/^UUID=\S+ \/ ext4 /m);
    expect(fstab).toMatch(/^UUID=\S+ \/boot\/efi vfat /m);
  });
});
