import { describe, expect, it } from "vitest";
import { parseQcow2SnapshotTable, qcow2SnapshotTableOf } from "./qcow2-snapshots.js";

/** A qcow2 header's first 72 bytes with the given fields (big-endian, as on disk). */
function header(o: { magic?: number; version?: number; crypt?: number; count: number; offset: bigint }): Uint8Array {
  const bytes = new Uint8Array(72);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, o.magic ?? 0x514649fb);
  view.setUint32(4, o.version ?? 3);
  view.setUint32(32, o.crypt ?? 0);
  view.setUint32(60, o.count);
  view.setBigUint64(64, o.offset);
  return bytes;
}

/** One table entry, padded to 8 bytes; `extra` bytes of extra data (8+: the 64-bit VM state size first). */
function entry(o: {
  id: string;
  name: string;
  vmState?: number;
  extra?: number;
  sec?: number;
  nsec?: number;
  clock?: bigint;
}) {
  const id = new TextEncoder().encode(o.id);
  const name = new TextEncoder().encode(o.name);
  const extra = o.extra ?? 24;
  const size = Math.ceil((40 + extra + id.length + name.length) / 8) * 8;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint16(12, id.length);
  view.setUint16(14, name.length);
  view.setUint32(16, o.sec ?? 1_700_000_000);
  view.setUint32(20, o.nsec ?? 250_000_000);
  view.setBigUint64(24, o.clock ?? 5_000_000_000n);
  view.setUint32(32, extra >= 8 ? 0 : (o.vmState ?? 0)); // ignored when the 64-bit field is there
  view.setUint32(36, extra);
  if (extra >= 8) view.setBigUint64(40, BigInt(o.vmState ?? 0));
  bytes.set(id, 40 + extra);
  bytes.set(name, 40 + extra + id.length);
  return bytes;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe("qcow2SnapshotTableOf", () => {
  it.each([
    { title: "a v3 image", h: { count: 2, offset: 0x30000n }, want: { count: 2, offset: 0x30000 } },
    { title: "a v2 image", h: { version: 2, count: 0, offset: 0n }, want: { count: 0, offset: 0 } },
    { title: "not qcow2", h: { magic: 0x7f454c46, count: 1, offset: 1n }, want: undefined },
    { title: "an unknown version", h: { version: 4, count: 1, offset: 1n }, want: undefined },
    { title: "an encrypted image", h: { crypt: 2, count: 1, offset: 1n }, want: undefined },
    { title: "more snapshots than qcow2 allows", h: { count: 70000, offset: 1n }, want: undefined },
  ])("$title", ({ h, want }) => {
    expect(qcow2SnapshotTableOf(header(h))).toEqual(want);
  });

  it("a header cut short", () => {
    expect(qcow2SnapshotTableOf(new Uint8Array(40))).toBeUndefined();
  });
});

describe("parseQcow2SnapshotTable", () => {
  it("reads each entry's fields, its padding, and the 64-bit state size of the extra data", () => {
    const table = concat(
      entry({ id: "1", name: "fresh", vmState: 0 }),
      entry({
        id: "2",
        name: "suspend ☃",
        vmState: 5 * 2 ** 32 + 7,
        sec: 1_800_000_000,
        nsec: 999_999_999,
        clock: 12n,
      }),
      entry({ id: "3", name: "old", vmState: 4096, extra: 0 }),
    );
    expect(parseQcow2SnapshotTable(table, 3)).toEqual([
      { id: "1", name: "fresh", vmStateSize: 0, date: new Date(1_700_000_000_250), vmClockNs: 5e9 },
      { id: "2", name: "suspend ☃", vmStateSize: 5 * 2 ** 32 + 7, date: new Date(1_800_000_000_999), vmClockNs: 12 },
      { id: "3", name: "old", vmStateSize: 4096, date: new Date(1_700_000_000_250), vmClockNs: 5e9 },
    ]);
  });

  it("undefined when the entries do not fit the bytes, or a name is not UTF-8", () => {
    const one = entry({ id: "1", name: "fresh" });
    expect(parseQcow2SnapshotTable(one, 2)).toBeUndefined();
    expect(parseQcow2SnapshotTable(one.subarray(0, 30), 1)).toBeUndefined();
    const bad = entry({ id: "1", name: "ab" });
    bad[40 + 24 + 1] = 0xff;
    expect(parseQcow2SnapshotTable(bad, 1)).toBeUndefined();
  });
});
