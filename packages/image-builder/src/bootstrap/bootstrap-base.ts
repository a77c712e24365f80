/**
 * `bootstrapBaseImage()`: the offline base. mmdebstrap builds the Debian 13
 * tree from a mirror; the tree is configured offline (no chroot needed);
 * kernel and initrd are copied out for direct kernel boot; `mkfs.ext4 -d`
 * turns the tree into a whole-disk ext4 file (no partition table, no loop
 * device, no mount), which `qemu-img convert` makes a qcow2.
 *
 * Cached under `<cacheDir>/bootstrap/<arch>-<recipe hash>/`. The work happens
 * in a temporary sibling directory renamed into place at the end, so an
 * aborted or failed build leaves nothing that looks finished.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { type Arch, type HexclaveError, qemuImg } from "@hexclave/qemu-core";
import { execa } from "execa";
import { defaultCacheDir } from "../cache-dir.js";
import { imageBuilderErrors } from "../errors-data.js";
import { ensureForeignArch } from "./foreign-arch.js";
import { mmdebstrapEnv } from "./mmdebstrap-env.js";
import { followMmdebstrapProgress, type MmdebstrapProgressEvent, mmdebstrapFailureHint } from "./mmdebstrap-output.js";
import {
  type BootstrapRecipe,
  baseDiskBytes,
  bootstrapMmdebstrapArgs,
  bootstrapRecipe,
  kernelCommandLine,
  parseDpkgQuery,
  recipeHash,
} from "./recipe.js";
import { removeTree } from "./tree-cleanup.js";

export type BootstrapEvent =
  | { readonly type: "bootstrap-cached"; readonly dir: string; readonly recipeHash: string }
  | { readonly type: "bootstrap-started"; readonly arch: Arch; readonly recipeHash: string; readonly mirror: string }
  | { readonly type: "bootstrap-log"; readonly line: string }
  | MmdebstrapProgressEvent
  | {
      readonly type: "bootstrap-step";
      readonly step: "mmdebstrap" | "configure" | "kernel" | "mkfs" | "convert";
      readonly durationMs: number;
    }
  | { readonly type: "bootstrap-done"; readonly dir: string; readonly durationMs: number; readonly size: number };

export interface BootstrapPackage {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
}

/** `base.json` in the cache directory: what the manifest records about the base. */
export interface BootstrapBase {
  readonly kind: "bootstrap";
  readonly arch: Arch;
  readonly recipeHash: string;
  readonly suite: string;
  readonly mirror: string;
  /** Absolute paths. */
  readonly image: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion: string;
  readonly append: string;
  readonly packages: readonly BootstrapPackage[];
  /** Bytes of the qcow2 base. */
  readonly size: number;
  readonly builtAt: string;
  readonly durationMs: number;
}

export interface BootstrapOptions {
  readonly arch: Arch;
  readonly mirror?: string | undefined;
  /** Default {@link defaultCacheDir}. */
  readonly cacheDir?: string | undefined;
  /** Rebuild even when a cached base exists. */
  readonly force?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: BootstrapEvent) => void) | undefined;
}

export const BASE_RECORD_FILE = "base.json";
/** dpkg-query's own `${field}` syntax (not a template string). */
const DPKG_QUERY_FORMAT = ["Package", "Version", "Architecture"].map((f) => `\${${f}}`).join("\t") + "\n";

/** The cache directory of a recipe. */
export function bootstrapDir(cacheDir: string, recipe: BootstrapRecipe): string {
  return join(cacheDir, "bootstrap", `${recipe.arch}-${recipeHash(recipe).slice(0, 16)}`);
}

async function readBase(dir: string): Promise<BootstrapBase | undefined> {
  try {
    const base = JSON.parse(await readFile(join(dir, BASE_RECORD_FILE), "utf8")) as BootstrapBase;
    await Promise.all([stat(base.image), stat(base.kernel), stat(base.initrd)]);
    return base;
  } catch {
    return undefined;
  }
}

function failed(
  step: string,
  message: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
  hint?: string,
): HexclaveError {
  return imageBuilderErrors.create("BOOTSTRAP_FAILED", `Bootstrap step ${step} failed: ${message}`, {
    cause,
    hint,
    details: { step, ...details },
  });
}

/** Runs a child, streaming its output lines as events; keeps the last lines for the error. */
async function runStreaming(
  step: string,
  file: string,
  args: readonly string[],
  onLine: (line: string) => void,
  signal: AbortSignal | undefined,
  hintFor: (tail: readonly string[]) => string | undefined = () => undefined,
): Promise<void> {
  const child = execa(file, args, {
    reject: false,
    ...(signal ? { cancelSignal: signal } : {}),
    forceKillAfterDelay: 10_000,
    stdin: "ignore",
    env: mmdebstrapEnv(),
  });
  const tail: string[] = [];
  const follow = (stream: NodeJS.ReadableStream | null) =>
    stream === null
      ? Promise.resolve()
      : (async () => {
          for await (const line of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
            tail.push(line);
            if (tail.length > 30) tail.shift();
            onLine(line);
          }
        })();
  const [result] = await Promise.all([child, follow(child.stdout), follow(child.stderr)]);
  if (signal?.aborted)
    throw imageBuilderErrors.create("ABORTED", `Bootstrap aborted during ${step}`, { cause: signal.reason });
  if (result.exitCode !== 0) {
    const what = result.failed && result.exitCode === undefined ? result.shortMessage : `exit code ${result.exitCode}`;
    throw failed(
      step,
      `${what}; last lines:\n${tail.join("\n")}`,
      undefined,
      { exitCode: result.exitCode },
      hintFor(tail),
    );
  }
}

async function treeBytes(dir: string): Promise<number> {
  const r = await execa("du", ["-s", "--block-size=1", "-x", dir], { reject: false });
  const n = Number.parseInt(r.stdout.split(/\s/)[0] ?? "", 10);
  if (!Number.isFinite(n)) throw failed("mkfs", `cannot measure ${dir}: ${r.stderr}`);
  return n;
}

/** Applies the recipe's offline configuration to the tree (files, enabled and masked units). */
export async function configureTree(root: string, recipe: BootstrapRecipe): Promise<void> {
  const config = recipe.guestConfig;
  for (const path of config.remove) await rm(join(root, path), { force: true });
  for (const file of config.files) {
    const target = join(root, file.path);
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { force: true });
    await writeFile(target, file.content, { mode: file.mode ?? 0o644 });
  }
  await writeFile(join(root, "etc/resolv.conf"), "nameserver 10.0.2.3\n");
  if (config.enable.length > 0) {
    const r = await execa("systemctl", ["--root", root, "enable", ...config.enable], { reject: false });
    if (r.exitCode !== 0) throw failed("configure", `systemctl --root enable: ${r.stderr}`);
  }
  const unitDir = join(root, "etc/systemd/system");
  await mkdir(unitDir, { recursive: true });
  for (const unit of config.mask) {
    const link = join(unitDir, unit);
    await unlink(link).catch(() => {});
    await symlink("/dev/null", link);
  }
}

/** Finds `/boot/vmlinuz-<v>` and `/boot/initrd.img-<v>` in the tree. */
export async function findKernel(root: string): Promise<{ version: string; kernel: string; initrd: string }> {
  const names = await readdir(join(root, "boot")).catch(() => [] as string[]);
  const kernels = names.filter((n) => n.startsWith("vmlinuz-")).sort();
  const kernelName = kernels.at(-1);
  if (kernelName === undefined) throw failed("kernel", `no /boot/vmlinuz-* in ${root} (is linux-image installed?)`);
  const version = kernelName.slice("vmlinuz-".length);
  const initrd = join(root, "boot", `initrd.img-${version}`);
  if (
    !(await stat(initrd).then(
      () => true,
      () => false,
    ))
  )
    throw failed("kernel", `no /boot/initrd.img-${version} in ${root} (initramfs-tools did not run?)`);
  return { version, kernel: join(root, "boot", kernelName), initrd };
}

/** Lists the initrd inside the tree (`lsinitramfs` in a chroot) and checks the root disk's modules are there. */
async function checkInitrd(root: string, version: string, modules: readonly string[]): Promise<void> {
  const r = await execa("chroot", [root, "lsinitramfs", `/boot/initrd.img-${version}`], { reject: false });
  if (r.exitCode !== 0) throw failed("kernel", `lsinitramfs failed: ${r.stderr}`);
  // A driver built into the kernel (Debian: virtio_pci) needs no module in the initrd.
  const builtin = await readFile(join(root, "usr/lib/modules", version, "modules.builtin"), "utf8").catch(() => "");
  const has = (text: string, m: string) => new RegExp(`/${m}\\.ko(\\.[a-z]+)?$`, "m").test(text);
  const missing = modules.filter((m) => !has(r.stdout, m) && !has(builtin, m));
  if (missing.length > 0)
    throw failed(
      "kernel",
      `the initrd lacks the modules ${missing.join(", ")}: the guest could not mount its root disk`,
    );
}

/** Builds (or reuses) the bootstrap base for an arch. */
export async function bootstrapBaseImage(options: BootstrapOptions): Promise<BootstrapBase> {
  const { arch, signal } = options;
  const emit = options.onEvent ?? (() => {});
  const recipe = bootstrapRecipe({ arch, mirror: options.mirror });
  const hash = recipeHash(recipe);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const finalDir = bootstrapDir(cacheDir, recipe);
  signal?.throwIfAborted();
  if (options.force !== true) {
    const cached = await readBase(finalDir);
    if (cached !== undefined) {
      emit({ type: "bootstrap-cached", dir: finalDir, recipeHash: hash });
      return cached;
    }
  }
  const mm = await execa("mmdebstrap", ["--version"], { reject: false });
  if (mm.exitCode !== 0)
    throw imageBuilderErrors.create(
      "MMDEBSTRAP_NOT_FOUND",
      "mmdebstrap is not installed (needed for --base bootstrap)",
    );
  await ensureForeignArch(arch);

  const started = Date.now();
  emit({ type: "bootstrap-started", arch, recipeHash: hash, mirror: recipe.mirror });
  const work = join(dirname(finalDir), `.tmp-${arch}-${randomBytes(6).toString("hex")}`);
  const root = join(work, "root");
  await mkdir(work, { recursive: true });
  try {
    let t = Date.now();
    const step = (s: "mmdebstrap" | "configure" | "kernel" | "mkfs" | "convert") => {
      emit({ type: "bootstrap-step", step: s, durationMs: Date.now() - t });
      t = Date.now();
    };
    const progress = followMmdebstrapProgress(emit);
    await runStreaming(
      "mmdebstrap",
      "mmdebstrap",
      bootstrapMmdebstrapArgs(recipe, root),
      (line) => {
        progress(line);
        emit({ type: "bootstrap-log", line });
      },
      signal,
      (tail) => mmdebstrapFailureHint(tail, arch),
    );
    step("mmdebstrap");

    await configureTree(root, recipe);
    step("configure");

    const kernel = await findKernel(root);
    await checkInitrd(root, kernel.version, recipe.initramfsModules);
    const kernelOut = join(work, "vmlinuz");
    const initrdOut = join(work, "initrd");
    await copyFile(kernel.kernel, kernelOut);
    await copyFile(kernel.initrd, initrdOut);
    const q = await execa("dpkg-query", [`--admindir=${join(root, "var/lib/dpkg")}`, "-W", "-f", DPKG_QUERY_FORMAT], {
      reject: false,
    });
    if (q.exitCode !== 0) throw failed("kernel", `dpkg-query: ${q.stderr}`);
    const packages = parseDpkgQuery(q.stdout);
    step("kernel");

    const raw = join(work, "base.raw");
    const bytes = baseDiskBytes(await treeBytes(root));
    const mkfs = await execa(
      "mkfs.ext4",
      [
        "-q",
        "-F",
        "-L",
        "root",
        "-E",
        "lazy_itable_init=1,lazy_journal_init=1",
        "-d",
        root,
        raw,
        `${Math.floor(bytes / 1024)}k`,
      ],
      { reject: false, ...(signal ? { cancelSignal: signal } : {}) },
    );
    signal?.throwIfAborted();
    if (mkfs.exitCode !== 0) throw failed("mkfs", mkfs.stderr || mkfs.stdout);
    await removeTree(root);
    step("mkfs");

    const image = join(work, "base.qcow2");
    await qemuImg.convert({
      src: raw,
      dst: image,
      srcFormat: "raw",
      dstFormat: "qcow2",
      ...(signal ? { signal } : {}),
    });
    await rm(raw, { force: true });
    step("convert");

    const size = (await stat(image)).size;
    const durationMs = Date.now() - started;
    const record = (dir: string): BootstrapBase => ({
      kind: "bootstrap",
      arch,
      recipeHash: hash,
      suite: recipe.suite,
      mirror: recipe.mirror,
      image: join(dir, "base.qcow2"),
      kernel: join(dir, "vmlinuz"),
      initrd: join(dir, "initrd"),
      kernelVersion: kernel.version,
      append: kernelCommandLine(arch),
      packages,
      size,
      builtAt: new Date().toISOString(),
      durationMs,
    });
    await writeFile(join(work, BASE_RECORD_FILE), `${JSON.stringify(record(finalDir), null, 2)}\n`);
    signal?.throwIfAborted();
    await removeTree(finalDir);
    await rename(work, finalDir);
    emit({ type: "bootstrap-done", dir: finalDir, durationMs, size });
    return record(finalDir);
  } catch (error) {
    await removeTree(work).catch(() => {});
    if (signal?.aborted && !imageBuilderErrors.is(error, "ABORTED"))
      throw imageBuilderErrors.create("ABORTED", "Bootstrap aborted", { cause: signal.reason });
    throw error;
  }
}
