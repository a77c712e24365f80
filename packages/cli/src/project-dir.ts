/**
 * Which directory `stack emulator start` shares with the guest through the
 * file bridge. The default (the current directory) must look like a project:
 * never `/`, the user's home or one of its ancestors (that would hand the
 * guest `~/.ssh` and `~/.aws`), and it must hold a project marker. A
 * directory named with `--project-dir` is shared as asked.
 */
import { readdir, realpath } from "node:fs/promises";
import { parse, sep } from "node:path";
import { UsageError } from "./usage-error.js";

/** What of the file bridge settings these checks read (`FileBridgeSettings`). */
export interface SharedDirectory {
  readonly enabled: boolean;
  readonly projectDir: string;
  readonly configFile?: string | undefined;
  /** Paths the guest may write besides the config file (`--bridge-writable`). */
  readonly writable?: readonly string[] | undefined;
}

/** What makes the current directory a project: `package.json`, `.git`, or `stack.config.*`. */
export const PROJECT_MARKERS = ["package.json", ".git", "stack.config.*"] as const;

const isMarker = (name: string): boolean =>
  name === "package.json" || name === ".git" || /^stack\.config\.[A-Za-z0-9]+$/.test(name);

const HOW_TO_SHARE =
  "Run it in your project's directory, name the directory to share with --project-dir DIR, or start without host files with --no-file-bridge.";

/**
 * Why the default project directory may not be shared, or undefined when it
 * may. `dir` and `userHome` are absolute and resolved; `entries` are the names
 * in `dir`. Pure.
 */
export function defaultProjectDirRefusal(input: {
  readonly dir: string;
  readonly userHome: string;
  readonly entries: readonly string[];
}): string | undefined {
  const { dir, userHome } = input;
  if (dir === parse(dir).root) {
    return `The current directory is ${dir}, the root of the file system: sharing it would give the guest every file on this machine. ${HOW_TO_SHARE}`;
  }
  if (dir === userHome) {
    return `The current directory is your home directory (${dir}): sharing it would give the guest ~/.ssh, ~/.aws and every other file you own. ${HOW_TO_SHARE}`;
  }
  if (userHome.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`)) {
    return `The current directory ${dir} holds your home directory (${userHome}): sharing it would give the guest every file you own. ${HOW_TO_SHARE}`;
  }
  if (!input.entries.some(isMarker)) {
    return `The current directory ${dir} does not look like a project (no ${PROJECT_MARKERS.join(", ")}), so it is not shared with the guest by default. ${HOW_TO_SHARE}`;
  }
  return undefined;
}

/** Throws a UsageError when the bridge would share a default project directory it must not. */
export async function checkProjectDir(
  bridge: SharedDirectory,
  options: { readonly explicit: boolean; readonly userHome: string; readonly commandPath?: readonly string[] },
): Promise<void> {
  if (!bridge.enabled || options.explicit) return;
  const path = options.commandPath ?? [];
  let dir: string;
  let entries: string[];
  try {
    dir = await realpath(bridge.projectDir);
    entries = await readdir(dir);
  } catch (error) {
    throw new UsageError(
      `The project directory ${bridge.projectDir} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). ${HOW_TO_SHARE}`,
      path,
    );
  }
  const userHome = await realpath(options.userHome).catch(() => options.userHome);
  const refusal = defaultProjectDirRefusal({ dir, userHome, entries });
  if (refusal !== undefined) throw new UsageError(refusal, path);
}

/** The line shown before the VM starts: what the guest will see of the host, and what it may change. Pure. */
export function sharingLine(bridge: SharedDirectory): string {
  if (!bridge.enabled) return "File bridge: off; the guest sees no host files.\n";
  const writable = [...(bridge.configFile === undefined ? [] : [bridge.configFile]), ...(bridge.writable ?? [])];
  const writes =
    writable.length === 0 ? "the guest may write nothing" : `the guest may write only ${writable.join(", ")}`;
  return `Sharing ${bridge.projectDir} with the guest (read access); ${writes}.\n`;
}
