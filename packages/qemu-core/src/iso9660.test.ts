import { describe, expect, it } from "vitest";
import { HexclaveError } from "./errors.js";
import { createIso } from "./iso9660.js";

const SECTOR = 2048;
const text = (b: Uint8Array, from: number, len: number) => new TextDecoder().decode(b.subarray(from, from + len));
const le32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off, true);
const be32 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(off, false);

/** Reads the directory records of an extent (ISO 9660 or Joliet), the way a reader does. */
function readDir(iso: Uint8Array, extent: number, size: number, joliet: boolean) {
  const out: Array<{ id: string; extent: number; size: number; dir: boolean; systemUse: Uint8Array }> = [];
  for (let sector = 0; sector < size / SECTOR; sector++) {
    let off = (extent + sector) * SECTOR;
    const end = off + SECTOR;
    while (off < end && iso[off] !== 0) {
      const len = iso[off]!;
      const idLen = iso[off + 32]!;
      const idBytes = iso.subarray(off + 33, off + 33 + idLen);
      const id =
        idLen === 1 && idBytes[0]! <= 1
          ? (["."][idBytes[0]!] ?? "..")
          : joliet
            ? new TextDecoder("utf-16be").decode(idBytes)
            : text(idBytes, 0, idLen);
      const suStart = off + 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
      out.push({
        id,
        extent: le32(iso, off + 2),
        size: le32(iso, off + 10),
        dir: (iso[off + 25]! & 2) !== 0,
        systemUse: iso.subarray(suStart, off + len),
      });
      expect(be32(iso, off + 6)).toBe(le32(iso, off + 2));
      off += len;
    }
  }
  return out;
}

describe("createIso layout", () => {
  const files = [
    { name: "user-data", content: "#cloud-config\nhostname: vm\n" },
    { name: "meta-data", content: "instance-id: vm-1\n" },
  ];
  const iso = createIso({ volumeId: "cidata", files });

  it("has the three volume descriptors at sectors 16 to 18", () => {
    expect(iso.length % SECTOR).toBe(0);
    expect(iso.subarray(0, 16 * SECTOR).every((b) => b === 0)).toBe(true);
    expect([iso[16 * SECTOR], text(iso, 16 * SECTOR + 1, 5)]).toEqual([1, "CD001"]);
    expect([iso[17 * SECTOR], text(iso, 17 * SECTOR + 1, 5)]).toEqual([2, "CD001"]);
    expect([...iso.subarray(17 * SECTOR + 88, 17 * SECTOR + 91)]).toEqual([0x25, 0x2f, 0x45]); // Joliet UCS-2 level 3
    expect([iso[18 * SECTOR], text(iso, 18 * SECTOR + 1, 5)]).toEqual([255, "CD001"]);
    expect(text(iso, 16 * SECTOR + 40, 32)).toBe(`cidata${" ".repeat(26)}`);
    expect(new TextDecoder("utf-16be").decode(iso.subarray(17 * SECTOR + 40, 17 * SECTOR + 52))).toBe("cidata");
    expect(le32(iso, 16 * SECTOR + 80)).toBe(iso.length / SECTOR);
    expect(be32(iso, 16 * SECTOR + 84)).toBe(iso.length / SECTOR);
  });

  it("names files 8.3 in the ISO 9660 tree, with the real names in Rock Ridge NM and Joliet", () => {
    const rootP = readDir(iso, le32(iso, 16 * SECTOR + 158), le32(iso, 16 * SECTOR + 166), false);
    expect(rootP.map((r) => r.id)).toEqual([".", "..", "META_DAT.;1", "USER_DAT.;1"]);
    expect(text(rootP[0]!.systemUse, 0, 2)).toBe("SP"); // Rock Ridge announced in the root's "."
    const nm = (su: Uint8Array) => {
      const at = text(su, 0, su.length).indexOf("NM");
      return text(su, at + 5, su[at + 2]! - 5);
    };
    expect(nm(rootP[2]!.systemUse)).toBe("meta-data");
    expect(nm(rootP[3]!.systemUse)).toBe("user-data");
    const rootJ = readDir(iso, le32(iso, 17 * SECTOR + 158), le32(iso, 17 * SECTOR + 166), true);
    expect(rootJ.map((r) => r.id)).toEqual([".", "..", "meta-data", "user-data"]);
    // Both trees point at the same bytes.
    expect(rootJ[3]!.extent).toBe(rootP[3]!.extent);
    expect(text(iso, rootP[3]!.extent * SECTOR, rootP[3]!.size)).toBe(files[0]!.content);
  });

  it("is deterministic", () => {
    expect(createIso({ volumeId: "cidata", files })).toEqual(iso);
  });

  it("spreads a directory of many entries over several sectors without splitting a record", () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ name: `d/file-number-${i}.txt`, content: `${i}` }));
    const big = createIso({ volumeId: "many", files: many });
    const rootP = readDir(big, le32(big, 16 * SECTOR + 158), le32(big, 16 * SECTOR + 166), false);
    const d = rootP.find((r) => r.id === "D")!;
    expect(d.size).toBeGreaterThan(SECTOR);
    const entries = readDir(big, d.extent, d.size, false);
    expect(entries.length).toBe(202);
    expect(new Set(entries.map((e) => e.id)).size).toBe(202); // 8.3 names made unique
    const joliet = readDir(big, le32(big, 17 * SECTOR + 158), le32(big, 17 * SECTOR + 166), true);
    const dj = joliet.find((r) => r.id === "d")!;
    expect(readDir(big, dj.extent, dj.size, true).map((e) => e.id)).toContain("file-number-199.txt");
  });

  it.each([
    ["an empty volume id", { volumeId: "", files: [] }],
    ["a volume id over 32 characters", { volumeId: "x".repeat(33), files: [] }],
    ["a non-ASCII volume id", { volumeId: "cïdata", files: [] }],
    [
      "a duplicate name",
      {
        volumeId: "v",
        files: [
          { name: "a", content: "" },
          { name: "a", content: "" },
        ],
      },
    ],
    [
      "a file that is also a directory",
      {
        volumeId: "v",
        files: [
          { name: "a", content: "" },
          { name: "a/b", content: "" },
        ],
      },
    ],
    ["a .. component", { volumeId: "v", files: [{ name: "../etc/passwd", content: "" }] }],
    ["a name over 64 characters", { volumeId: "v", files: [{ name: "n".repeat(65), content: "" }] }],
    ["nesting deeper than 8", { volumeId: "v", files: [{ name: "1/2/3/4/5/6/7/8/9", content: "" }] }],
  ])("rejects %s with ISO_INVALID_INPUT", (_title, options) => {
    let error: unknown;
    try {
      createIso(options);
    } catch (e) {
      error = e;
    }
    expect(HexclaveError.is(error) && error.code).toBe("ISO_INVALID_INPUT");
  });
});
