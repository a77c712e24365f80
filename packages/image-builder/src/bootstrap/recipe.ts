/**
 * The `bootstrap` base: a Debian 13 (trixie) system made from a Debian mirror
 * with mmdebstrap, no cloud image host needed. This module is the recipe,
 * pure: the package list, the mmdebstrap arguments, the offline system
 * configuration, the kernel command line and the recipe hash that keys the
 * cache. Any change here changes the hash, so a stale base is never reused.
 */
import { createHash } from "node:crypto";
import type { Arch } from "@hexclave/qemu-core";

/** Bumped whenever the way the recipe becomes a disk changes (configuration, mkfs options, ...). */
export const BOOTSTRAP_RECIPE_VERSION = 1;
export const BOOTSTRAP_SUITE = "trixie";
export const BOOTSTRAP_MIRROR = "http://deb.debian.org/debian";
export const BOOTSTRAP_VARIANT = "minbase";

/**
 * On top of minbase. Notes:
 * - trixie's `docker.io` only recommends `docker-cli`, and mmdebstrap skips recommends: listed.
 * - systemd-networkd is part of `systemd` in trixie; it brings up the NIC by DHCP (our own .network file).
 * - curl runs the HTTP health checks during provisioning.
 * - no bootloader: the kernel boots directly (`-kernel`/`-initrd`).
 */
export function bootstrapPackages(arch: Arch): string[] {
  return [
    `linux-image-${arch}`,
    "systemd-sysv",
    "udev",
    "cloud-init",
    "docker.io",
    "docker-cli",
    "containerd",
    "qemu-guest-agent",
    "e2fsprogs",
    "ca-certificates",
    "iproute2",
    "curl",
  ];
}

/** Documentation, manuals and translations are not installed: smaller image, faster extraction. */
export const BOOTSTRAP_DPKG_OPTIONS: readonly string[] = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=/usr/share/lintian/*",
];

/**
 * The initramfs holds only what finds and mounts the root disk (virtio PCI
 * and block, ext4), written before the kernel is installed so its postinst
 * builds the small initrd once. `MODULES=most` would make it about 36 MB.
 */
export const INITRAMFS_MODULES: readonly string[] = ["virtio_pci", "virtio_blk", "ext4"];

export interface BootstrapRecipe {
  readonly recipeVersion: number;
  readonly suite: string;
  readonly mirror: string;
  readonly variant: string;
  readonly arch: Arch;
  readonly packages: readonly string[];
  readonly dpkgOptions: readonly string[];
  readonly initramfsModules: readonly string[];
  readonly guestConfig: GuestConfig;
}

export function bootstrapRecipe(options: { arch: Arch; mirror?: string | undefined }): BootstrapRecipe {
  return {
    recipeVersion: BOOTSTRAP_RECIPE_VERSION,
    suite: BOOTSTRAP_SUITE,
    mirror: options.mirror ?? BOOTSTRAP_MIRROR,
    variant: BOOTSTRAP_VARIANT,
    arch: options.arch,
    packages: bootstrapPackages(options.arch),
    dpkgOptions: [...BOOTSTRAP_DPKG_OPTIONS],
    initramfsModules: [...INITRAMFS_MODULES],
    guestConfig: guestConfig(),
  };
}

/** sha256 of the canonical recipe (package order does not matter); the cache key. */
export function recipeHash(recipe: BootstrapRecipe): string {
  const canonical = JSON.stringify({ ...recipe, packages: [...recipe.packages].sort() });
  return createHash("sha256").update(canonical).digest("hex");
}

/** The serial console device of each arch's machine (q35: 16550 UART; virt: PL011). */
export function serialConsole(arch: Arch): string {
  return arch === "amd64" ? "ttyS0" : "ttyAMA0";
}

/** Kernel command line of the built image (recorded in the manifest; the runtime uses it as is). */
export function kernelCommandLine(arch: Arch): string {
  return `root=/dev/vda rw console=${serialConsole(arch)} quiet`;
}

/** A file to write into the root filesystem (path absolute inside the guest). */
export interface GuestFile {
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
}

/** The offline configuration applied to the tree after mmdebstrap. */
export interface GuestConfig {
  readonly files: readonly GuestFile[];
  /** `systemctl --root enable`. */
  readonly enable: readonly string[];
  /** Masked (linked to /dev/null): not needed in the emulator, and each costs boot time under TCG. */
  readonly mask: readonly string[];
  /** Removed so the first boot writes its own (a unique machine id per image build). */
  readonly remove: readonly string[];
}

export const GUEST_HOSTNAME = "hexclave-emulator";

export function guestConfig(): GuestConfig {
  return {
    files: [
      { path: "/etc/fstab", content: "/dev/vda / ext4 rw,relatime,errors=remount-ro 0 0\n" },
      { path: "/etc/hostname", content: `${GUEST_HOSTNAME}\n` },
      {
        path: "/etc/hosts",
        content: `127.0.0.1 localhost\n127.0.1.1 ${GUEST_HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n`,
      },
      // The NIC (any name) by DHCP from QEMU's user network; cloud-init leaves networking alone.
      {
        path: "/etc/systemd/network/20-hexclave-wired.network",
        content: "[Match]\nType=ether\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n",
      },
      {
        path: "/etc/cloud/cloud.cfg.d/90-hexclave.cfg",
        content: "datasource_list: [NoCloud, None]\nnetwork:\n  config: disabled\n",
      },
      // Runtime settings reach the guest through -fw_cfg (/sys/firmware/qemu_fw_cfg).
      { path: "/etc/modules-load.d/hexclave.conf", content: "qemu_fw_cfg\n" },
      // Only host networking is used: no bridge, no iptables rules (Docker starts faster).
      {
        path: "/etc/docker/daemon.json",
        content: `${JSON.stringify({ bridge: "none", iptables: false, ip6tables: false, "log-opts": { "max-size": "10m", "max-file": "2" } }, null, 2)}\n`,
      },
      { path: "/etc/systemd/journald.conf.d/hexclave.conf", content: "[Journal]\nSystemMaxUse=64M\n" },
      { path: "/etc/default/locale", content: "LANG=C.UTF-8\n" },
    ],
    enable: ["systemd-networkd.service"],
    mask: [
      "apt-daily.timer",
      "apt-daily-upgrade.timer",
      "dpkg-db-backup.timer",
      "e2scrub_all.timer",
      "e2scrub_reap.service",
      "fstrim.timer",
      "getty@tty1.service",
      "systemd-networkd-wait-online.service",
      "systemd-pstore.service",
      "cloud-init-hotplugd.socket",
      "remote-fs.target",
    ],
    remove: ["/etc/resolv.conf"],
  };
}

/** The mmdebstrap arguments that bootstrap `recipe` into the directory `target`. */
export function bootstrapMmdebstrapArgs(recipe: BootstrapRecipe, target: string): string[] {
  const modules = recipe.initramfsModules.join("\\n");
  return [
    "--mode=root",
    `--variant=${recipe.variant}`,
    `--architectures=${recipe.arch}`,
    `--include=${recipe.packages.join(",")}`,
    ...recipe.dpkgOptions.map((o) => `--dpkgopt=${o}`),
    // apt's and dpkg's lines (package counts) for the progress events.
    "--verbose",
    "--aptopt=Acquire::Retries 3",
    '--aptopt=Acquire::Languages "none"',
    // Before the kernel is installed: its postinst then builds the small initrd once.
    '--essential-hook=mkdir -p "$1"/etc/initramfs-tools/conf.d "$1"/usr/share/initramfs-tools/modules.d',
    `--essential-hook=printf 'MODULES=list\\nCOMPRESS=zstd\\n' > "$1"/etc/initramfs-tools/conf.d/hexclave`,
    `--essential-hook=printf '${modules}\\n' > "$1"/usr/share/initramfs-tools/modules.d/hexclave`,
    '--customize-hook=rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
    recipe.suite,
    target,
    recipe.mirror,
  ];
}

/** Parses `dpkg-query -W -f '${Package}\t${Version}\t${Architecture}\n'` output. Pure. */
export function parseDpkgQuery(text: string): { name: string; version: string; arch: string }[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((line) => {
      const [name = "", version = "", arch = ""] = line.split("\t");
      return { name, version, arch };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Size of the base's raw ext4 file: the tree's size plus room for the first boot, rounded up to 256 MiB. */
export function baseDiskBytes(treeBytes: number): number {
  const step = 256 * 1024 * 1024;
  return Math.ceil((treeBytes * 1.25 + 512 * 1024 * 1024) / step) * step;
}
