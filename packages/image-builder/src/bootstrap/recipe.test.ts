import { describe, expect, it } from "vitest";
import {
  BOOTSTRAP_MIRROR,
  baseDiskBytes,
  bootstrapMmdebstrapArgs,
  bootstrapPackages,
  bootstrapRecipe,
  guestConfig,
  kernelCommandLine,
  parseDpkgQuery,
  recipeHash,
} from "./recipe.js";

describe("bootstrap recipe", () => {
  it("lists the kernel of the arch, Docker with its CLI, cloud-init and the guest agent", () => {
    expect(bootstrapPackages("amd64")).toEqual(
      expect.arrayContaining([
        "linux-image-amd64",
        "docker.io",
        "docker-cli",
        "containerd",
        "cloud-init",
        "qemu-guest-agent",
      ]),
    );
    expect(bootstrapPackages("arm64")).toContain("linux-image-arm64");
    expect(bootstrapPackages("arm64")).not.toContain("linux-image-amd64");
  });

  it("hashes the recipe: same recipe same hash, any change a new one, package order irrelevant", () => {
    const a = bootstrapRecipe({ arch: "amd64" });
    expect(recipeHash(a)).toBe(recipeHash(bootstrapRecipe({ arch: "amd64" })));
    expect(recipeHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(recipeHash({ ...a, packages: [...a.packages].reverse() })).toBe(recipeHash(a));
    expect(recipeHash(bootstrapRecipe({ arch: "arm64" }))).not.toBe(recipeHash(a));
    expect(recipeHash(bootstrapRecipe({ arch: "amd64", mirror: "http://mirror.example/debian" }))).not.toBe(
      recipeHash(a),
    );
    expect(recipeHash({ ...a, packages: [...a.packages, "vim"] })).not.toBe(recipeHash(a));
  });

  it("builds the exact mmdebstrap argument list", () => {
    const args = bootstrapMmdebstrapArgs(bootstrapRecipe({ arch: "arm64" }), "/tmp/root");
    expect(args.slice(0, 4)).toEqual([
      "--mode=root",
      "--variant=minbase",
      "--architectures=arm64",
      "--include=linux-image-arm64,systemd-sysv,udev,cloud-init,docker.io,docker-cli,containerd,qemu-guest-agent,e2fsprogs,ca-certificates,iproute2,curl",
    ]);
    expect(args.slice(-3)).toEqual(["trixie", "/tmp/root", BOOTSTRAP_MIRROR]);
    expect(args).toContain("--dpkgopt=path-exclude=/usr/share/doc/*");
    // The small initrd is configured before the kernel's postinst builds it.
    expect(args).toContain(
      "--essential-hook=printf 'MODULES=list\\nCOMPRESS=zstd\\n' > \"$1\"/etc/initramfs-tools/conf.d/hexclave",
    );
    expect(args).toContain(
      "--essential-hook=printf 'virtio_pci\\nvirtio_blk\\next4\\n' > \"$1\"/usr/share/initramfs-tools/modules.d/hexclave",
    );
  });

  it("boots on the arch's serial console, root on the whole disk", () => {
    expect(kernelCommandLine("amd64")).toBe("root=/dev/vda rw console=ttyS0 quiet");
    expect(kernelCommandLine("arm64")).toBe("root=/dev/vda rw console=ttyAMA0 quiet");
  });

  it("configures the guest offline: fstab, DHCP, NoCloud only, fw_cfg, masked timers", () => {
    const config = guestConfig();
    const file = (path: string) => config.files.find((f) => f.path === path)?.content;
    expect(file("/etc/fstab")).toMatch(/^\/dev\/vda \/ ext4 /);
    expect(file("/etc/systemd/network/20-hexclave-wired.network")).toContain("DHCP=ipv4");
    expect(file("/etc/cloud/cloud.cfg.d/90-hexclave.cfg")).toContain("datasource_list: [NoCloud, None]");
    expect(file("/etc/modules-load.d/hexclave.conf")).toBe("qemu_fw_cfg\n");
    expect(JSON.parse(file("/etc/docker/daemon.json") ?? "{}")).toMatchObject({ bridge: "none", iptables: false });
    expect(config.enable).toEqual(["systemd-networkd.service"]);
    expect(config.mask).toEqual(
      expect.arrayContaining(["apt-daily.timer", "apt-daily-upgrade.timer", "systemd-networkd-wait-online.service"]),
    );
  });

  it("parses dpkg-query output, sorted by name", () => {
    expect(parseDpkgQuery("zlib1g\t1:1.3\tamd64\nbash\t5.2\tamd64\n\n")).toEqual([
      { name: "bash", version: "5.2", arch: "amd64" },
      { name: "zlib1g", version: "1:1.3", arch: "amd64" },
    ]);
  });

  it("sizes the base disk with room to spare, in 256 MiB steps", () => {
    const mib = 1024 * 1024;
    expect(baseDiskBytes(600 * mib)).toBe(1280 * mib);
    expect(baseDiskBytes(0)).toBe(512 * mib);
    expect(baseDiskBytes(600 * mib) % (256 * mib)).toBe(0);
  });
});
