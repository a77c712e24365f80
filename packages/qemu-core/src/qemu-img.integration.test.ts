import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { type ConvertProgressEvent, qemuImg } from "./qemu-img.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-img-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("qemuImg", () => {
  it("creates an overlay with an explicit backing format and reads it back", async () => {
    const base = join(dir, "base.qcow2");
    const overlay = join(dir, "overlay.qcow2");
    await qemuImg.create({ file: base, format: "qcow2", size: "32M" });
    await qemuImg.createOverlay({ file: overlay, backingFile: base, backingFormat: "qcow2" });
    const info = await qemuImg.info(overlay);
    expect(info).toMatchObject({
      format: "qcow2",
      virtualSize: 32 * 1024 * 1024,
      backingFile: base,
      backingFormat: "qcow2",
    });
    expect(info.dirty).toBe(false);
    const check = await qemuImg.check(overlay);
    expect(check).toMatchObject({ ok: true, corruptions: 0, leaks: 0, format: "qcow2" });
    await qemuImg.resize(overlay, "+16M");
    expect((await qemuImg.info(overlay)).virtualSize).toBe(48 * 1024 * 1024);
  });

  it("creates, lists and deletes internal snapshots", async () => {
    const file = join(dir, "snap.qcow2");
    await qemuImg.create({ file, format: "qcow2", size: "8M" });
    await qemuImg.snapshotCreate(file, "one");
    await qemuImg.snapshotCreate(file, "two");
    expect((await qemuImg.snapshotList(file)).map((s) => s.name)).toEqual(["one", "two"]);
    await qemuImg.snapshotDelete(file, "one");
    expect((await qemuImg.snapshotList(file)).map((s) => s.name)).toEqual(["two"]);
    const error = await qemuImg.snapshotDelete(file, "one").catch((e: unknown) => e);
    expect(qemuErrors.is(error, "QEMU_IMG_FAILED")).toBe(true);
    expect((error as Error).message).toContain("snapshot not found");
  });

  it("converts with zstd and zlib compression, reporting progress, through a temp name", async () => {
    const rawFile = join(dir, "data.raw");
    // 4 MiB of compressible, non-zero data.
    await writeFile(rawFile, Buffer.alloc(4 * 1024 * 1024, "hexclave emulator "));
    for (const compressionType of ["zstd", "zlib"] as const) {
      const dst = join(dir, `out-${compressionType}.qcow2`);
      const progress: ConvertProgressEvent[] = [];
      await qemuImg.convert({
        src: rawFile,
        dst,
        srcFormat: "raw",
        dstFormat: "qcow2",
        compress: true,
        compressionType,
        onProgress: (e) => progress.push(e),
      });
      const info = await qemuImg.info(dst);
      expect(info.compressionType).toBe(compressionType);
      expect(info.actualSize).toBeLessThan(1024 * 1024);
      expect(progress.at(-1)?.percent).toBe(100);
    }
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("leaves nothing behind when convert fails or is aborted", async () => {
    const src = join(dir, "notqcow.raw");
    await writeFile(src, "not an image");
    const failed = await qemuImg
      .convert({ src, dst: join(dir, "bad.qcow2"), srcFormat: "qcow2", dstFormat: "qcow2" })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(failed, "QEMU_IMG_FAILED")).toBe(true);
    expect((failed as { details: { stderr: string } }).details.stderr).toMatch(/qcow2|Image is not/i);
    const ac = new AbortController();
    ac.abort();
    const aborted = await qemuImg
      .convert({ src, dst: join(dir, "ab.qcow2"), srcFormat: "raw", dstFormat: "qcow2", signal: ac.signal })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(aborted, "ABORTED")).toBe(true);
    const left = await readdir(dir);
    expect(left.filter((f) => f.includes(".tmp-") || f === "bad.qcow2" || f === "ab.qcow2")).toEqual([]);
  });

  it("gives typed errors with hints for bad input", async () => {
    const missing = await qemuImg.info(join(dir, "missing.qcow2")).catch((e: unknown) => e);
    expect(qemuErrors.is(missing, "IMAGE_NOT_FOUND")).toBe(true);
    const badFormat = await qemuImg
      .createOverlay({
        file: join(dir, "x.qcow2"),
        backingFile: join(dir, "base.qcow2"),
        backingFormat: "vmdk" as "raw",
      })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(badFormat, "INVALID_ARGUMENT")).toBe(true);
    expect((badFormat as { hint: string }).hint).toMatch(/format/);
    const badSize = await qemuImg.resize(join(dir, "base.qcow2"), "lots").catch((e: unknown) => e);
    expect(qemuErrors.is(badSize, "INVALID_ARGUMENT")).toBe(true);
    const rawCompress = await qemuImg
      .convert({
        src: join(dir, "base.qcow2"),
        dst: join(dir, "y.raw"),
        srcFormat: "qcow2",
        dstFormat: "raw",
        compress: true,
      })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(rawCompress, "INVALID_ARGUMENT")).toBe(true);
    const noBacking = await qemuImg
      .createOverlay({ file: join(dir, "z.qcow2"), backingFile: join(dir, "nope.qcow2"), backingFormat: "qcow2" })
      .catch((e: unknown) => e);
    expect(qemuErrors.is(noBacking, "IMAGE_NOT_FOUND")).toBe(true);
  });
});
