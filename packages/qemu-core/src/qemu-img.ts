/**
 * `qemu-img` behind an injectable {@link CommandRunner}: overlays, info,
 * check, resize, convert (with compression type), internal snapshots.
 * Every failure is `QEMU_IMG_FAILED` with qemu-img's stderr; a missing input
 * file is `IMAGE_NOT_FOUND`. Outputs are written to a temp name then renamed.
 */
import { randomBytes } from "node:crypto";
import { access, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { type CommandResult, type CommandRunner, execaRunner } from "./command-runner.js";
import { qemuErrors } from "./errors-data.js";
import { readQcow2Snapshots } from "./qcow2-snapshots.js";
import { parseQemuImgInfo, type QemuImgInfo, type QemuImgSnapshot } from "./qemu-img-info.js";

export interface QemuImgOptions {
  /** Runs qemu-img; defaults to {@link execaRunner}. */
  readonly runner?: CommandRunner;
  /** The qemu-img binary; default `qemu-img` from PATH. */
  readonly binary?: string;
}

export type ImageFormat = "qcow2" | "raw";

export interface CreateOverlayOptions {
  /** The overlay to create (qcow2). */
  readonly file: string;
  /** Its backing file, stored as an absolute path. */
  readonly backingFile: string;
  /** Stated explicitly (`-F`): QEMU never probes a backing format. */
  readonly backingFormat: ImageFormat;
  /** Virtual size of the overlay (`10G`, bytes); default the backing file's. */
  readonly size?: string | number;
  readonly signal?: AbortSignal;
}

export interface QemuImgCheckResult {
  readonly filename: string;
  readonly format: string;
  /** Corruptions found (exit code 2). */
  readonly corruptions: number;
  /** Leaked clusters (exit code 3): harmless, repairable. */
  readonly leaks: number;
  readonly checkErrors: number;
  readonly ok: boolean;
  readonly raw: Readonly<Record<string, unknown>>;
}

export type ConvertProgressEvent = { readonly type: "convert-progress"; readonly percent: number };

export interface ConvertOptions {
  readonly src: string;
  readonly dst: string;
  readonly srcFormat: ImageFormat;
  readonly dstFormat: ImageFormat;
  /** Compress clusters (`-c`, qcow2 only). */
  readonly compress?: boolean;
  /** qcow2 compression type (`-o compression_type=`); zstd is faster and smaller. */
  readonly compressionType?: "zstd" | "zlib";
  readonly signal?: AbortSignal;
  /** Progress in percent (parsed from `qemu-img convert -p`; only with the default runner). */
  readonly onProgress?: (event: ConvertProgressEvent) => void;
}

export interface QemuImgInfoOptions {
  /** `-U`: read an image that a running QEMU holds open. */
  readonly forceShare?: boolean;
  readonly signal?: AbortSignal;
}

/** The qemu-img operations. Create one with {@link createQemuImg}, or use {@link qemuImg}. */
export interface QemuImg {
  /** `qemu-img create -f qcow2 -b <abs backing> -F <format> file [size]` (temp name, then rename). */
  createOverlay(options: CreateOverlayOptions): Promise<void>;
  /** `qemu-img create -f <format> file size`. */
  create(options: { file: string; format: ImageFormat; size: string | number; signal?: AbortSignal }): Promise<void>;
  /** `qemu-img info --output=json`, typed. */
  info(file: string, options?: QemuImgInfoOptions): Promise<QemuImgInfo>;
  /** `qemu-img check --output=json`: corruptions and leaks (does not repair). */
  check(file: string, options?: { signal?: AbortSignal }): Promise<QemuImgCheckResult>;
  /** `qemu-img resize file size` (`+1G`, `20G`, bytes). */
  resize(file: string, size: string | number, options?: { signal?: AbortSignal; format?: ImageFormat }): Promise<void>;
  /** `qemu-img convert` to a temp name next to `dst`, renamed on success; nothing is left on failure or abort. */
  convert(options: ConvertOptions): Promise<void>;
  /** Internal snapshots of a qcow2 image: read from its snapshot table (`qcow2-snapshots.ts`), else `qemu-img info`. */
  snapshotList(file: string, options?: QemuImgInfoOptions): Promise<readonly QemuImgSnapshot[]>;
  /** `qemu-img snapshot -d name file` (the image must not be in use). */
  snapshotDelete(file: string, name: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** `qemu-img snapshot -c name file` (disk-only; the image must not be in use). */
  snapshotCreate(file: string, name: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Reverts the image to internal snapshot `name` (`qemu-img snapshot -a`); the image must not be in use. */
  snapshotApply(file: string, name: string, options?: { signal?: AbortSignal }): Promise<void>;
}

/** Builds a {@link QemuImg} over a runner (inject a fake runner in unit tests). */
export function createQemuImg(options: QemuImgOptions = {}): QemuImg {
  const runner = options.runner ?? execaRunner;
  const binary = options.binary ?? "qemu-img";
  const customRunner = options.runner !== undefined;

  async function run(args: string[], signal: AbortSignal | undefined, okCodes: readonly number[] = [0]) {
    const result = await runner(binary, args, signal ? { signal } : {});
    if (result.exitCode === null || !okCodes.includes(result.exitCode)) throw imgFailed(binary, args, result);
    return result;
  }

  async function mustExist(file: string, what: string): Promise<void> {
    try {
      await access(file);
    } catch {
      throw qemuErrors.create("IMAGE_NOT_FOUND", `${what} ${file} does not exist`, { details: { file } });
    }
  }

  const api: QemuImg = {
    async createOverlay(o) {
      requireString(o.file, "file");
      requireString(o.backingFile, "backingFile");
      requireFormat(o.backingFormat, "backingFormat");
      const backing = resolve(o.backingFile);
      await mustExist(backing, "Backing file");
      const tmp = tempName(o.file);
      const args = ["create", "-q", "-f", "qcow2", "-b", backing, "-F", o.backingFormat, tmp];
      if (o.size !== undefined) args.push(String(o.size));
      try {
        await run(args, o.signal);
        await rename(tmp, o.file);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },

    async create(o) {
      requireString(o.file, "file");
      requireFormat(o.format, "format");
      const tmp = tempName(o.file);
      try {
        await run(["create", "-q", "-f", o.format, tmp, String(o.size)], o.signal);
        await rename(tmp, o.file);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },

    async info(file, o = {}) {
      requireString(file, "file");
      await mustExist(file, "Image");
      const args = ["info", "--output=json", ...(o.forceShare ? ["-U"] : []), file];
      const result = await run(args, o.signal);
      return parseQemuImgInfo(result.stdout);
    },

    async check(file, o = {}) {
      requireString(file, "file");
      await mustExist(file, "Image");
      const args = ["check", "--output=json", file];
      // 0 clean, 2 corruptions, 3 leaks: all produce a report.
      const result = await run(args, o.signal, [0, 2, 3]);
      let raw: Record<string, unknown>;
      try {
        raw = JSON.parse(result.stdout) as Record<string, unknown>;
      } catch (cause) {
        throw qemuErrors.create("QEMU_IMG_FAILED", `qemu-img check printed no JSON for ${file}`, {
          cause,
          details: { stderr: result.stderr },
        });
      }
      const n = (k: string) => (typeof raw[k] === "number" ? (raw[k] as number) : 0);
      return {
        filename: typeof raw.filename === "string" ? raw.filename : file,
        format: typeof raw.format === "string" ? raw.format : "",
        corruptions: n("corruptions"),
        leaks: n("leaks"),
        checkErrors: n("check-errors"),
        ok: n("corruptions") === 0 && n("check-errors") === 0,
        raw,
      };
    },

    async resize(file, size, o = {}) {
      requireString(file, "file");
      if (!(typeof size === "number" ? Number.isInteger(size) && size > 0 : /^[+-]?\d+[KMGT]?$/i.test(size))) {
        throw qemuErrors.create("INVALID_ARGUMENT", `Invalid size ${JSON.stringify(size)} for ${file}`, {
          hint: "Give bytes, or a number with K, M, G or T (a leading + grows by that much).",
        });
      }
      await mustExist(file, "Image");
      const args = ["resize", "-q", ...(o.format ? ["-f", o.format] : []), file, String(size)];
      // A negative size change would shrink the guest file system.
      if (String(size).startsWith("-")) args.splice(2, 0, "--shrink");
      await run(args, o.signal);
    },

    async convert(o) {
      requireString(o.src, "src");
      requireString(o.dst, "dst");
      requireFormat(o.srcFormat, "srcFormat");
      requireFormat(o.dstFormat, "dstFormat");
      if ((o.compress || o.compressionType) && o.dstFormat !== "qcow2") {
        throw qemuErrors.create("INVALID_ARGUMENT", `Compression needs a qcow2 output, not ${o.dstFormat}`, {
          hint: 'Use dstFormat: "qcow2", or drop compress/compressionType.',
        });
      }
      if (o.compressionType !== undefined && o.compressionType !== "zstd" && o.compressionType !== "zlib") {
        throw qemuErrors.create("INVALID_ARGUMENT", `Unknown compression type ${String(o.compressionType)}`, {
          hint: "Use zstd or zlib.",
        });
      }
      await mustExist(o.src, "Source image");
      const tmp = tempName(o.dst);
      const args = ["convert", "-f", o.srcFormat, "-O", o.dstFormat];
      if (o.compress) args.push("-c");
      if (o.compressionType) args.push("-o", `compression_type=${o.compressionType}`);
      args.push(o.src, tmp);
      try {
        if (o.onProgress && !customRunner) {
          await convertWithProgress(binary, args, o.signal, o.onProgress);
        } else {
          await run(args, o.signal);
        }
        await rename(tmp, o.dst);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },

    async snapshotList(file, o = {}) {
      requireString(file, "file");
      await mustExist(file, "Image");
      // Read from the file's own table (no process); qemu-img for an image that reader does not take.
      return (await readQcow2Snapshots(file)) ?? (await api.info(file, o)).snapshots;
    },

    async snapshotDelete(file, name, o = {}) {
      requireString(file, "file");
      requireString(name, "name");
      await mustExist(file, "Image");
      await run(["snapshot", "-d", name, file], o.signal);
    },

    async snapshotCreate(file, name, o = {}) {
      requireString(file, "file");
      requireString(name, "name");
      await mustExist(file, "Image");
      await run(["snapshot", "-c", name, file], o.signal);
    },

    async snapshotApply(file, name, o = {}) {
      requireString(file, "file");
      requireString(name, "name");
      await mustExist(file, "Image");
      await run(["snapshot", "-a", name, file], o.signal);
    },
  };
  return api;
}

/** qemu-img through {@link execaRunner} and `qemu-img` from PATH. */
export const qemuImg: QemuImg = createQemuImg();

async function convertWithProgress(
  binary: string,
  args: string[],
  signal: AbortSignal | undefined,
  onProgress: (e: ConvertProgressEvent) => void,
): Promise<void> {
  const fullArgs = ["convert", "-p", ...args.slice(1)];
  const { execa } = await import("execa"); // lazily, as in command-runner.ts
  const child = execa(binary, fullArgs, {
    reject: false,
    stdin: "ignore",
    ...(signal ? { cancelSignal: signal } : {}),
    forceKillAfterDelay: 2000,
  });
  let last = -1;
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    for (const m of chunk.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) {
      const percent = Number(m[1]);
      if (percent !== last) {
        last = percent;
        onProgress({ type: "convert-progress", percent });
      }
    }
  });
  const result = await child;
  if (result.isCanceled || signal?.aborted) {
    throw qemuErrors.create("ABORTED", "qemu-img convert was cancelled", { cause: signal?.reason });
  }
  if (result.exitCode !== 0) {
    throw imgFailed(binary, fullArgs, {
      stdout: "",
      stderr: typeof result.stderr === "string" ? result.stderr : "",
      exitCode: result.exitCode ?? null,
    });
  }
}

function imgFailed(binary: string, args: readonly string[], result: CommandResult) {
  const stderr = result.stderr.trim();
  const why =
    result.spawnError !== undefined
      ? `could not be started (${result.spawnError.code})`
      : result.exitCode === null
        ? `was killed by ${result.signal ?? "a signal"}`
        : `exited with code ${result.exitCode}`;
  return qemuErrors.create("QEMU_IMG_FAILED", `qemu-img ${args[0] ?? ""} ${why}${stderr ? `: ${stderr}` : ""}`, {
    ...(result.spawnError ? { hint: "Install QEMU's tools (Debian: qemu-utils; Homebrew: qemu)." } : {}),
    details: { binary, args: [...args], exitCode: result.exitCode, stderr: result.stderr },
  });
}

function tempName(file: string): string {
  return join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

function requireString(value: unknown, name: string): asserts value is string {
  if (typeof value !== "string" || value === "") {
    throw qemuErrors.create(
      "INVALID_ARGUMENT",
      `qemu-img: ${name} must be a non-empty path, got ${JSON.stringify(value)}`,
      {
        hint: `Pass ${name} as a file path.`,
      },
    );
  }
}

function requireFormat(value: unknown, name: string): void {
  if (value !== "qcow2" && value !== "raw") {
    throw qemuErrors.create(
      "INVALID_ARGUMENT",
      `qemu-img: ${name} must be "qcow2" or "raw", got ${JSON.stringify(value)}`,
      {
        hint: "State the image format explicitly; QEMU must never guess it.",
      },
    );
  }
}
