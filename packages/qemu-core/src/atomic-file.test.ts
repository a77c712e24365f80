import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileAtomic } from "./atomic-file.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomic-file-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it.each([
    { title: "durable (flushed before the rename)", durable: undefined },
    { title: "a runtime file (durable: false)", durable: false },
  ])("$title: replaces the file with the new bytes and mode, and leaves no temp file", async ({ durable }) => {
    const target = join(dir, `file-${String(durable)}`);
    await writeFile(target, "old", { mode: 0o644 });
    await writeFileAtomic(target, Buffer.from("new bytes"), {
      mode: 0o600,
      ...(durable === undefined ? {} : { durable }),
    });
    expect(await readFile(target, "utf8")).toBe("new bytes");
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("a write that fails leaves the target as it was and no temp file", async () => {
    const target = join(dir, "missing-dir", "file");
    await expect(writeFileAtomic(target, Buffer.from("x"), { durable: false })).rejects.toMatchObject({
      code: "ENOENT",
    });
    expect((await readdir(dir)).filter((n) => n.startsWith("."))).toEqual([]);
  });
});
