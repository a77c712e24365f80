/**
 * A qcow2 image's internal snapshots, read from the file itself: the header's
 * snapshot count and table offset, then the table (docs/interop/qcow2.txt in
 * QEMU's tree, "Snapshots"). A start and a reset list the overlay's snapshots
 * (is `fresh` there, is it disk-only); `qemu-img info` for that is a process
 * start and, in a command that runs no other, execa's load: tens of ms each.
 *
 * The reader takes no lock (`qemu-img info -U` neither) and refuses what it
 * does not fully understand: not qcow2, a version other than 2 or 3, an
 * encrypted image, a table that runs past the end of the file or entries
 * that do not fit it. Then it returns undefined and the caller asks qemu-img.
 */
import { open } from "node:fs/promises";
import type { QemuImgSnapshot } from "./qemu-img-info.js";

const MAGIC = 0x514649fb; // "QFI\xfb"
/** Bytes of the header read: up to `snapshots_offset` (bytes 64-71). */
const HEADER_BYTES = 72;
/** The fixed part of a table entry, before its extra data, id and name. */
const ENTRY_FIXED_BYTES = 40;
/** qcow2's own limits: at most 65536 snapshots, a table of at most 64 MiB. */
const MAX_SNAPSHOTS = 65536;
const MAX_TABLE_BYTES = 64 * 1024 * 1024;

/** Where the snapshot table is, from the first 72 bytes of the file; undefined when this reader cannot use it. Pure. */
export function qcow2SnapshotTableOf(header: Uint8Array): { count: number; offset: number } | undefined {
  if (header.length < HEADER_BYTES) return undefined;
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  if (view.getUint32(0) !== MAGIC) return undefined;
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) return undefined;
  if (view.getUint32(32) !== 0) return undefined; // crypt_method: encrypted images are qemu-img's business
  const count = view.getUint32(60);
  const offset = Number(view.getBigUint64(64));
  if (count > MAX_SNAPSHOTS || !Number.isSafeInteger(offset)) return undefined;
  return { count, offset };
}

/**
 * Parses `count` table entries from `table` (the bytes from the table's offset on). Undefined when they do not fit
 * in it. Pure. The fields are those `qemu-img info` reports: the 64-bit VM state size of the extra data when present.
 */
export function parseQcow2SnapshotTable(table: Uint8Array, count: number): QemuImgSnapshot[] | undefined {
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const text = new TextDecoder("utf-8", { fatal: true });
  const snapshots: QemuImgSnapshot[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_FIXED_BYTES > table.length) return undefined;
    const idBytes = view.getUint16(at + 12);
    const nameBytes = view.getUint16(at + 14);
    const dateSec = view.getUint32(at + 16);
    const dateNsec = view.getUint32(at + 20);
    const vmClockNs = Number(view.getBigUint64(at + 24));
    const extraBytes = view.getUint32(at + 36);
    const idAt = at + ENTRY_FIXED_BYTES + extraBytes;
    const end = idAt + idBytes + nameBytes;
    if (end > table.length) return undefined;
    const vmStateSize = extraBytes >= 8 ? Number(view.getBigUint64(at + ENTRY_FIXED_BYTES)) : view.getUint32(at + 32);
    let id: string;
    let name: string;
    try {
      id = text.decode(table.subarray(idAt, idAt + idBytes));
      name = text.decode(table.subarray(idAt + idBytes, end));
    } catch {
      return undefined;
    }
    snapshots.push({
      id,
      name,
      vmStateSize,
      date: new Date(dateSec * 1000 + Math.floor(dateNsec / 1e6)),
      vmClockNs,
    });
    at = Math.ceil(end / 8) * 8; // each entry is padded to a multiple of 8 bytes
  }
  return snapshots;
}

/** The snapshots of the qcow2 image `file`, or undefined when this reader cannot tell (see the module doc). */
export async function readQcow2Snapshots(file: string): Promise<QemuImgSnapshot[] | undefined> {
  const handle = await open(file, "r");
  try {
    const header = new Uint8Array(HEADER_BYTES);
    if ((await handle.read(header, 0, HEADER_BYTES, 0)).bytesRead < HEADER_BYTES) return undefined;
    const where = qcow2SnapshotTableOf(header);
    if (where === undefined) return undefined;
    if (where.count === 0) return [];
    const available = Math.min(MAX_TABLE_BYTES, (await handle.stat()).size - where.offset);
    if (where.offset <= 0 || available <= 0) return undefined;
    // Entries are about 100 bytes (a name of a few dozen): read that much, more only when they do not fit.
    for (
      let length = Math.min(available, Math.max(4096, where.count * 256));
      ;
      length = Math.min(available, length * 4)
    ) {
      const table = new Uint8Array(length);
      const { bytesRead } = await handle.read(table, 0, length, where.offset);
      const parsed = parseQcow2SnapshotTable(table.subarray(0, bytesRead), where.count);
      if (parsed !== undefined || length >= available) return parsed;
    }
  } finally {
    await handle.close();
  }
}
