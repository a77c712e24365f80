/**
 * `buildImage()`: the whole pipeline, from Dockerfile to a compressed,
 * pre-warmed qcow2 with its manifest (ARCHITECTURE.md "Build pipeline"):
 *
 *   payload (docker build + save) -> base (cloud download | mmdebstrap bootstrap)
 *   -> warm boot (provision under QEMU) -> compaction -> manifest
 *
 * Every stage is also usable alone (buildPayload, bootstrapBaseImage,
 * fetchCloudBaseImage, warmBoot, compactImage, writeManifest). The build
 * works in `<outDir>/.build-<arch>-<random>/`, removed whatever happens; the
 * outputs are renamed into place at the very end, the manifest last, so a
 * manifest always describes a complete image.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type Accelerator,
  type AcceleratorChoice,
  type Arch,
  chooseAccelerator,
  detectHost,
  findFirmware,
  findQemuBinary,
  recordAcceleratorFailure,
} from "@hexclave/qemu-core";
import { acceleratorFailureOf, forcedAcceleratorFailed, verdictWords } from "./accelerator-fallback.js";
import { DEFAULT_CLOUD_MIRROR, fetchCloudBaseImage, probeCloudHost } from "./base-image/cloud.js";
import { CLOUD_ROOT_PARTITION } from "./base-image/genericcloud-layout.js";
import { type BootstrapBase, type BootstrapEvent, bootstrapBaseImage } from "./bootstrap/bootstrap-base.js";
import { removeTree } from "./bootstrap/tree-cleanup.js";
import { defaultCacheDir } from "./cache-dir.js";
import { type CompactionEvent, type Compression, compactImage } from "./compaction.js";
import { digestFile } from "./download/hash-file.js";
import { imageBuilderErrors } from "./errors-data.js";
import { imageFileName, initrdFileName, kernelFileName, manifestFileName } from "./image/image-files.js";
import { type Manifest, type ManifestBase, type ManifestBoot, writeManifest } from "./image/manifest.js";
import { buildPayload, type PayloadEvent } from "./payload/build-payload.js";
import { type BuildProfile, loadProfile, type ProfileName } from "./profiles.js";
import { ensureSelftestBaseImage, type SelftestBaseEvent } from "./selftest-base.js";
import { startTimeoutFactor, warmBootDeadlineMs, warmBootHealthTimeoutSeconds } from "./warm-boot/health-deadline.js";
import { DEFAULT_BUILD_MEMORY_MB, type WarmBootBase, type WarmBootEvent, warmBoot } from "./warm-boot/warm-boot.js";

export type BaseChoice = "auto" | "cloud" | "bootstrap";
export type BuildStage = "payload" | "base" | "warm-boot" | "compaction" | "manifest";

type WithArch<E> = E extends unknown ? E & { readonly arch: Arch } : never;

export type BuildEvent =
  | { readonly type: "build-stage-started"; readonly arch: Arch; readonly stage: BuildStage }
  | { readonly type: "build-stage-done"; readonly arch: Arch; readonly stage: BuildStage; readonly durationMs: number }
  | { readonly type: "build-accelerator"; readonly arch: Arch; readonly accel: Accelerator; readonly reason: string }
  /** The accelerator failed the provisioning guest: the warm boot starts again under tcg (verdict cached). */
  | {
      readonly type: "build-accelerator-fallback";
      readonly arch: Arch;
      readonly from: Accelerator;
      readonly reason: string;
      readonly detectedAfterMs: number;
    }
  | {
      readonly type: "build-base-chosen";
      readonly arch: Arch;
      readonly base: "cloud" | "bootstrap";
      readonly reason: string;
    }
  | {
      readonly type: "build-done";
      readonly arch: Arch;
      readonly image: string;
      readonly manifest: string;
      readonly size: number;
    }
  | WithArch<PayloadEvent | SelftestBaseEvent | BootstrapEvent | WarmBootEvent | CompactionEvent>
  | { readonly type: "base-download"; readonly arch: Arch; readonly event: { readonly type: string } };

export interface BuildImageOptions {
  readonly arch: Arch | "both";
  /** Default `hexclave`. */
  readonly profile?: ProfileName | undefined;
  /** Default `auto`: cloud when its host answers, else bootstrap. */
  readonly base?: BaseChoice | undefined;
  /** Where `stack-emulator-<arch>.{qcow2,json,vmlinuz,initrd}` go. */
  readonly outDir: string;
  /** Default {@link defaultCacheDir}. */
  readonly cacheDir?: string | undefined;
  /**
   * Where the accelerator probe caches its answer (qemu-core `probeAccelerator`'s `cacheDir`); default `cacheDir`.
   * The CLI passes the emulator's `<home>/cache`, so a build and a start share one answer.
   */
  readonly acceleratorCacheDir?: string | undefined;
  /** Default 12. */
  readonly diskSizeGb?: number | undefined;
  /** Build VM CPUs; default the host's. */
  readonly cpus?: number | undefined;
  /** Build VM memory; default 4096. */
  readonly memoryMb?: number | undefined;
  /** Default zstd. */
  readonly compression?: Compression | undefined;
  /** The warm boot's deadline; default 30 minutes. */
  readonly deadlineMs?: number | undefined;
  /** `auto` (default) probes and falls back to tcg when the accelerator fails the guest; others force it. */
  readonly accel?: AcceleratorChoice | undefined;
  /** Debian mirror for bootstrap. */
  readonly mirror?: string | undefined;
  /**
   * The cloud image host's directory holding SHA512SUMS and the images
   * (default {@link DEFAULT_CLOUD_MIRROR}); the CLI takes it from `--cloud-url`
   * or HEXCLAVE_CLOUD_IMAGE_URL.
   */
  readonly cloudMirror?: string | undefined;
  /** The repository's docker/ directory; found from this module by default. */
  readonly dockerDir?: string | undefined;
  /** Extra `docker build` arguments of the payload (the contract build points the PGDG seam at a stand-in). */
  readonly buildArgs?: Readonly<Record<string, string>> | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: BuildEvent) => void) | undefined;
}

export interface BuiltImage {
  readonly arch: Arch;
  readonly image: string;
  readonly manifestPath: string;
  readonly manifest: Manifest;
}

export interface BuildImageResult {
  readonly images: readonly BuiltImage[];
}

/** Stage durations of a build (ms), for bench and the manifest. */
export type StageDurations = Record<string, number>;

interface ResolvedBase {
  readonly warm: WarmBootBase;
  readonly manifestBase: ManifestBase;
  readonly bootstrap?: BootstrapBase;
}

async function chooseBase(
  arch: Arch,
  options: BuildImageOptions,
  emit: (e: BuildEvent) => void,
): Promise<"cloud" | "bootstrap"> {
  const choice = options.base ?? "auto";
  if (choice !== "auto") {
    emit({ type: "build-base-chosen", arch, base: choice, reason: `--base ${choice} was asked for` });
    return choice;
  }
  const probe = await probeCloudHost(options.cloudMirror ?? DEFAULT_CLOUD_MIRROR, {
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (probe.reachable) {
    emit({ type: "build-base-chosen", arch, base: "cloud", reason: `the cloud image host answers (${probe.url})` });
    return "cloud";
  }
  emit({
    type: "build-base-chosen",
    arch,
    base: "bootstrap",
    reason: `the cloud image host does not answer (${probe.reason}); bootstrapping from the Debian mirror instead`,
  });
  return "bootstrap";
}

async function resolveBase(
  arch: Arch,
  kind: "cloud" | "bootstrap",
  cacheDir: string,
  options: BuildImageOptions,
  emit: (e: BuildEvent) => void,
): Promise<ResolvedBase> {
  if (kind === "bootstrap") {
    const base = await bootstrapBaseImage({
      arch,
      mirror: options.mirror,
      cacheDir,
      signal: options.signal,
      onEvent: (e) => emit({ ...e, arch }),
    });
    return {
      warm: {
        image: base.image,
        boot: { kind: "kernel", kernel: base.kernel, initrd: base.initrd, append: base.append },
      },
      manifestBase: {
        kind: "bootstrap",
        recipeHash: base.recipeHash,
        suite: base.suite,
        mirror: base.mirror,
        kernelVersion: base.kernelVersion,
        packages: base.packages,
      },
      bootstrap: base,
    };
  }
  const cloud = await fetchCloudBaseImage({
    arch,
    cacheDir,
    ...(options.cloudMirror ? { mirrorUrl: options.cloudMirror } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onEvent: (event) => emit({ type: "base-download", arch, event }),
  });
  // The cloud disk boots its own GRUB from the ESP under UEFI (OVMF, AAVMF), as it does on a cloud.
  const firmware = await findFirmware(arch);
  return {
    warm: {
      image: cloud.path,
      boot: { kind: "firmware", code: firmware.code },
      rootPartition: CLOUD_ROOT_PARTITION,
      installPackages: ["docker.io", "docker-cli", "containerd", "qemu-guest-agent"],
    },
    manifestBase: { kind: "cloud", file: cloud.url.split("/").at(-1) ?? "", sha512: cloud.sha512, url: cloud.url },
  };
}

/** The payload stage for a profile (the self-test base image first, when the profile needs it). */
export async function buildProfilePayload(
  arch: Arch,
  profile: BuildProfile,
  cacheDir: string,
  options: BuildImageOptions,
  emit: (e: BuildEvent) => void,
) {
  const buildArgs: Record<string, string> = { ...options.buildArgs };
  if (profile.name === "selftest") {
    const base = await ensureSelftestBaseImage({
      arch,
      ...(options.mirror ? { mirror: options.mirror } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onEvent: (e) => emit({ ...e, arch }),
    });
    buildArgs.SELFTEST_BASE = base.tag;
  }
  const platform = arch === "amd64" ? "linux/amd64" : "linux/arm64";
  // The self-test profile pulls nothing: a missing base means the local one went away meanwhile.
  const missingBaseHint =
    profile.name === "selftest"
      ? `The self-test profile needs no registry: its base (${buildArgs.SELFTEST_BASE}) is made from the Debian mirror and imported for ${platform}. Check that it is listed by docker images, and run the build again to remake it.`
      : undefined;
  const tag = `hexclave-emulator-payload:${profile.name}-${arch}`;
  const result = await buildPayload({
    profile: { context: profile.context, dockerfile: profile.dockerfile, buildArgs },
    platform,
    tag,
    missingBaseHint,
    outDir: join(cacheDir, "payload", profile.name),
    signal: options.signal,
    onEvent: (e) => emit({ ...e, arch }),
  });
  return { ...result, tag };
}

/** Times a stage and reports it. */
async function stage<T>(
  arch: Arch,
  name: BuildStage,
  durations: StageDurations,
  emit: (e: BuildEvent) => void,
  run: () => Promise<T>,
): Promise<T> {
  emit({ type: "build-stage-started", arch, stage: name });
  const started = Date.now();
  const result = await run();
  durations[name] = Date.now() - started;
  emit({ type: "build-stage-done", arch, stage: name, durationMs: durations[name] });
  return result;
}

async function buildOne(arch: Arch, options: BuildImageOptions): Promise<BuiltImage> {
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal;
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const outDir = resolve(options.outDir);
  const profile = await loadProfile(options.profile ?? "hexclave", options.dockerDir);
  const compression = options.compression ?? "zstd";
  const durations: StageDurations = {};

  const qemu = await findQemuBinary(arch, signal ? { signal } : {});

  const payload = await stage(arch, "payload", durations, emit, () =>
    buildProfilePayload(arch, profile, cacheDir, options, emit),
  );
  const base = await stage(arch, "base", durations, emit, async () =>
    resolveBase(arch, await chooseBase(arch, options, emit), cacheDir, options, emit),
  );

  // After the base: the deeper probe boots the base's own kernel under a hardware accelerator that ran the tiny guest.
  const choice = options.accel ?? "auto";
  const acceleratorCacheDir = options.acceleratorCacheDir ?? cacheDir;
  let probe = await chooseAccelerator({
    arch,
    qemuBinary: qemu.path,
    signal,
    choice,
    cacheDir: acceleratorCacheDir,
    ...(base.warm.boot.kind === "kernel" ? { linuxKernel: base.warm.boot.kernel } : {}),
  });
  emit({ type: "build-accelerator", arch, accel: probe.accel, reason: probe.reason });

  await mkdir(outDir, { recursive: true });
  const work = join(outDir, `.build-${arch}-${randomBytes(6).toString("hex")}`);
  try {
    const buildMigrations = profile.name === "hexclave";
    // A guest of another arch runs about three times slower under TCG: the host's deadline, the guest's health wait
    // and the supervisor's per-service start deadlines all grow by the same factor.
    const timeoutFactor = startTimeoutFactor(arch, detectHost().arch);
    const healthTimeoutSeconds = warmBootHealthTimeoutSeconds(profile, buildMigrations);
    const provision = (accel: Accelerator) =>
      warmBoot({
        arch,
        base: base.warm,
        payload: { tarball: payload.tarball, imageId: payload.imageId, tag: payload.tag },
        services: profile.services,
        workDir: join(work, `vm-${accel}`),
        accel,
        qemuBinary: qemu.path,
        diskSizeGb: options.diskSizeGb,
        cpus: options.cpus ?? detectHost().cpus,
        memoryMb: options.memoryMb ?? DEFAULT_BUILD_MEMORY_MB,
        deadlineMs: options.deadlineMs ?? warmBootDeadlineMs(healthTimeoutSeconds, timeoutFactor),
        healthTimeoutSeconds: healthTimeoutSeconds * timeoutFactor,
        startTimeoutFactor: timeoutFactor,
        // Migrations and seed run once here, in the image build, never at a user's start (issue 13).
        runBuildMigrations: buildMigrations,
        signal,
        onEvent: (e) => emit({ ...e, arch }),
      });
    const warm = await stage(arch, "warm-boot", durations, emit, async () => {
      try {
        return await provision(probe.accel);
      } catch (error) {
        const info = acceleratorFailureOf(error, probe.accel);
        if (info === undefined || signal?.aborted === true) throw error;
        if (choice !== "auto") throw forcedAcceleratorFailed(info, choice);
        probe = await recordAcceleratorFailure({
          arch,
          qemuBinary: qemu.path,
          cacheDir: acceleratorCacheDir,
          accel: info.accel,
          reason: verdictWords(info),
        });
        emit({
          type: "build-accelerator-fallback",
          arch,
          from: info.accel,
          reason: info.failure.message,
          detectedAfterMs: info.detectedAfterMs,
        });
        emit({ type: "build-accelerator", arch, accel: probe.accel, reason: probe.reason });
        return await provision(probe.accel);
      }
    });
    for (const [name, ms] of Object.entries(warm.stages)) durations[`guest:${name}`] = ms;

    const staged = join(work, "out");
    await mkdir(staged);
    const names = {
      image: imageFileName(arch),
      manifest: manifestFileName(arch),
      kernel: kernelFileName(arch),
      initrd: initrdFileName(arch),
    };
    const compacted = await stage(arch, "compaction", durations, emit, () =>
      compactImage({
        src: warm.disk,
        dst: join(staged, names.image),
        compression,
        signal,
        onEvent: (e) => emit({ ...e, arch }),
      }),
    );
    await rm(join(work, "vm"), { recursive: true, force: true });

    const manifest = await stage(arch, "manifest", durations, emit, async (): Promise<Manifest> => {
      let boot: ManifestBoot = { kind: "firmware" };
      if (base.warm.boot.kind === "kernel") {
        await copyFile(base.warm.boot.kernel, join(staged, names.kernel));
        await copyFile(base.warm.boot.initrd, join(staged, names.initrd));
        boot = {
          kind: "kernel",
          kernel: { file: names.kernel, sha256: await digestFile(join(staged, names.kernel), "sha256", signal) },
          initrd: { file: names.initrd, sha256: await digestFile(join(staged, names.initrd), "sha256", signal) },
          append: base.warm.boot.append,
        };
      }
      return {
        formatVersion: 1,
        arch,
        profile: profile.name,
        image: {
          file: names.image,
          size: compacted.size,
          virtualSize: compacted.virtualSize,
          sha256: await digestFile(compacted.file, "sha256", signal),
          compression,
        },
        boot,
        base: base.manifestBase,
        payload: { imageId: payload.imageId, tag: payload.tag, size: payload.size },
        services: profile.exposed,
        qemuVersion: qemu.version.version,
        buildAccel: probe.accel,
        builtAt: new Date().toISOString(),
        durations: { ...durations },
      };
    });
    signal?.throwIfAborted();
    // Install: the old manifest goes first and the new one comes last, so a manifest always matches its files.
    const finalManifest = join(outDir, names.manifest);
    await rm(finalManifest, { force: true });
    await rename(join(staged, names.image), join(outDir, names.image));
    if (manifest.boot.kind === "kernel") {
      await rename(join(staged, names.kernel), join(outDir, names.kernel));
      await rename(join(staged, names.initrd), join(outDir, names.initrd));
    }
    await writeManifest(finalManifest, manifest);
    const size = (await stat(join(outDir, names.image))).size;
    emit({ type: "build-done", arch, image: join(outDir, names.image), manifest: finalManifest, size });
    return { arch, image: join(outDir, names.image), manifestPath: finalManifest, manifest };
  } catch (error) {
    if (signal?.aborted && !imageBuilderErrors.is(error, "ABORTED"))
      throw imageBuilderErrors.create("ABORTED", `The ${arch} image build was aborted`, { cause: error });
    throw error;
  } finally {
    await removeTree(work).catch(() => {});
  }
}

/** Builds the image for one arch, or both (one after the other). */
export async function buildImage(options: BuildImageOptions): Promise<BuildImageResult> {
  const arches: Arch[] =
    options.arch === "both"
      ? ["amd64", "arm64"]
      : options.arch === "amd64" || options.arch === "arm64"
        ? [options.arch]
        : [];
  if (arches.length === 0)
    throw imageBuilderErrors.create(
      "BUILD_INPUT_INVALID",
      `Unknown arch ${JSON.stringify(options.arch)}: use amd64, arm64 or both`,
    );
  if (options.base !== undefined && !["auto", "cloud", "bootstrap"].includes(options.base))
    throw imageBuilderErrors.create(
      "BUILD_INPUT_INVALID",
      `Unknown base ${JSON.stringify(options.base)}: use auto, cloud or bootstrap`,
    );
  if (options.cpus !== undefined && (!Number.isInteger(options.cpus) || options.cpus < 1))
    throw imageBuilderErrors.create("BUILD_INPUT_INVALID", `cpus must be a whole number >= 1, got ${options.cpus}`);
  if (options.memoryMb !== undefined && (!Number.isInteger(options.memoryMb) || options.memoryMb < 512))
    throw imageBuilderErrors.create(
      "BUILD_INPUT_INVALID",
      `memoryMb must be a whole number >= 512, got ${options.memoryMb}`,
    );
  const images: BuiltImage[] = [];
  for (const arch of arches) images.push(await buildOne(arch, options));
  return { images };
}
