/**
 * The SHARED self-test emulator image for every end-to-end test (vitest
 * globalSetup of the `e2e` project).
 *
 * Builds `amd64 --profile selftest --base bootstrap` ONCE per test run, and
 * only when its inputs changed: the image lives in
 * `<checkout>/.cache/selftest-image/<hash>/`, where the hash covers docker/**,
 * the image-builder sources that shape the image (bootstrap, provisioning,
 * warm boot, compaction, pipeline, payload, self-test base) and the build
 * settings below. A lock keeps two concurrent runs from building it twice.
 *
 * Test files get the directory with {@link selftestImage} (or `inject("selftestImageDir")`):
 *
 * ```ts
 * import { selftestImage } from "../test-support/selftest-image.global-setup.js";
 * const { dir, image, manifest, kernel, initrd } = selftestImage();
 * ```
 *
 * `HEXCLAVE_SELFTEST_IMAGE_DIR` points at an already built image directory instead.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { ensureDockerd } from "../../../docker/test-support/ensure-dockerd.js";
import { acquireFileLock } from "../src/download/lock.js";
import { imageFileName, initrdFileName, kernelFileName, manifestFileName } from "../src/image/image-files.js";
import { readManifest } from "../src/image/manifest.js";
import { buildImage } from "../src/pipeline.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The shared self-test image's directory (see selftest-image.ts). */
    selftestImageDir: string;
  }
}

export const SELFTEST_IMAGE_DIR_ENV = "HEXCLAVE_SELFTEST_IMAGE_DIR";

/** Build settings of the shared image: modest, so the build stays within ~10-12 min under TCG on 2 cores. */
export const SELFTEST_IMAGE_BUILD = {
  arch: "amd64",
  profile: "selftest",
  base: "bootstrap",
  cpus: 2,
  memoryMb: 3072,
  diskSizeGb: 12,
  compression: "zstd",
  deadlineMs: 40 * 60_000,
} as const;

const checkout = fileURLToPath(new URL("../../../", import.meta.url));
const builderSrc = join(checkout, "packages/image-builder/src");
/** What the image is made of; any change to these rebuilds it. */
const INPUTS = [
  join(checkout, "docker"),
  join(builderSrc, "bootstrap"),
  join(builderSrc, "provisioning"),
  join(builderSrc, "warm-boot"),
  join(builderSrc, "payload"),
  join(builderSrc, "compaction.ts"),
  join(builderSrc, "pipeline.ts"),
  join(builderSrc, "selftest-base.ts"),
];

async function filesUnder(path: string): Promise<string[]> {
  if (!existsSync(path)) return [];
  const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
  if (entries === undefined) return [path];
  const out: string[] = [];
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(full)));
    else if (e.isFile() && !/\.test\.ts$/.test(e.name)) out.push(full);
  }
  return out;
}

/** sha256 over the inputs' paths and contents and the build settings. */
export async function selftestImageHash(): Promise<string> {
  const hash = createHash("sha256").update(JSON.stringify(SELFTEST_IMAGE_BUILD));
  const files = (await Promise.all(INPUTS.map(filesUnder))).flat().sort();
  for (const file of files) {
    hash
      .update(relative(checkout, file))
      .update("\0")
      .update(await readFile(file))
      .update("\0");
  }
  return hash.digest("hex");
}

async function usable(dir: string): Promise<boolean> {
  try {
    await readManifest(join(dir, manifestFileName("amd64")));
    return existsSync(join(dir, imageFileName("amd64")));
  } catch {
    return false;
  }
}

/** Builds the shared image when missing; returns its directory. */
export async function ensureSelftestImage(log: (line: string) => void = () => {}): Promise<string> {
  const fromEnv = process.env[SELFTEST_IMAGE_DIR_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const root = join(checkout, ".cache", "selftest-image");
  const hash = (await selftestImageHash()).slice(0, 16);
  const dir = join(root, hash);
  if (await usable(dir)) return dir;
  await mkdir(root, { recursive: true });
  const lock = await acquireFileLock(join(root, `${hash}.lock`), {
    onWait: (holder) => log(`waiting for another run building the self-test image (${holder})`),
  });
  try {
    if (await usable(dir)) return dir;
    await ensureDockerd();
    const started = Date.now();
    log(`building the shared self-test image into ${dir} (amd64, selftest, bootstrap; under TCG this takes minutes)`);
    await buildImage({
      ...SELFTEST_IMAGE_BUILD,
      outDir: dir,
      onEvent: (e) => {
        if (
          e.type === "build-stage-done" ||
          e.type === "warm-boot-stage" ||
          e.type === "build-accelerator" ||
          e.type === "bootstrap-step"
        )
          log(`[${Math.round((Date.now() - started) / 1000)} s] ${JSON.stringify(e)}`);
      },
    });
    log(`self-test image built in ${Math.round((Date.now() - started) / 1000)} s`);
    // Older builds of the shared image are replaced by this one.
    for (const name of await readdir(root)) {
      if (name !== hash && /^[0-9a-f]{16}$/.test(name)) await rm(join(root, name), { recursive: true, force: true });
    }
    return dir;
  } finally {
    await lock.release();
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const dir = await ensureSelftestImage((line) => console.log(`[selftest-image] ${line}`));
  project.provide("selftestImageDir", dir);
  // Test workers are started after this and inherit the environment: selftestImage() reads it
  // (this module must not import vitest's runtime, so it cannot use inject()).
  process.env[SELFTEST_IMAGE_DIR_ENV] = dir;
}

export interface SelftestImage {
  readonly dir: string;
  readonly image: string;
  readonly manifest: string;
  readonly kernel: string;
  readonly initrd: string;
}

/** For e2e test files: `{ dir, image, manifest, kernel, initrd }` of the shared amd64 self-test image. */
export function selftestImage(): SelftestImage {
  const dir = process.env[SELFTEST_IMAGE_DIR_ENV];
  if (dir === undefined || dir === "")
    throw new Error(
      `${SELFTEST_IMAGE_DIR_ENV} is not set: run e2e tests with \`vitest run --project e2e\` (its globalSetup builds the image)`,
    );
  return {
    dir,
    image: join(dir, imageFileName("amd64")),
    manifest: join(dir, manifestFileName("amd64")),
    kernel: join(dir, kernelFileName("amd64")),
    initrd: join(dir, initrdFileName("amd64")),
  };
}
