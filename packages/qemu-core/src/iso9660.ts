/**
 * `createIso`: an ISO 9660 image with Rock Ridge and Joliet names, written in
 * TypeScript so a cloud-init `cidata` seed needs no external tool.
 *
 * Layout (2048-byte sectors): 0-15 system area, 16 primary volume descriptor,
 * 17 Joliet supplementary descriptor, 18 terminator, 19 the Rock Ridge
 * extension record (reached through a `CE` entry of the root), then the four
 * path tables, the ISO 9660 directories, the Joliet directories, and the file
 * data (shared by both trees). The ISO 9660 names are level 1 (8.3,
 * upper-case) and unique per directory; the real names, case and all, are in
 * Rock Ridge `NM` entries and in the Joliet tree, which is what Linux, blkid
 * and cloud-init read. The output is deterministic: the same input gives the
 * same bytes (timestamps default to the Unix epoch).
 */
import { rename, rm, writeFile } from "node:fs/promises";
import { qemuErrors } from "./errors-data.js";

export interface IsoFile {
  /** Path inside the image, `/`-separated; directories are created as needed (`openstack/latest/meta_data.json`). */
  readonly name: string;
  readonly content: Uint8Array | string;
}

export interface CreateIsoOptions {
  /** Volume label, 1 to 32 printable ASCII characters (the Joliet copy keeps the first 16): `cidata` for NoCloud. */
  readonly volumeId: string;
  readonly files: readonly IsoFile[];
  /** Timestamp of every file and of the volume; default the Unix epoch, for reproducible images. */
  readonly modified?: Date | undefined;
}

const SECTOR = 2048;
const MAX_DEPTH = 8;
const MAX_NAME_UTF16 = 64; // Joliet's limit
const MAX_NAME_UTF8 = 150; // keeps a directory record with its Rock Ridge entries under 255 bytes
const RRIP_ID = "RRIP_1991A";
const RRIP_DESCRIPTOR = "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const RRIP_SOURCE =
  "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

const utf8 = new TextEncoder();

interface FileNode {
  readonly name: string;
  readonly data: Uint8Array;
  isoName: string;
  jolietName: string;
  extent: number;
}

interface DirNode {
  readonly name: string;
  readonly parent: DirNode | undefined;
  readonly depth: number;
  readonly dirs: Map<string, DirNode>;
  readonly files: Map<string, FileNode>;
  isoName: string;
  jolietName: string;
  numberP: number;
  numberJ: number;
  extentP: number;
  sizeP: number;
  extentJ: number;
  sizeJ: number;
}

type Entry = { kind: "dir"; node: DirNode } | { kind: "file"; node: FileNode };

function invalid(message: string, details: Record<string, unknown> = {}): never {
  throw qemuErrors.create("ISO_INVALID_INPUT", message, { details });
}

function newDir(name: string, parent: DirNode | undefined): DirNode {
  return {
    name,
    parent,
    depth: parent === undefined ? 1 : parent.depth + 1,
    dirs: new Map(),
    files: new Map(),
    isoName: "",
    jolietName: "",
    numberP: 0,
    numberJ: 0,
    extentP: 0,
    sizeP: 0,
    extentJ: 0,
    sizeJ: 0,
  };
}

function buildTree(files: readonly IsoFile[]): { root: DirNode; fileList: FileNode[] } {
  const root = newDir("", undefined);
  const fileList: FileNode[] = [];
  files.forEach((file, index) => {
    if (typeof file?.name !== "string") invalid(`files[${index}].name must be a string`, { index });
    const parts = file.name.split("/").filter((p) => p !== "");
    if (parts.length === 0) invalid(`files[${index}].name is empty`, { index });
    for (const part of parts) {
      if (part === "." || part === "..") invalid(`files[${index}].name "${file.name}" contains "${part}"`, { index });
      if ([...part].some((c) => c.charCodeAt(0) < 0x20))
        invalid(`files[${index}].name "${file.name}" contains a control character`);
      if (part.length > MAX_NAME_UTF16 || utf8.encode(part).length > MAX_NAME_UTF8) {
        invalid(`files[${index}].name: "${part}" is longer than ${MAX_NAME_UTF16} characters`, { index });
      }
    }
    if (parts.length > MAX_DEPTH) invalid(`files[${index}].name "${file.name}" is nested deeper than ${MAX_DEPTH}`);
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      if (dir.files.has(part)) invalid(`"${file.name}": "${part}" is both a file and a directory`, { index });
      let next = dir.dirs.get(part);
      if (next === undefined) {
        next = newDir(part, dir);
        dir.dirs.set(part, next);
      }
      dir = next;
    }
    const leaf = parts[parts.length - 1]!;
    if (dir.files.has(leaf) || dir.dirs.has(leaf)) invalid(`"${file.name}" is given twice`, { index });
    const content = file.content;
    if (typeof content !== "string" && !(content instanceof Uint8Array)) {
      invalid(`files[${index}].content must be a string or a Uint8Array`, { index });
    }
    const node: FileNode = {
      name: leaf,
      data: typeof content === "string" ? utf8.encode(content) : content,
      isoName: "",
      jolietName: "",
      extent: 0,
    };
    dir.files.set(leaf, node);
    fileList.push(node);
  });
  return { root, fileList };
}

/** ISO 9660 level 1 d-characters: A-Z, 0-9, _. */
function dChars(text: string, max: number): string {
  return text
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, "_")
    .slice(0, max);
}

function uniqueName(wanted: string, taken: Set<string>, make: (suffix: string) => string): string {
  let name = wanted;
  for (let n = 1; taken.has(name); n++) name = make(String(n));
  taken.add(name);
  return name;
}

/** Assigns ISO 9660 (8.3) and Joliet names, unique within each directory. */
function assignNames(dir: DirNode): void {
  const isoTaken = new Set<string>();
  const jolietTaken = new Set<string>();
  const joliet = (name: string) => name.replace(/[*/:;?\\]/g, "_").slice(0, MAX_NAME_UTF16);
  for (const child of dir.dirs.values()) {
    const base = dChars(child.name, 8) || "_";
    child.isoName = uniqueName(base, isoTaken, (s) => base.slice(0, 8 - s.length) + s);
    const j = joliet(child.name);
    child.jolietName = uniqueName(j, jolietTaken, (s) => j.slice(0, MAX_NAME_UTF16 - s.length) + s);
    assignNames(child);
  }
  for (const file of dir.files.values()) {
    const dot = file.name.lastIndexOf(".");
    const base = dChars(dot > 0 ? file.name.slice(0, dot) : file.name, 8) || "_";
    const ext = dot > 0 ? dChars(file.name.slice(dot + 1), 3) : "";
    const stem = uniqueName(`${base}.${ext}`, isoTaken, (s) => `${base.slice(0, 8 - s.length)}${s}.${ext}`);
    file.isoName = `${stem};1`;
    const j = joliet(file.name);
    file.jolietName = uniqueName(j, jolietTaken, (s) => j.slice(0, MAX_NAME_UTF16 - s.length) + s);
  }
}

function ucs2(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    out[i * 2] = unit >> 8;
    out[i * 2 + 1] = unit & 0xff;
  }
  return out;
}

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0x7f);

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function sortedEntries(dir: DirNode, joliet: boolean): Entry[] {
  const entries: Entry[] = [
    ...[...dir.dirs.values()].map((node) => ({ kind: "dir" as const, node })),
    ...[...dir.files.values()].map((node) => ({ kind: "file" as const, node })),
  ];
  const id = (e: Entry) => (joliet ? ucs2(e.node.jolietName) : ascii(e.node.isoName));
  return entries.sort((a, b) => compareBytes(id(a), id(b)));
}

function bfs(root: DirNode, joliet: boolean): DirNode[] {
  const order: DirNode[] = [root];
  for (let i = 0; i < order.length; i++) {
    for (const e of sortedEntries(order[i]!, joliet)) if (e.kind === "dir") order.push(e.node);
  }
  return order;
}

// ---- byte writers -------------------------------------------------------

class Writer {
  constructor(
    readonly buf: Uint8Array,
    readonly view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
  ) {}
  u8(off: number, v: number) {
    this.buf[off] = v;
  }
  both16(off: number, v: number) {
    this.view.setUint16(off, v, true);
    this.view.setUint16(off + 2, v, false);
  }
  both32(off: number, v: number) {
    this.view.setUint32(off, v, true);
    this.view.setUint32(off + 4, v, false);
  }
  le32(off: number, v: number) {
    this.view.setUint32(off, v, true);
  }
  be32(off: number, v: number) {
    this.view.setUint32(off, v, false);
  }
  bytes(off: number, b: Uint8Array) {
    this.buf.set(b, off);
  }
  /** A text field padded with spaces (ASCII) or UCS-2 spaces (Joliet). */
  text(off: number, len: number, text: string, joliet: boolean) {
    if (joliet) {
      for (let i = 0; i < len; i += 2) this.buf.set([0x00, 0x20], off + i);
      this.buf.set(ucs2(text.slice(0, len / 2)), off);
    } else {
      this.buf.fill(0x20, off, off + len);
      this.buf.set(ascii(text.slice(0, len)), off);
    }
  }
}

function recordDate(d: Date): number[] {
  return [
    d.getUTCFullYear() - 1900,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    0,
  ];
}

function volumeDate(d: Date): Uint8Array {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const text =
    p(d.getUTCFullYear(), 4) +
    p(d.getUTCMonth() + 1) +
    p(d.getUTCDate()) +
    p(d.getUTCHours()) +
    p(d.getUTCMinutes()) +
    p(d.getUTCSeconds()) +
    p(Math.floor(d.getUTCMilliseconds() / 10));
  const out = new Uint8Array(17);
  out.set(ascii(text));
  return out;
}

function both32Bytes(v: number): number[] {
  const b = new Uint8Array(8);
  const w = new Writer(b);
  w.both32(0, v);
  return [...b];
}

// ---- Rock Ridge System Use entries --------------------------------------

function px(mode: number, links: number): number[] {
  return [0x50, 0x58, 36, 1, ...both32Bytes(mode), ...both32Bytes(links), ...both32Bytes(0), ...both32Bytes(0)];
}
function tf(date: Date): number[] {
  return [0x54, 0x46, 12, 1, 0x02, ...recordDate(date)];
}
function nm(name: string): number[] {
  const bytes = utf8.encode(name);
  return [0x4e, 0x4d, 5 + bytes.length, 1, 0, ...bytes];
}
const SP = [0x53, 0x50, 7, 1, 0xbe, 0xef, 0];
function ce(sector: number, length: number): number[] {
  return [0x43, 0x45, 28, 1, ...both32Bytes(sector), ...both32Bytes(0), ...both32Bytes(length)];
}
function er(): number[] {
  const [id, des, src] = [ascii(RRIP_ID), ascii(RRIP_DESCRIPTOR), ascii(RRIP_SOURCE)];
  return [
    0x45,
    0x52,
    8 + id.length + des.length + src.length,
    1,
    id.length,
    des.length,
    src.length,
    1,
    ...id,
    ...des,
    ...src,
  ];
}

const DIR_MODE = 0o040555;
const FILE_MODE = 0o100444;

interface RecordSpec {
  id: Uint8Array;
  extent: number;
  size: number;
  dir: boolean;
  systemUse: number[];
}

function recordLength(r: Pick<RecordSpec, "id" | "systemUse">): number {
  const base = 33 + r.id.length + (r.id.length % 2 === 0 ? 1 : 0);
  return base + r.systemUse.length + (r.systemUse.length % 2);
}

function writeRecord(w: Writer, off: number, r: RecordSpec, date: Date): number {
  const len = recordLength(r);
  if (len > 255) invalid("A directory record is longer than 255 bytes (name too long)");
  w.u8(off, len);
  w.u8(off + 1, 0);
  w.both32(off + 2, r.extent);
  w.both32(off + 10, r.size);
  w.bytes(off + 18, Uint8Array.from(recordDate(date)));
  w.u8(off + 25, r.dir ? 0x02 : 0x00);
  w.both16(off + 28, 1);
  w.u8(off + 32, r.id.length);
  w.bytes(off + 33, r.id);
  const su = off + 33 + r.id.length + (r.id.length % 2 === 0 ? 1 : 0);
  w.bytes(su, Uint8Array.from(r.systemUse));
  return len;
}

/** Lays records into sectors (a record never crosses a sector boundary); returns offsets and the extent's size. */
function layRecords(lengths: number[]): { offsets: number[]; size: number } {
  const offsets: number[] = [];
  let pos = 0;
  for (const len of lengths) {
    if ((pos % SECTOR) + len > SECTOR) pos = Math.ceil(pos / SECTOR) * SECTOR;
    offsets.push(pos);
    pos += len;
  }
  return { offsets, size: Math.max(1, Math.ceil(pos / SECTOR)) * SECTOR };
}

function dirRecords(dir: DirNode, joliet: boolean, erSector: number, date: Date): RecordSpec[] {
  const self = { extent: joliet ? dir.extentJ : dir.extentP, size: joliet ? dir.sizeJ : dir.sizeP };
  const parent = dir.parent ?? dir;
  const up = { extent: joliet ? parent.extentJ : parent.extentP, size: joliet ? parent.sizeJ : parent.sizeP };
  const links = (d: DirNode) => 2 + d.dirs.size;
  const rr = (...entries: number[][]) => (joliet ? [] : entries.flat());
  const records: RecordSpec[] = [
    {
      id: Uint8Array.of(0),
      ...self,
      dir: true,
      systemUse:
        dir.parent === undefined
          ? rr(SP, ce(erSector, er().length), px(DIR_MODE, links(dir)), tf(date))
          : rr(px(DIR_MODE, links(dir)), tf(date)),
    },
    { id: Uint8Array.of(1), ...up, dir: true, systemUse: rr(px(DIR_MODE, links(parent)), tf(date)) },
  ];
  for (const e of sortedEntries(dir, joliet)) {
    const id = joliet ? ucs2(e.node.jolietName) : ascii(e.node.isoName);
    if (e.kind === "dir") {
      const d = e.node;
      records.push({
        id,
        extent: joliet ? d.extentJ : d.extentP,
        size: joliet ? d.sizeJ : d.sizeP,
        dir: true,
        systemUse: rr(px(DIR_MODE, links(d)), tf(date), nm(d.name)),
      });
    } else {
      const f = e.node;
      records.push({
        id,
        extent: f.extent,
        size: f.data.length,
        dir: false,
        systemUse: rr(px(FILE_MODE, 1), tf(date), nm(f.name)),
      });
    }
  }
  return records;
}

function pathTableId(dir: DirNode, joliet: boolean): Uint8Array {
  if (dir.parent === undefined) return Uint8Array.of(0);
  return joliet ? ucs2(dir.jolietName) : ascii(dir.isoName);
}

function pathTableSize(order: DirNode[], joliet: boolean): number {
  return order.reduce((sum, d) => {
    const n = pathTableId(d, joliet).length;
    return sum + 8 + n + (n % 2);
  }, 0);
}

function writePathTable(w: Writer, off: number, order: DirNode[], joliet: boolean, bigEndian: boolean): void {
  let pos = off;
  for (const d of order) {
    const id = pathTableId(d, joliet);
    const extent = joliet ? d.extentJ : d.extentP;
    const parentNumber = d.parent === undefined ? 1 : joliet ? d.parent.numberJ : d.parent.numberP;
    w.u8(pos, id.length);
    w.u8(pos + 1, 0);
    if (bigEndian) {
      w.be32(pos + 2, extent);
      w.view.setUint16(pos + 6, parentNumber, false);
    } else {
      w.le32(pos + 2, extent);
      w.view.setUint16(pos + 6, parentNumber, true);
    }
    w.bytes(pos + 8, id);
    pos += 8 + id.length + (id.length % 2);
  }
}

function validateOptions(options: CreateIsoOptions): void {
  if (typeof options !== "object" || options === null) invalid("createIso needs { volumeId, files }");
  const id = options.volumeId;
  if (typeof id !== "string" || id.length < 1 || id.length > 32 || !/^[\x20-\x7e]+$/.test(id)) {
    invalid(`volumeId must be 1 to 32 printable ASCII characters (got ${JSON.stringify(id)})`, { volumeId: id });
  }
  if (!Array.isArray(options.files)) invalid("files must be an array");
  if (options.modified !== undefined) {
    const year = options.modified.getUTCFullYear();
    if (Number.isNaN(year) || year < 1900 || year > 2155) invalid("modified must be a date from 1900 to 2155");
  }
}

/**
 * Builds an ISO 9660 image (Rock Ridge and Joliet) in memory.
 * Throws `ISO_INVALID_INPUT` for a bad volume id, a bad or duplicate name,
 * or directories nested deeper than 8.
 *
 * @example
 * ```ts
 * const iso = createIso({
 *   volumeId: "cidata",
 *   files: [
 *     { name: "user-data", content: "#cloud-config\nhostname: vm\n" },
 *     { name: "meta-data", content: "instance-id: vm-1\nlocal-hostname: vm\n" },
 *   ],
 * });
 * ```
 */
export function createIso(options: CreateIsoOptions): Uint8Array {
  validateOptions(options);
  const date = options.modified ?? new Date(0);
  const { root, fileList } = buildTree(options.files);
  assignNames(root);
  const orderP = bfs(root, false);
  const orderJ = bfs(root, true);
  orderP.forEach((d, i) => {
    d.numberP = i + 1;
  });
  orderJ.forEach((d, i) => {
    d.numberJ = i + 1;
  });
  if (orderP.length > 65535) invalid("Too many directories for an ISO 9660 path table");

  // Sizes first (record lengths do not depend on locations), then locations.
  const erSector = 19;
  for (const d of orderP) d.sizeP = layRecords(dirRecords(d, false, erSector, date).map(recordLength)).size;
  for (const d of orderJ) d.sizeJ = layRecords(dirRecords(d, true, erSector, date).map(recordLength)).size;
  const ptSizeP = pathTableSize(orderP, false);
  const ptSizeJ = pathTableSize(orderJ, true);
  const sectors = (bytes: number) => Math.max(1, Math.ceil(bytes / SECTOR));

  let next = erSector + 1;
  const ptLP = next;
  next += sectors(ptSizeP);
  const ptMP = next;
  next += sectors(ptSizeP);
  const ptLJ = next;
  next += sectors(ptSizeJ);
  const ptMJ = next;
  next += sectors(ptSizeJ);
  for (const d of orderP) {
    d.extentP = next;
    next += d.sizeP / SECTOR;
  }
  for (const d of orderJ) {
    d.extentJ = next;
    next += d.sizeJ / SECTOR;
  }
  for (const f of fileList) {
    f.extent = f.data.length === 0 ? 0 : next;
    next += Math.ceil(f.data.length / SECTOR);
  }
  const totalSectors = next;
  if (totalSectors * SECTOR > 0xffff_ffff) invalid("The image would be larger than 4 GiB");

  const image = new Uint8Array(totalSectors * SECTOR);
  const w = new Writer(image);

  // Volume descriptors.
  const descriptor = (sector: number, joliet: boolean) => {
    const o = sector * SECTOR;
    w.u8(o, joliet ? 2 : 1);
    w.bytes(o + 1, ascii("CD001"));
    w.u8(o + 6, 1);
    w.text(o + 8, 32, "", joliet);
    w.text(o + 40, 32, options.volumeId, joliet);
    w.both32(o + 80, totalSectors);
    if (joliet) w.bytes(o + 88, Uint8Array.of(0x25, 0x2f, 0x45)); // UCS-2 level 3
    w.both16(o + 120, 1);
    w.both16(o + 124, 1);
    w.both16(o + 128, SECTOR);
    w.both32(o + 132, joliet ? ptSizeJ : ptSizeP);
    w.le32(o + 140, joliet ? ptLJ : ptLP);
    w.be32(o + 148, joliet ? ptMJ : ptMP);
    writeRecord(
      w,
      o + 156,
      {
        id: Uint8Array.of(0),
        extent: joliet ? root.extentJ : root.extentP,
        size: joliet ? root.sizeJ : root.sizeP,
        dir: true,
        systemUse: [],
      },
      date,
    );
    w.text(o + 190, 128, "", joliet); // volume set
    w.text(o + 318, 128, "", joliet); // publisher
    w.text(o + 446, 128, "", joliet); // data preparer
    w.text(o + 574, 128, "HEXCLAVE QEMU-CORE", joliet); // application
    w.text(o + 702, 37, "", joliet);
    w.text(o + 739, 37, "", joliet);
    w.text(o + 776, 37, "", joliet);
    w.bytes(o + 813, volumeDate(date));
    w.bytes(o + 830, volumeDate(date));
    w.bytes(o + 847, ascii("0000000000000000"));
    w.bytes(o + 864, volumeDate(date));
    w.u8(o + 881, 1);
  };
  descriptor(16, false);
  descriptor(17, true);
  w.u8(18 * SECTOR, 255);
  w.bytes(18 * SECTOR + 1, ascii("CD001"));
  w.u8(18 * SECTOR + 6, 1);
  w.bytes(erSector * SECTOR, Uint8Array.from(er()));

  writePathTable(w, ptLP * SECTOR, orderP, false, false);
  writePathTable(w, ptMP * SECTOR, orderP, false, true);
  writePathTable(w, ptLJ * SECTOR, orderJ, true, false);
  writePathTable(w, ptMJ * SECTOR, orderJ, true, true);

  for (const joliet of [false, true]) {
    for (const d of joliet ? orderJ : orderP) {
      const records = dirRecords(d, joliet, erSector, date);
      const { offsets } = layRecords(records.map(recordLength));
      const base = (joliet ? d.extentJ : d.extentP) * SECTOR;
      records.forEach((r, i) => {
        writeRecord(w, base + offsets[i]!, r, date);
      });
    }
  }
  for (const f of fileList) if (f.data.length > 0) image.set(f.data, f.extent * SECTOR);
  return image;
}

/** {@link createIso}, written to `path` through a temporary file and a rename (nothing half-written on failure). */
export async function writeIso(path: string, options: CreateIsoOptions): Promise<void> {
  const image = createIso(options);
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(temp, image);
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    throw cause;
  }
}
