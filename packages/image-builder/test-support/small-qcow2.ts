/**
 * A small real qcow2 for download tests: `qemu-img create -f qcow2` and data
 * written with `qemu-io` (pseudo-random, so it does not compress away).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

export interface SmallQcow2 {
  readonly path: string;
  readonly data: Buffer;
  readonly sha256: string;
  readonly sha512: string;
}

/** Creates `<dir>/<name>` (virtual size 8 MiB, about `dataMiB` MiB of data). */
export async function makeSmallQcow2(dir: string, name = "small.qcow2", dataMiB = 2): Promise<SmallQcow2> {
  const path = join(dir, name);
  const raw = join(dir, `${name}.raw`);
  await writeFile(raw, Buffer.concat([randomBytes(dataMiB * 1024 * 1024), Buffer.alloc(1024 * 1024)]));
  await execa("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, path]);
  await execa("qemu-img", ["resize", "-f", "qcow2", path, "8M"]);
  const data = await readFile(path);
  return {
    path,
    data,
    sha256: createHash("sha256").update(data).digest("hex"),
    sha512: createHash("sha512").update(data).digest("hex"),
  };
}
