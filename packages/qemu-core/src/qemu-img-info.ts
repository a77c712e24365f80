/**
 * Pure parsing of `qemu-img info --output=json` (and of QMP's `ImageInfo`,
 * which has the same shape, as found in `query-block`'s `inserted.image`).
 */
import { qemuErrors } from "./errors-data.js";

/** One internal snapshot of a qcow2 image. */
export interface QemuImgSnapshot {
  readonly id: string;
  readonly name: string;
  /** Size of the saved VM state (RAM, devices); 0 for a disk-only snapshot. */
  readonly vmStateSize: number;
  /** When it was taken. */
  readonly date: Date;
  /** Guest clock at the snapshot, in nanoseconds. */
  readonly vmClockNs: number;
}

/** Typed result of `qemu-img info`. */
export interface QemuImgInfo {
  readonly filename: string;
  /** `qcow2`, `raw`, ... */
  readonly format: string;
  /** Size the guest sees, in bytes. */
  readonly virtualSize: number;
  /** Bytes used on the host file system (absent for some protocols). */
  readonly actualSize?: number;
  readonly clusterSize?: number;
  /** Backing file as written in the image header. */
  readonly backingFile?: string;
  /** Backing file resolved to a full path. */
  readonly fullBackingFile?: string;
  readonly backingFormat?: string;
  readonly snapshots: readonly QemuImgSnapshot[];
  /** qcow2 compression type (`zlib` or `zstd`). */
  readonly compressionType?: string;
  /** True when the image was not closed cleanly (qcow2 lazy refcounts). */
  readonly dirty: boolean;
  /** qcow2 marked corrupt by QEMU. */
  readonly corrupt?: boolean;
  /** The raw JSON, for anything not mapped above. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Parses `qemu-img info --output=json` text (one image; the first of a `--backing-chain` array). */
export function parseQemuImgInfo(json: string | Record<string, unknown>): QemuImgInfo {
  let value: unknown;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch (cause) {
      throw qemuErrors.create("QEMU_IMG_FAILED", `qemu-img info output is not JSON: ${json.slice(0, 200)}`, {
        cause,
        hint: "Run qemu-img info --output=json on the file by hand.",
      });
    }
  } else {
    value = json;
  }
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== "object" || value === null) {
    throw qemuErrors.create("QEMU_IMG_FAILED", "qemu-img info output is not an object");
  }
  const o = value as Record<string, unknown>;
  const format = str(o.format);
  const virtualSize = num(o["virtual-size"]);
  if (format === undefined || virtualSize === undefined) {
    throw qemuErrors.create("QEMU_IMG_FAILED", "qemu-img info output lacks format or virtual-size", {
      details: { keys: Object.keys(o) },
    });
  }
  const specific = o["format-specific"] as { type?: unknown; data?: Record<string, unknown> } | undefined;
  const data = specific?.data ?? {};
  const snapshots = Array.isArray(o.snapshots) ? o.snapshots.map(parseSnapshot) : [];
  const info: {
    -readonly [K in keyof QemuImgInfo]: QemuImgInfo[K];
  } = {
    filename: str(o.filename) ?? "",
    format,
    virtualSize,
    snapshots,
    dirty: o["dirty-flag"] === true,
    raw: o,
  };
  setIf(info, "actualSize", num(o["actual-size"]));
  setIf(info, "clusterSize", num(o["cluster-size"]));
  setIf(info, "backingFile", str(o["backing-filename"]));
  setIf(info, "fullBackingFile", str(o["full-backing-filename"]));
  setIf(info, "backingFormat", str(o["backing-filename-format"]));
  setIf(info, "compressionType", str(data["compression-type"]));
  if (typeof data.corrupt === "boolean") info.corrupt = data.corrupt;
  return info;
}

function parseSnapshot(value: unknown): QemuImgSnapshot {
  const s = (value ?? {}) as Record<string, unknown>;
  const sec = num(s["date-sec"]) ?? 0;
  const nsec = num(s["date-nsec"]) ?? 0;
  return {
    id: str(s.id) ?? "",
    name: str(s.name) ?? "",
    vmStateSize: num(s["vm-state-size"]) ?? 0,
    date: new Date(sec * 1000 + Math.floor(nsec / 1e6)),
    vmClockNs: (num(s["vm-clock-sec"]) ?? 0) * 1e9 + (num(s["vm-clock-nsec"]) ?? 0),
  };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
function setIf<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
