import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { discardDir, discardFile, purgeDiscarded, setAside } from "./discard-file.js";

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

describe("setAside and purgeDiscarded", () => {
  it("sets the file aside, keeping it until the purge, which removes it", async () => {
    const dir = await instanceDir();
    const file = join(dir, "suspend.ram");
    await writeFile(file, Buffer.alloc(64 * 1024, 7));
    expect(await setAside(dir, file)).toBe(true);
    expect(await readdir(dir)).toEqual(["discard"]);
    // Nothing removes it meanwhile: no background process was started.
    await new Promise((r) => setTimeout(r, 200));
    const kept = await readdir(discardDir(dir));
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/^suspend\.ram\.[0-9a-f]{8}$/);
    await purgeDiscarded(dir);
    expect(await settledEntries(dir)).toEqual([]);
  });

  it("answers false for a missing file; a purge with no discard directory starts nothing and makes none", async () => {
    const dir = await instanceDir();
    expect(await setAside(dir, join(dir, "suspend.ram"))).toBe(false);
    await purgeDiscarded(dir);
    expect(await readdir(dir)).toEqual([]);
  });
});
