import { describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { parseQemuImgInfo } from "./qemu-img-info.js";

// Recorded from qemu-img 7.2: an overlay with a snapshot, and a zstd image.
const overlay = `{
    "backing-filename-format": "qcow2",
    "snapshots": [
        { "icount": 0, "vm-clock-nsec": 5000, "name": "snap1", "date-sec": 1795872883, "date-nsec": 194843000,
          "vm-clock-sec": 2, "id": "1", "vm-state-size": 4096 }
    ],
    "virtual-size": 67108864, "filename": "ov.qcow2", "cluster-size": 65536, "format": "qcow2", "actual-size": 208896,
    "format-specific": { "type": "qcow2", "data": { "compat": "1.1", "compression-type": "zlib", "lazy-refcounts": false,
        "refcount-bits": 16, "corrupt": false, "extended-l2": false } },
    "full-backing-filename": "/img/base.qcow2", "backing-filename": "base.qcow2", "dirty-flag": false
}`;
const zstd = `{ "virtual-size": 1048576, "filename": "z.qcow2", "cluster-size": 65536, "format": "qcow2", "actual-size": 200704,
    "format-specific": { "type": "qcow2", "data": { "compat": "1.1", "compression-type": "zstd", "lazy-refcounts": false,
        "refcount-bits": 16, "corrupt": false, "extended-l2": false } }, "dirty-flag": true }`;
const raw = `{ "virtual-size": 1048576, "filename": "r.img", "format": "raw", "actual-size": 4096, "dirty-flag": false }`;

describe("parseQemuImgInfo", () => {
  it("maps an overlay with its backing file and snapshots", () => {
    const info = parseQemuImgInfo(overlay);
    expect(info).toMatchObject({
      filename: "ov.qcow2",
      format: "qcow2",
      virtualSize: 67108864,
      actualSize: 208896,
      clusterSize: 65536,
      backingFile: "base.qcow2",
      fullBackingFile: "/img/base.qcow2",
      backingFormat: "qcow2",
      compressionType: "zlib",
      dirty: false,
      corrupt: false,
    });
    expect(info.snapshots).toEqual([
      { id: "1", name: "snap1", vmStateSize: 4096, date: new Date(1795872883194), vmClockNs: 2_000_005_000 },
    ]);
  });

  it("reads the compression type and the dirty flag", () => {
    const info = parseQemuImgInfo(zstd);
    expect(info.compressionType).toBe("zstd");
    expect(info.dirty).toBe(true);
    expect(info.backingFile).toBeUndefined();
    expect(info.snapshots).toEqual([]);
  });

  it("handles raw images and --backing-chain arrays", () => {
    expect(parseQemuImgInfo(raw)).toMatchObject({ format: "raw", virtualSize: 1048576, dirty: false });
    expect(parseQemuImgInfo(`[${overlay}, ${raw}]`).filename).toBe("ov.qcow2");
    expect(parseQemuImgInfo(JSON.parse(raw) as Record<string, unknown>).format).toBe("raw");
  });

  it("rejects text that is not qemu-img info JSON with a typed error", () => {
    for (const bad of ["qemu-img: Could not open", "{}", "null", "[]"]) {
      let error: unknown;
      try {
        parseQemuImgInfo(bad);
      } catch (e) {
        error = e;
      }
      expect(qemuErrors.is(error, "QEMU_IMG_FAILED")).toBe(true);
    }
  });
});
