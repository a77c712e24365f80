/**
 * A guest's RAM in a file of its own (`VmSpec.memoryFile`): what a start does
 * to the file, and how it is copied.
 *
 * - A cold start (no `-incoming`) begins from an empty file: the old one is
 *   removed, so no stale page of an earlier run stays on disk, and an empty
 *   one is made private (mode 0600: it holds the guest's memory), which QEMU
 *   then sizes.
 * - A resume keeps the file as it is (the state file only holds the devices),
 *   or first replaces it with a saved copy (`incomingMemoryImage`, how a
 *   reset loads a state that many resumes share).
 *
 * Copies skip holes and write zero blocks as holes (`cp --sparse=always` on
 * Linux, a clone on macOS), so a copy costs the RAM the guest holds, not
 * its size; temp file, then rename.
 */
import { open, rename, rm } from "node:fs/promises";
import { tempPathFor } from "../atomic-file.js";
import type { CommandRunner } from "../command-runner.js";
import { qemuErrors } from "../errors-data.js";
import { ensurePrivateFile } from "../private-files.js";

/** What a start does to the memory file before QEMU maps it. Pure. */
export type MemoryFilePlan =
  | { readonly kind: "empty" }
  | { readonly kind: "keep" }
  | { readonly kind: "copy-from"; readonly image: string };

export function memoryFilePlan(options: {
  readonly incoming: boolean;
  readonly incomingMemoryImage?: string | undefined;
}): MemoryFilePlan {
  if (!options.incoming) return { kind: "empty" };
  return options.incomingMemoryImage === undefined
    ? { kind: "keep" }
    : { kind: "copy-from", image: options.incomingMemoryImage };
}

/** The copy command for this platform (pure): sparse on Linux, a clone where the filesystem can (macOS). */
export function sparseCopyCommand(platform: NodeJS.Platform, from: string, to: string): [string, string[]] {
  if (platform === "darwin") return ["cp", ["-c", from, to]];
  return ["cp", ["--sparse=always", from, to]];
}

/** Copies `from` to `to` (temp beside it, then rename), keeping holes; the copy is private. */
export async function copyMemoryFile(runner: CommandRunner, from: string, to: string): Promise<void> {
  const tmp = tempPathFor(to);
  try {
    await ensurePrivateFile(tmp); // cp keeps an existing target's mode
    const [file, args] = sparseCopyCommand(process.platform, from, tmp);
    const r = await runner(file, args);
    if (r.exitCode !== 0) {
      throw qemuErrors.create(
        "COMMAND_FAILED",
        `Copying the guest memory ${from} to ${to} failed: ${r.stderr.trim()}`,
        {
          details: { command: [file, ...args], exitCode: r.exitCode, stderr: r.stderr },
        },
      );
    }
    await rename(tmp, to);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Carries out a plan on `memoryFile`. `SNAPSHOT_NOT_FOUND` when a resume lacks the file it needs. */
export async function prepareMemoryFile(
  runner: CommandRunner,
  memoryFile: string,
  plan: MemoryFilePlan,
): Promise<void> {
  if (plan.kind === "empty") {
    await rm(memoryFile, { force: true });
    await ensurePrivateFile(memoryFile);
    return;
  }
  const needed = plan.kind === "keep" ? memoryFile : plan.image;
  try {
    await (await open(needed, "r")).close();
  } catch {
    throw qemuErrors.create("SNAPSHOT_NOT_FOUND", `The saved guest memory ${needed} does not exist`, {
      hint: "The saved state cannot be resumed without the memory saved with it: boot cold instead.",
      details: { file: needed },
    });
  }
  if (plan.kind === "copy-from") await copyMemoryFile(runner, plan.image, memoryFile);
}

/** Writes the memory file's dirty pages to disk, so a saved state survives a host crash or reboot. */
export async function syncMemoryFile(memoryFile: string): Promise<void> {
  const handle = await open(memoryFile, "r+");
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
