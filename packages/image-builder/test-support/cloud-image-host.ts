/**
 * A local stand-in for Debian's cloud image host (cloud.debian.org), for
 * tests of `build-image --base cloud`: no cloud image host can be reached
 * here, so a disk in the real cloud layout is made offline from the Debian
 * mirror and served on 127.0.0.1 the way the real host lays it out:
 *
 *   <url>/images/cloud/trixie/latest/SHA512SUMS
 *   <url>/images/cloud/trixie/latest/debian-13-generic-<arch>.qcow2
 *
 * The disk (src/base-image/genericcloud-layout.ts): GPT, root ext4 in
 * partition 1 at the end, BIOS boot 14 (amd64), ESP 15 with GRUB for EFI at
 * the removable path; Debian 13 with the generic kernel, cloud-init,
 * growpart (cloud-guest-utils), qemu-guest-agent, netplan + networkd +
 * resolved, and no Docker, as the real image. Made without loop devices or
 * mounts: mmdebstrap into a directory, GRUB made in the tree with
 * grub-mkstandalone, sfdisk on a sparse file, mkfs.vfat + mtools for the ESP,
 * `mkfs.ext4 -E offset= -d` for the root, then a compressed qcow2. What the
 * stand-in does not have: GRUB's i386-pc core in partition 14 (a BIOS boot
 * of the stand-in fails; the pipeline boots cloud disks under OVMF/AAVMF).
 *
 * Disks are cached by recipe hash under `<checkout>/.cache/cloud-image-host/`.
 * Needs root (mmdebstrap --mode=root, chroot), mmdebstrap, fdisk, dosfstools,
 * mtools, e2fsprogs, qemu-utils; a foreign arch needs qemu-user-static.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Arch, qemuImg } from "@hexclave/qemu-core";
import { execa } from "execa";
import { cloudImageFileName } from "../src/base-image/cloud.js";
import {
  CLOUD_LAYOUT,
  efiBootFile,
  grubEfiTarget,
  SECTOR_BYTES,
  sfdiskScript,
} from "../src/base-image/genericcloud-layout.js";
import { ensureForeignArch } from "../src/bootstrap/foreign-arch.js";
import { mmdebstrapEnv } from "../src/bootstrap/mmdebstrap-env.js";
import { followMmdebstrapProgress } from "../src/bootstrap/mmdebstrap-output.js";
import { BOOTSTRAP_DPKG_OPTIONS, BOOTSTRAP_MIRROR, BOOTSTRAP_SUITE, serialConsole } from "../src/bootstrap/recipe.js";
import { removeTree } from "../src/bootstrap/tree-cleanup.js";
import { digestFile } from "../src/download/hash-file.js";
import { acquireFileLock } from "../src/download/lock.js";
import { startFaultServer } from "./fault-server.js";

/** Bumped when the way the disk is made changes. */
export const CLOUD_STANDIN_REVISION = 4;
/** The real host's path for trixie's latest build. */
export const CLOUD_HOST_PATH = "/images/cloud/trixie/latest/";
/** The disk's virtual size (the real one is 3 GiB; the warm boot grows it anyway). */
export const CLOUD_STANDIN_DISK_BYTES = 2 * 1024 ** 3;

/** What the real generic image has that the pipeline relies on (and what it needs to boot). */
export function cloudStandinPackages(arch: Arch): string[] {
  return [
    `linux-image-${arch}`,
    `grub-efi-${arch}-bin`,
    "systemd-sysv",
    "systemd-resolved",
    "udev",
    "netplan.io",
    "cloud-init",
    "cloud-guest-utils",
    "qemu-guest-agent",
    "e2fsprogs",
    "dosfstools",
    "ca-certificates",
    "debian-archive-keyring",
    "curl",
  ];
}

export interface CloudStandinRecipe {
  readonly revision: number;
  readonly arch: Arch;
  readonly suite: string;
  readonly mirror: string;
  readonly packages: readonly string[];
  readonly diskBytes: number;
}

export function cloudStandinRecipe(arch: Arch, mirror: string = BOOTSTRAP_MIRROR): CloudStandinRecipe {
  return {
    revision: CLOUD_STANDIN_REVISION,
    arch,
    suite: BOOTSTRAP_SUITE,
    mirror,
    packages: cloudStandinPackages(arch),
    diskBytes: CLOUD_STANDIN_DISK_BYTES,
  };
}

export function cloudStandinHash(recipe: CloudStandinRecipe): string {
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}

/** The kernel command line Debian's cloud images boot with (serial console last: /dev/console). */
export function cloudKernelArgs(arch: Arch, rootUuid: string): string {
  const tty = serialConsole(arch);
  return `root=UUID=${rootUuid} ro console=tty0 console=${tty},115200 earlyprintk=${tty},115200 consoleblank=0`;
}

const checkout = fileURLToPath(new URL("../../../", import.meta.url));
export const CLOUD_STANDIN_CACHE = join(checkout, ".cache", "cloud-image-host");

export interface CloudStandinDisk {
  readonly arch: Arch;
  readonly file: string;
  /** The name the real host publishes it under. */
  readonly fileName: string;
  readonly sha512: string;
  readonly size: number;
}

async function run(file: string, args: readonly string[], input?: string): Promise<string> {
  const r = await execa(file, args, {
    reject: false,
    ...(input === undefined ? { stdin: "ignore" as const } : { input }),
    env: mmdebstrapEnv(),
  });
  if (r.exitCode !== 0)
    throw new Error(`${file} ${args.join(" ")} failed (${r.exitCode}): ${(r.stderr || r.stdout).slice(-2000)}`);
  return r.stdout;
}

async function kernelVersion(root: string): Promise<string> {
  const names = (await run("ls", [join(root, "boot")])).split("\n");
  const kernel = names
    .filter((n) => n.startsWith("vmlinuz-"))
    .sort()
    .at(-1);
  if (kernel === undefined) throw new Error(`no /boot/vmlinuz-* in ${root}`);
  return kernel.slice("vmlinuz-".length);
}

/** Builds the disk into `work` (a fresh directory); returns the qcow2. */
async function makeDisk(recipe: CloudStandinRecipe, work: string, log: (line: string) => void): Promise<string> {
  const { arch } = recipe;
  await ensureForeignArch(arch);
  const root = join(work, "root");
  const started = Date.now();
  const progress = followMmdebstrapProgress((e) =>
    log(
      `mmdebstrap ${e.phase}${e.step === undefined ? "" : ` ${e.done}/${e.total ?? "?"} ${e.step}`} (${Math.round(e.elapsedMs / 1000)} s)`,
    ),
  );
  const mm = execa(
    "mmdebstrap",
    [
      "--mode=root",
      "--variant=minbase",
      `--architectures=${arch}`,
      `--include=${recipe.packages.join(",")}`,
      ...BOOTSTRAP_DPKG_OPTIONS.map((o) => `--dpkgopt=${o}`),
      "--verbose",
      "--aptopt=Acquire::Retries 3",
      '--aptopt=Acquire::Languages "none"',
      '--customize-hook=rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
      recipe.suite,
      root,
      recipe.mirror,
    ],
    { reject: false, stdin: "ignore", all: true, buffer: false, env: mmdebstrapEnv() },
  );
  const tail: string[] = [];
  mm.all?.setEncoding("utf8");
  let pending = "";
  mm.all?.on("data", (chunk: string) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      progress(line);
      tail.push(line);
      if (tail.length > 30) tail.shift();
    }
  });
  const result = await mm;
  if (result.exitCode !== 0) throw new Error(`mmdebstrap failed (${result.exitCode}):\n${tail.join("\n")}`);
  log(`mmdebstrap done in ${Math.round((Date.now() - started) / 1000)} s`);

  const rootUuid = randomUUID();
  const espId = randomBytes(4).toString("hex").toUpperCase();
  const espUuid = `${espId.slice(0, 4)}-${espId.slice(4)}`;
  const version = await kernelVersion(root);
  await writeFile(
    join(root, "etc/fstab"),
    `UUID=${rootUuid} / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1\nUUID=${espUuid} /boot/efi vfat umask=0077,nofail 0 1\n`,
  );
  // Netplan (written by cloud-init at first boot) renders for systemd-networkd, which Debian leaves disabled.
  await run("systemctl", ["--root", root, "enable", "systemd-networkd.service"]);
  await mkdir(join(root, "boot/efi"), { recursive: true });
  await mkdir(join(root, "boot/grub"), { recursive: true });
  const search = `search --no-floppy --fs-uuid --set=root ${rootUuid}`;
  await writeFile(
    join(root, "boot/grub/grub.cfg"),
    [
      "set timeout=0",
      "insmod part_gpt",
      "insmod ext2",
      search,
      `linux /boot/vmlinuz-${version} ${cloudKernelArgs(arch, rootUuid)}`,
      `initrd /boot/initrd.img-${version}`,
      "boot",
      "",
    ].join("\n"),
  );
  // The EFI binary carries a small config that finds the root partition and reads its grub.cfg, as Debian's signed GRUB
  // does. grub-mkstandalone's modules sit in its memdisk, so the prefix stays there (the root has no grub-install'ed
  // /boot/grub/x86_64-efi: with prefix moved to the root, "configfile.mod not found"), and `search` probes only with
  // the partition-table and file system modules already loaded (without the insmods: "no such device", then this
  // same memdisk config again until "maximum recursion depth exceeded").
  await writeFile(
    join(root, "tmp/embedded.cfg"),
    `insmod part_gpt\ninsmod ext2\n${search}\nconfigfile ($root)/boot/grub/grub.cfg\n`,
  );
  await run("chroot", [
    root,
    "grub-mkstandalone",
    "-O",
    grubEfiTarget(arch),
    "-o",
    "/tmp/boot.efi",
    "boot/grub/grub.cfg=/tmp/embedded.cfg",
  ]);
  const efi = join(work, "boot.efi");
  await rename(join(root, "tmp/boot.efi"), efi);
  await rm(join(root, "tmp/embedded.cfg"));
  log("grub-mkstandalone done");

  const raw = join(work, "disk.raw");
  await run("truncate", ["-s", String(recipe.diskBytes), raw]);
  await run("sfdisk", ["-q", raw], sfdiskScript(raw, arch));
  const esp = join(work, "esp.img");
  const espBytes = CLOUD_LAYOUT.esp.size * SECTOR_BYTES;
  await run("mkfs.vfat", ["-C", "-F", "32", "-n", "EFI", "-i", espId, esp, String(espBytes / 1024)]);
  await run("mmd", ["-i", esp, "::/EFI", "::/EFI/BOOT", "::/EFI/debian"]);
  await run("mcopy", ["-i", esp, efi, `::/EFI/BOOT/${efiBootFile(arch)}`]);
  await run("mcopy", ["-i", esp, efi, `::/EFI/debian/grub${arch === "amd64" ? "x64" : "aa64"}.efi`]);
  await run("dd", [
    `if=${esp}`,
    `of=${raw}`,
    "bs=512",
    `seek=${CLOUD_LAYOUT.esp.start}`,
    "conv=notrunc",
    "status=none",
  ]);
  await rm(esp);
  // Partition 1 runs to the last usable sector (GPT keeps 33 sectors at the end for its backup).
  const rootBytes = recipe.diskBytes - CLOUD_LAYOUT.rootStart * SECTOR_BYTES - 1024 * 1024;
  await run("mkfs.ext4", [
    "-q",
    "-F",
    "-U",
    rootUuid,
    "-E",
    `offset=${CLOUD_LAYOUT.rootStart * SECTOR_BYTES},lazy_itable_init=1,lazy_journal_init=1`,
    "-d",
    root,
    raw,
    `${Math.floor(rootBytes / 1024)}k`,
  ]);
  await removeTree(root);
  log("partitions written");
  const qcow2 = join(work, cloudImageFileName("generic", arch));
  await qemuImg.convert({ src: raw, dst: qcow2, srcFormat: "raw", dstFormat: "qcow2", compress: true });
  await rm(raw);
  log(`disk done in ${Math.round((Date.now() - started) / 1000)} s`);
  return qcow2;
}

/** The cached stand-in disk for an arch, built (minutes) when missing. */
export async function ensureCloudStandinDisk(
  arch: Arch,
  options: { mirror?: string; log?: (line: string) => void } = {},
): Promise<CloudStandinDisk> {
  const log = options.log ?? (() => {});
  const recipe = cloudStandinRecipe(arch, options.mirror);
  const dir = join(CLOUD_STANDIN_CACHE, `${arch}-${cloudStandinHash(recipe)}`);
  const recordPath = join(dir, "disk.json");
  const read = async (): Promise<CloudStandinDisk | undefined> => {
    try {
      const disk = JSON.parse(await readFile(recordPath, "utf8")) as CloudStandinDisk;
      return (await stat(disk.file)).size === disk.size ? disk : undefined;
    } catch {
      return undefined;
    }
  };
  const cached = await read();
  if (cached !== undefined) return cached;
  await mkdir(CLOUD_STANDIN_CACHE, { recursive: true });
  const lock = await acquireFileLock(`${dir}.lock`, {
    purpose: "cloud stand-in disk",
    onWait: (holder) => log(`waiting for another build of the ${arch} stand-in disk (${holder})`),
  });
  try {
    const again = await read();
    if (again !== undefined) return again;
    const work = `${dir}.tmp-${randomBytes(4).toString("hex")}`;
    await mkdir(work, { recursive: true });
    try {
      const built = await makeDisk(recipe, work, log);
      const fileName = cloudImageFileName("generic", arch);
      const disk: CloudStandinDisk = {
        arch,
        file: join(dir, fileName),
        fileName,
        sha512: await digestFile(built, "sha512"),
        size: (await stat(built)).size,
      };
      await writeFile(join(work, "disk.json"), `${JSON.stringify(disk, null, 2)}\n`);
      await removeTree(dir);
      await rename(work, dir);
      return disk;
    } catch (error) {
      await removeTree(work).catch(() => {});
      throw error;
    }
  } finally {
    await lock.release();
  }
}

export interface CloudImageHost {
  /** The host's root, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The directory URL to pass as the cloud base URL (`<url>/images/cloud/trixie/latest/`). */
  readonly latestUrl: string;
  readonly disks: readonly CloudStandinDisk[];
  close(): Promise<void>;
}

/** The `SHA512SUMS` text the real host publishes: `<hex>  <name>` per file. Pure. */
export function sha512SumsText(disks: readonly Pick<CloudStandinDisk, "sha512" | "fileName">[]): string {
  return disks.map((d) => `${d.sha512}  ${d.fileName}\n`).join("");
}

/** Serves the stand-in disks for `arches` (built when missing) on 127.0.0.1 in the real host's layout. */
export async function startCloudImageHost(
  arches: readonly Arch[],
  options: { mirror?: string; log?: (line: string) => void } = {},
): Promise<CloudImageHost> {
  const disks: CloudStandinDisk[] = [];
  for (const arch of arches) disks.push(await ensureCloudStandinDisk(arch, options));
  const serveRoot = join(CLOUD_STANDIN_CACHE, `serve-${randomBytes(6).toString("hex")}`);
  const latest = join(serveRoot, CLOUD_HOST_PATH);
  await mkdir(latest, { recursive: true });
  for (const disk of disks) await symlink(disk.file, join(latest, disk.fileName));
  await writeFile(join(latest, "SHA512SUMS"), sha512SumsText(disks));
  const server = await startFaultServer({ root: serveRoot });
  return {
    url: server.url,
    latestUrl: `${server.url}${CLOUD_HOST_PATH}`,
    disks,
    async close() {
      await server.close();
      if (existsSync(serveRoot)) await rm(serveRoot, { recursive: true, force: true });
    },
  };
}
