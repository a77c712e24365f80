/**
 * Where `pull` may write a release file: directly inside its staging
 * directory, checked after resolution. The staging directory is resolved
 * through symbolic links, the file must land in it under exactly its own
 * name, and none of the paths written for it (the file, its `.part`,
 * `.part.json` and `.lock`) may be a symbolic link or anything but a regular
 * file: a name from a mirror never writes anywhere else.
 */
import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { partPaths } from "@hexclave/image-builder/download";
import { imageBuilderErrors } from "@hexclave/image-builder/image";
import { isReleaseFileName } from "@hexclave/image-builder/release";

function refuse(staging: string, name: string, why: string): never {
  throw imageBuilderErrors.create(
    "RELEASE_INVALID",
    `The release names a file ${JSON.stringify(name)} that would not be written inside ${staging}: ${why}`,
    {
      hint: "The mirror or release is malformed or hostile; nothing was written. Pull from a trusted source.",
      details: { staging, name, why },
    },
  );
}

/** The path of release file `name` in `staging` (an existing directory), or RELEASE_INVALID. */
export async function stagingPath(staging: string, name: string): Promise<string> {
  if (!isReleaseFileName(name)) refuse(staging, name, "not a plain file name");
  const root = await realpath(staging);
  const target = resolve(root, name);
  if (dirname(target) !== root || basename(target) !== name) refuse(staging, name, `it resolves to ${target}`);
  const { part, state, lock } = partPaths(target);
  for (const path of [target, part, state, lock]) {
    const info = await lstat(path).catch(() => undefined);
    if (info !== undefined && !info.isFile()) {
      refuse(staging, name, `${path} is ${info.isSymbolicLink() ? "a symbolic link" : "not a regular file"}`);
    }
  }
  return target;
}
