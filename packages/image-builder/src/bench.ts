/**
 * `benchSelftestBuild()`: the numbers `pnpm bench` reports for the self-test
 * build: time per stage, and the image size with zstd against zlib against
 * no compression, and against no zeroing of free space (a second warm boot
 * without fstrim, skipped with `noTrimRun: false`).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Arch, findQemuBinary, probeAccelerator } from "@hexclave/qemu-core";
import { bootstrapBaseImage } from "./bootstrap/bootstrap-base.js";
import { removeTree } from "./bootstrap/tree-cleanup.js";
import { defaultCacheDir } from "./cache-dir.js";
import { type Compression, compactImage } from "./compaction.js";
import { type BuildEvent, buildProfilePayload } from "./pipeline.js";
import { loadProfile } from "./profiles.js";
import { warmBoot } from "./warm-boot/warm-boot.js";

export interface SizeRow {
  readonly variant: "zstd" | "zlib" | "none" | "zstd, no zeroing";
  readonly bytes: number;
  readonly compactMs: number;
  /** bytes / bytes of the zstd image. */
  readonly ratioToZstd: number;
}

export interface SelftestBenchResult {
  readonly arch: Arch;
  readonly accel: string;
  /** Milliseconds: payload, base, warm-boot, and each guest stage from QEMU's start (`guest:<stage>`). */
  readonly stages: Readonly<Record<string, number>>;
  readonly baseBytes: number;
  readonly payloadBytes: number;
  readonly sizes: readonly SizeRow[];
}

export interface BenchSelftestOptions {
  readonly cacheDir?: string | undefined;
  /** Where the accelerator probe caches its answer; default `cacheDir`. */
  readonly acceleratorCacheDir?: string | undefined;
  readonly cpus?: number | undefined;
  readonly memoryMb?: number | undefined;
  /** Run the second warm boot without trimming (default true: it doubles the time). */
  readonly noTrimRun?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: BuildEvent) => void) | undefined;
}

export async function benchSelftestBuild(options: BenchSelftestOptions = {}): Promise<SelftestBenchResult> {
  const arch: Arch = "amd64";
  const emit = options.onEvent ?? (() => {});
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const profile = await loadProfile("selftest");
  const qemu = await findQemuBinary(arch);
  const { accel } = await probeAccelerator({
    arch,
    qemuBinary: qemu.path,
    signal: options.signal,
    cacheDir: options.acceleratorCacheDir ?? cacheDir,
  });
  const stages: Record<string, number> = {};
  const time = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await run();
    stages[name] = Date.now() - started;
    return result;
  };
  const common = { outDir: tmpdir(), arch, signal: options.signal, onEvent: emit } as const;
  const payload = await time("payload", () => buildProfilePayload(arch, profile, cacheDir, common, emit));
  const base = await time("base", () =>
    bootstrapBaseImage({ arch, cacheDir, signal: options.signal, onEvent: (e) => emit({ ...e, arch }) }),
  );
  const work = await mkdtemp(join(tmpdir(), "hexclave-bench-"));
  try {
    const boot = (trim: boolean, dir: string) =>
      warmBoot({
        arch,
        base: {
          image: base.image,
          boot: { kind: "kernel", kernel: base.kernel, initrd: base.initrd, append: base.append },
        },
        payload: { tarball: payload.tarball, imageId: payload.imageId, tag: payload.tag },
        services: profile.services,
        workDir: join(work, dir),
        accel,
        qemuBinary: qemu.path,
        cpus: options.cpus ?? 2,
        memoryMb: options.memoryMb ?? 3072,
        trim,
        signal: options.signal,
        onEvent: (e) => emit({ ...e, arch }),
      });
    const warm = await time("warm-boot", () => boot(true, "vm"));
    for (const [name, ms] of Object.entries(warm.stages)) stages[`guest:${name}`] = ms;
    const rows: Omit<SizeRow, "ratioToZstd">[] = [];
    for (const compression of ["zstd", "zlib", "none"] as Compression[]) {
      const out = await compactImage({
        src: warm.disk,
        dst: join(work, `${compression}.qcow2`),
        compression,
        signal: options.signal,
      });
      if (compression === "zstd") stages.compaction = out.durationMs;
      rows.push({ variant: compression, bytes: out.size, compactMs: out.durationMs });
      await rm(out.file, { force: true });
    }
    if (options.noTrimRun !== false) {
      await rm(join(work, "vm"), { recursive: true, force: true });
      const untrimmed = await boot(false, "vm-no-trim");
      const out = await compactImage({
        src: untrimmed.disk,
        dst: join(work, "no-trim.qcow2"),
        compression: "zstd",
        signal: options.signal,
      });
      rows.push({ variant: "zstd, no zeroing", bytes: out.size, compactMs: out.durationMs });
    }
    const zstd = rows[0]?.bytes ?? 1;
    return {
      arch,
      accel,
      stages,
      baseBytes: base.size,
      payloadBytes: payload.size,
      sizes: rows.map((r) => ({ ...r, ratioToZstd: Math.round((r.bytes / zstd) * 100) / 100 })),
    };
  } finally {
    await removeTree(work).catch(() => {});
  }
}
