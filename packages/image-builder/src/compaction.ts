/**
 * Compaction: `qemu-img convert -O qcow2 -c -o compression_type=zstd` (zlib
 * selectable for old consumers) of the provisioned disk, flattening its
 * backing chain, to a temp name renamed into place (qemu-core's convert).
 * Free space the guest trimmed is zero clusters and costs nothing.
 */
import { stat } from "node:fs/promises";
import { HexclaveError, qemuImg } from "@hexclave/qemu-core";
import { imageBuilderErrors } from "./errors-data.js";

export type Compression = "zstd" | "zlib" | "none";
export const COMPRESSIONS: readonly Compression[] = ["zstd", "zlib", "none"];

export type CompactionEvent = { readonly type: "compaction-progress"; readonly percent: number };

export interface CompactOptions {
  readonly src: string;
  readonly dst: string;
  /** Default zstd. */
  readonly compression?: Compression | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: CompactionEvent) => void) | undefined;
}

export interface CompactResult {
  readonly file: string;
  readonly size: number;
  readonly virtualSize: number;
  readonly compression: Compression;
  readonly durationMs: number;
}

export async function compactImage(options: CompactOptions): Promise<CompactResult> {
  const compression = options.compression ?? "zstd";
  const started = Date.now();
  try {
    await qemuImg.convert({
      src: options.src,
      dst: options.dst,
      srcFormat: "qcow2",
      dstFormat: "qcow2",
      ...(compression === "none" ? {} : { compress: true, compressionType: compression }),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent
        ? {
            onProgress: (e: { percent: number }) =>
              options.onEvent?.({ type: "compaction-progress", percent: e.percent }),
          }
        : {}),
    });
  } catch (error) {
    if (HexclaveError.is(error) && error.code === "ABORTED") throw error;
    if (options.signal?.aborted) throw imageBuilderErrors.create("ABORTED", "Compaction aborted", { cause: error });
    throw imageBuilderErrors.create(
      "COMPACTION_FAILED",
      `Compacting ${options.src} to ${options.dst} failed: ${(error as Error).message}`,
      {
        cause: error,
        details: { src: options.src, dst: options.dst },
      },
    );
  }
  const info = await qemuImg.info(options.dst);
  return {
    file: options.dst,
    size: (await stat(options.dst)).size,
    virtualSize: info.virtualSize,
    compression,
    durationMs: Date.now() - started,
  };
}
