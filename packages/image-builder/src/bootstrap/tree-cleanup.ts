/**
 * Removing a bootstrap work directory safely. mmdebstrap (`--mode=root`)
 * mounts /proc, /sys and /dev inside the tree while it runs; if it was killed
 * those mounts may remain, and a recursive delete would then walk into the
 * host's /dev. So: unmount whatever is still mounted below the directory,
 * and refuse to delete while anything is.
 */
import { readFile, rm } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { execa } from "execa";
import { imageBuilderErrors } from "../errors-data.js";

/** Mount points at or below `dir`, deepest first, from /proc/self/mountinfo's text. Pure. */
export function mountsBelow(mountinfo: string, dir: string): string[] {
  const root = resolve(dir);
  const points = mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined && p !== "")
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((p) => p === root || p.startsWith(root + sep));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function currentMounts(dir: string): Promise<string[]> {
  try {
    return mountsBelow(await readFile("/proc/self/mountinfo", "utf8"), dir);
  } catch {
    return [];
  }
}

/** Unmounts anything below `dir` (lazily), then deletes it; throws rather than delete through a mount. */
export async function removeTree(dir: string): Promise<void> {
  for (const point of await currentMounts(dir)) {
    await execa("umount", ["--lazy", point], { reject: false });
  }
  const left = await currentMounts(dir);
  if (left.length > 0) {
    throw imageBuilderErrors.create(
      "BOOTSTRAP_FAILED",
      `Cannot remove ${dir}: still mounted below it: ${left.join(", ")}`,
      {
        hint: `Unmount them by hand (umount -R ${dir}), then delete the directory.`,
        details: { dir, mounts: left },
      },
    );
  }
  await rm(dir, { recursive: true, force: true });
}
