/**
 * Running the other architecture's programs during a cross-arch bootstrap
 * (arm64 tree on an amd64 host): mmdebstrap runs maintainer scripts inside
 * the tree, so the kernel needs a binfmt_misc handler (qemu-user-static).
 * About 460 s for an arm64 base on a 2-core host.
 */
import { access, readFile } from "node:fs/promises";
import type { Arch } from "@hexclave/qemu-core";
import { execa } from "execa";
import { imageBuilderErrors } from "../errors-data.js";

/** The binfmt_misc handler name for a guest arch. */
export function binfmtHandler(arch: Arch): string {
  return arch === "arm64" ? "qemu-aarch64" : "qemu-x86_64";
}

/** The host's Debian arch (`process.arch` normalised). */
export function hostDebianArchOf(nodeArch: string = process.arch): Arch {
  return nodeArch === "arm64" ? "arm64" : "amd64";
}

/** Status text of a binfmt_misc entry says `enabled` on its first line. Pure. */
export function binfmtEnabled(statusText: string): boolean {
  return statusText.split("\n")[0]?.trim() === "enabled";
}

/**
 * Makes sure programs of `arch` run on this host: nothing to do for the
 * host's own arch; else mounts binfmt_misc when needed and enables the
 * qemu-user-static handler. Throws FOREIGN_ARCH_UNAVAILABLE with the
 * packages to install when it cannot.
 */
export async function ensureForeignArch(arch: Arch): Promise<void> {
  if (arch === hostDebianArchOf()) return;
  const handler = binfmtHandler(arch);
  const entry = `/proc/sys/fs/binfmt_misc/${handler}`;
  const status = async () => readFile(entry, "utf8").then(binfmtEnabled, () => false);
  if (await status()) return;
  const exists = await access("/proc/sys/fs/binfmt_misc/status").then(
    () => true,
    () => false,
  );
  if (!exists)
    await execa("mount", ["-t", "binfmt_misc", "binfmt_misc", "/proc/sys/fs/binfmt_misc"], { reject: false });
  const enabled = await execa("update-binfmts", ["--enable", handler], { reject: false });
  if (await status()) return;
  throw imageBuilderErrors.create(
    "FOREIGN_ARCH_UNAVAILABLE",
    `Cannot run ${arch} programs on this ${hostDebianArchOf()} host: the binfmt_misc handler ${handler} is not enabled (${(enabled.stderr || enabled.stdout || "update-binfmts failed").trim()})`,
    { details: { arch, handler } },
  );
}
