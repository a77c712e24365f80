import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { discardDir, discardFile } from "./discard-file.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function instanceDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hx-discard-"));
  dirs.push(dir);
  return dir;
}

/** The discard directory's entries once the background `rm` has run (it is not waited for by discardFile). */
async function settledEntries(dir: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const left = await readdir(discardDir(dir));
    if (left.length === 0) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
  return readdir(discardDir(dir));
}

describe("discardFile", () => {
  it("frees the name at once and removes the file in the background", async () => {
    const dir = await instanceDir();
    const file = join(dir, "suspend.ram");
    await writeFile(file, Buffer.alloc(1024 * 1024, 7));
    await discardFile(dir, file);
    expect(await readdir(dir)).toEqual(["discard"]);
    expect(await settledEntries(dir)).toEqual([]);
  });

  it("also removes what an earlier discard left behind", async () => {
    const dir = await instanceDir();
    await mkdir(discardDir(dir));
    await writeFile(join(discardDir(dir), "suspend.ram.0badf00d"), "left by a host that stopped mid-removal");
    const file = join(dir, "suspend.ram");
    await writeFile(file, "x");
    await discardFile(dir, file);
    expect(await settledEntries(dir)).toEqual([]);
  });

  it("does nothing for a missing file, and makes no directory for it", async () => {
    const dir = await instanceDir();
    await discardFile(dir, join(dir, "suspend.ram"));
    expect(await readdir(dir)).toEqual([]);
  });
});
