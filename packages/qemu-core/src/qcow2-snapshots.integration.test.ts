import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readQcow2Snapshots } from "./qcow2-snapshots.js";
import { qemuImg } from "./qemu-img.js";

// The reader against qemu-img's own answer, on images qemu-img made. A snapshot holding VM state (RAM and devices)
// is read in instance/vm-instance.integration.test.ts ("saves a snapshot, resumes it with loadvm ...").
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-qcow2-snap-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function qemuImgSays(file: string) {
  return (await qemuImg.info(file)).snapshots;
}

describe("readQcow2Snapshots", () => {
  it.each([
    ["qcow2 v3 (compat=1.1)", "1.1"],
    ["qcow2 v2 (compat=0.10)", "0.10"],
  ])("%s: the same snapshots as qemu-img info, in its order", async (_title, compat) => {
    const file = join(dir, `img-${compat}.qcow2`);
    await execa("qemu-img", ["create", "-q", "-f", "qcow2", "-o", `compat=${compat}`, file, "16M"]);
    expect(await readQcow2Snapshots(file)).toEqual([]);
    const names = ["fresh", "a-longer-name-of-sixty-four-characters-".padEnd(64, "x"), "ünïcode ☃", "x"];
    for (const name of names) await execa("qemu-img", ["snapshot", "-c", name, file]);
    for (let i = 0; i < 40; i++) await execa("qemu-img", ["snapshot", "-c", `many-${i}`, file]);
    await execa("qemu-img", ["snapshot", "-d", "x", file]);
    const read = await readQcow2Snapshots(file);
    expect(read?.map((s) => s.name)).toEqual([
      ...names.filter((n) => n !== "x"),
      ...Array.from({ length: 40 }, (_, i) => `many-${i}`),
    ]);
    expect(read).toEqual(await qemuImgSays(file));
  });

  it("qemuImg.snapshotList reads the table; a file that is not qcow2 goes to qemu-img, which says why", async () => {
    const file = join(dir, "list.qcow2");
    await qemuImg.create({ file, format: "qcow2", size: "8M" });
    await qemuImg.snapshotCreate(file, "fresh");
    expect((await qemuImg.snapshotList(file)).map((s) => s.name)).toEqual(["fresh"]);

    const raw = join(dir, "plain.raw");
    await writeFile(raw, Buffer.alloc(1024 * 1024));
    expect(await readQcow2Snapshots(raw)).toBeUndefined();
    expect(await qemuImg.snapshotList(raw)).toEqual([]); // qemu-img info: a raw image has no snapshots

    const missing = await qemuImg.snapshotList(join(dir, "missing.qcow2")).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: "IMAGE_NOT_FOUND" });
  });
});
