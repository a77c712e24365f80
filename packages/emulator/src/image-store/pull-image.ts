/**
 * `pullImage`: installs a published emulator image, never a bad one.
 *
 * 1. Resolve the release: the channel pointer (or `<version>/SHA256SUMS`, or
 *    a flat mirror's SHA256SUMS) from GitHub, an HTTP(S) mirror or a local
 *    directory (see pull-source.ts for the layouts).
 * 2. Compare with the installed manifest: same digests -> nothing to do.
 * 3. Refuse while an emulator runs on this arch's image; check free space.
 * 4. Fetch manifest, image, kernel and initrd into `<home>/images/.pull-<arch>/`
 *    (`.part` files, Range/If-Range resume, sha256 verified while streaming).
 * 5. Only when every digest matched: rename image, kernel and initrd into
 *    place, then write the manifest (with `source`) LAST. The previous image
 *    stays usable until then; a failure leaves it untouched.
 */
import { access, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { DownloadEvent } from "@hexclave/image-builder/download";
import {
  acquireFileLock,
  type DownloadTimeouts,
  digestFile,
  downloadVerified,
  freeBytes,
  partPaths,
  type RetryBackoff,
} from "@hexclave/image-builder/download";
import {
  type ImagePaths,
  type ImageSource,
  imageBuilderErrors,
  MANIFEST_FORMAT_VERSION,
  type Manifest,
  manifestFileName,
  parseManifest,
  writeManifest,
} from "@hexclave/image-builder/image";
import {
  CHANNELS,
  type Channel,
  checkManifestAgainstSums,
  isReleaseVersion,
  manifestFiles,
  parseChannelPointer,
  parseSha256Sums,
  type ReleaseFileRole,
  releaseManifestFiles,
} from "@hexclave/image-builder/release";
import { type Arch, acquireInstanceLock, ensurePrivateDir, formatBytes, instancePaths } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";
import { DEFAULT_INSTANCE, emulatorHome, imagePaths } from "../layout.js";
import { copyVerified } from "./copy-verified.js";
import { instancesUsingImage } from "./emulator-in-use.js";
import { fetchSmallText } from "./fetch-small.js";
import type { PullEvent, PullFileRole } from "./pull-events.js";
import {
  assertSecureLocation,
  authHeadersFor,
  CA_BUNDLE_ENV,
  GITHUB_TOKEN_ENV,
  type PullSource,
  pointerLocation,
  releaseFileLocation,
  resolvePullSource,
  sumsLocation,
} from "./pull-source.js";
import { stagingPath } from "./staging-path.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface PullImageOptions {
  readonly arch: Arch;
  /** Default `main`. */
  readonly channel?: Channel | undefined;
  /** A release version (`emulator-main-20250101-0123abcd`) instead of the channel's current one. */
  readonly version?: string | undefined;
  /** An HTTP(S) base URL or a local directory laid out like a release (see pull-source.ts). */
  readonly from?: string | undefined;
  /** Resolves a relative `from` directory (default `process.cwd()`). */
  readonly cwd?: string | undefined;
  /** Default `emulatorHome(env)`. */
  readonly home?: string | undefined;
  /** For `HEXCLAVE_EMULATOR_*`, `HTTPS_PROXY`/`NO_PROXY`, `GITHUB_TOKEN`, `HEXCLAVE_CA_BUNDLE`; default `process.env`. */
  readonly env?: Env | undefined;
  /** A PEM bundle added to the trusted roots (default `HEXCLAVE_CA_BUNDLE`; `NODE_EXTRA_CA_CERTS` works natively). */
  readonly caFile?: string | undefined;
  /** Sent as a bearer token to GitHub hosts only (default `GITHUB_TOKEN`). */
  readonly githubToken?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: PullEvent) => void) | undefined;
  /** Retries per request after the first attempt (default 5). */
  readonly retries?: number | undefined;
  readonly backoff?: RetryBackoff | undefined;
  readonly timeouts?: DownloadTimeouts | undefined;
  /** Accept a plain http:// mirror (`--allow-insecure-http`); refused by default. */
  readonly allowInsecureHttp?: boolean | undefined;
  /** Free bytes of a directory (default statfs); tests and quotas pass a limit. */
  readonly freeSpace?: ((dir: string) => Promise<number>) | undefined;
}

export interface PullImageResult {
  /** `current`: the installed image already was this release (nothing downloaded). */
  readonly status: "installed" | "current";
  readonly arch: Arch;
  readonly version: string;
  readonly source: ImageSource;
  readonly imagePath: string;
  readonly manifestPath: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  /** Bytes fetched by this call (resumed and reused bytes excluded). */
  readonly downloadedBytes: number;
  readonly durationMs: number;
  /** An instance's data disk (overlay) was made on the image this pull replaced. */
  readonly dataDiskOnPreviousImage: boolean;
}

interface PlannedFile {
  readonly role: PullFileRole;
  readonly name: string;
  readonly location: string;
  readonly size: number | undefined;
  readonly sha256: string;
}

interface ResolvedRelease {
  readonly version: string;
  readonly channel: Channel | undefined;
  readonly manifest: PlannedFile;
  /** From the pointer; undefined when the manifest decides (version or flat release). */
  readonly files: readonly PlannedFile[] | undefined;
  readonly sums: ReadonlyMap<string, string> | undefined;
  /** Release directory segment for file locations (undefined: flat). */
  readonly dir: string | undefined;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const sizeOf = (path: string) =>
  stat(path).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );

/** Where each role is installed. */
function installPath(paths: ImagePaths, role: PullFileRole): string {
  return role === "image"
    ? paths.image
    : role === "kernel"
      ? paths.kernel
      : role === "initrd"
        ? paths.initrd
        : paths.manifest;
}

/**
 * The installed manifest when it names exactly these digests and every
 * installed file has that digest (hashed now: a file of the right size with
 * other bytes is not current).
 */
async function installedIsCurrent(
  paths: ImagePaths,
  wanted: readonly { role: PullFileRole; sha256: string; size: number | undefined }[],
  signal: AbortSignal | undefined,
): Promise<Manifest | undefined> {
  let installed: Manifest;
  try {
    installed = parseManifest(await readFile(paths.manifest, "utf8"), paths.manifest);
  } catch {
    return undefined;
  }
  const have = manifestFiles(installed);
  const roles = wanted.filter((w) => w.role !== "manifest");
  if (roles.length !== have.length) return undefined;
  for (const w of roles) {
    if (have.find((h) => h.role === w.role)?.sha256 !== w.sha256) return undefined;
    const path = installPath(paths, w.role);
    const size = await sizeOf(path);
    if (size === undefined || (w.size !== undefined && size !== w.size)) return undefined;
    if ((await digestFile(path, "sha256", signal)) !== w.sha256) return undefined;
  }
  return installed;
}

export async function pullImage(options: PullImageOptions): Promise<PullImageResult> {
  const started = Date.now();
  const env: Env = options.env ?? process.env;
  const { arch, signal } = options;
  const emit = (event: PullEvent) => options.onEvent?.(event);
  const channel = options.channel ?? "main";
  if (!(CHANNELS as readonly string[]).includes(channel)) {
    throw emulatorErrors.create(
      "PULL_SOURCE_INVALID",
      `Unknown channel ${JSON.stringify(channel)}: expected main or dev`,
    );
  }
  if (options.version !== undefined && !isReleaseVersion(options.version)) {
    throw emulatorErrors.create("PULL_SOURCE_INVALID", `Invalid release version ${JSON.stringify(options.version)}`, {
      hint: "Versions look like emulator-main-20250101-0123abcd (see the repository's releases).",
    });
  }
  const source = resolvePullSource({
    from: options.from,
    env,
    allowInsecureHttp: options.allowInsecureHttp,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  if (source.kind === "directory" && !(await exists(source.root))) {
    throw emulatorErrors.create("PULL_SOURCE_INVALID", `--from ${source.root}: no such directory`);
  }
  const home = options.home ?? emulatorHome(env);
  const paths = imagePaths(home, arch);
  const staging = join(paths.dir, `.pull-${arch}`);
  const token = options.githubToken ?? env[GITHUB_TOKEN_ENV];
  const caFile = options.caFile ?? (env[CA_BUNDLE_ENV] === "" ? undefined : env[CA_BUNDLE_ENV]);
  const transport = { env, ...(caFile === undefined ? {} : { caFile }) };
  const small = (location: string, what: string) =>
    fetchSmallText(location, what, {
      ...transport,
      signal,
      headers: authHeadersFor(location, token),
      retries: options.retries,
      backoff: options.backoff,
    });

  await ensurePrivateDir(home);
  await mkdir(paths.dir, { recursive: true });
  const pullLock = await acquireFileLock(join(paths.dir, `.pull-${arch}.lock`), {
    signal,
    purpose: "pull",
    onWait: (holder) =>
      emit({ type: "message", level: "info", text: `waiting for another pull of ${arch} (${holder})` }),
  });
  try {
    // 1. Resolve the release.
    let t = Date.now();
    emit({ type: "stage-start", stage: "resolve", label: `Reading the release from ${source.display}` });
    const release = await resolveRelease(source, {
      arch,
      channel,
      version: options.version,
      small,
      allowInsecureHttp: options.allowInsecureHttp,
    });
    const recorded: ImageSource = {
      kind: source.kind,
      url: source.display,
      ...(release.channel === undefined ? {} : { channel: release.channel }),
      version: release.version,
      pulledAt: new Date().toISOString(),
    };
    emit({
      type: "pull-release",
      source: source.display,
      sourceKind: source.kind,
      version: release.version,
      ...(release.channel === undefined ? {} : { channel: release.channel }),
    });

    const currentResult = (installed: Manifest): PullImageResult => ({
      status: "current",
      arch,
      version: release.version,
      source: installed.source ?? recorded,
      imagePath: paths.image,
      manifestPath: paths.manifest,
      sha256: installed.image.sha256,
      sizeBytes: installed.image.size,
      downloadedBytes: 0,
      durationMs: Date.now() - started,
      dataDiskOnPreviousImage: false,
    });
    // 2. Nothing to do when the pointer names what is installed.
    if (release.files !== undefined) {
      const installed = await installedIsCurrent(paths, release.files, signal);
      if (installed !== undefined) {
        emit({
          type: "stage-end",
          stage: "resolve",
          durationMs: Date.now() - t,
          detail: `${release.version} is installed`,
        });
        return currentResult(installed);
      }
    }

    // 3. Never under a running emulator (checked again at install).
    await refuseIfRunning(home, arch);

    await mkdir(staging, { recursive: true });
    let downloaded = 0;
    let downloadStarted: number | undefined;
    const fetchFile = async (file: PlannedFile, done: number, total: number | undefined): Promise<string> => {
      const dest = await stagingPath(staging, file.name);
      emit({ type: "pull-file", state: "start", role: file.role, name: file.name, size: file.size });
      let lastTransferred = 0;
      let resumedFrom = 0;
      const onEvent = (e: DownloadEvent) => {
        switch (e.type) {
          case "download-progress": {
            lastTransferred = e.transferred;
            if (file.role === "manifest") break; // a few KiB, before the download stage
            // Speed over the whole pull (bytes fetched now, resumed prefixes excluded), not the current file's.
            const fetched = downloaded + Math.max(0, e.transferred - resumedFrom);
            const elapsed = Math.max(1, Date.now() - (downloadStarted ?? Date.now())) / 1000;
            const bytesPerSecond = Math.round(fetched / elapsed);
            const transferred = done + e.transferred;
            emit({
              type: "download-progress",
              file: file.name,
              transferred,
              total,
              bytesPerSecond,
              etaSeconds:
                total === undefined || bytesPerSecond === 0
                  ? undefined
                  : Math.max(0, Math.round((total - transferred) / bytesPerSecond)),
            });
            break;
          }
          case "download-resumed":
            resumedFrom = e.from;
            emit({ type: "download-resumed", file: file.name, from: e.from });
            break;
          case "download-restarted":
            resumedFrom = 0;
            emit({ type: "download-restarted", file: file.name, reason: e.reason });
            break;
          case "download-retry":
            emit({ type: "download-retry", file: file.name, attempt: e.attempt, reason: e.reason });
            break;
          case "download-lock-wait":
            emit({
              type: "message",
              level: "info",
              text: `waiting for another download of ${file.name} (${e.holder})`,
            });
            break;
          default:
            break;
        }
      };
      const result =
        source.kind === "directory"
          ? await copyVerified({ src: file.location, dest, sha256: file.sha256, signal, onEvent })
          : await downloadVerified({
              url: file.location,
              dest,
              expectedDigest: { algorithm: "sha256", hex: file.sha256 },
              signal,
              onEvent,
              headers: authHeadersFor(file.location, token),
              ...transport,
              ...(options.retries === undefined ? {} : { retries: options.retries }),
              ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
              ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
              ...(file.size === undefined ? {} : { maxBytes: file.size }),
              checkFreeSpace: options.freeSpace ?? true,
            });
      if (!result.reused) downloaded += Math.max(0, lastTransferred - resumedFrom);
      emit({
        type: "pull-file",
        state: "done",
        role: file.role,
        name: file.name,
        size: result.size,
        reused: result.reused,
      });
      return dest;
    };

    // 4a. The manifest first: it says what the image is.
    const manifestStaged = await fetchFile(release.manifest, 0, undefined);
    const manifest = parseManifest(
      await readFile(manifestStaged, "utf8"),
      `${release.manifest.name} of ${release.version}`,
    );
    if (manifest.arch !== arch) {
      throw imageBuilderErrors.create(
        "RELEASE_INVALID",
        `${release.manifest.name} of ${release.version} describes ${manifest.arch}, not ${arch}`,
      );
    }
    const files = planFiles(source, release, manifest);
    emit({ type: "stage-end", stage: "resolve", durationMs: Date.now() - t, detail: release.version });
    if (release.files === undefined) {
      const installed = await installedIsCurrent(paths, files, signal);
      if (installed !== undefined) {
        await rm(staging, { recursive: true, force: true });
        return currentResult(installed);
      }
    }

    // 3b. Free space for everything still to fetch (the old image stays until the end, so it does not count).
    const needed = await bytesStillNeeded(staging, files);
    const free = await (options.freeSpace ?? freeBytes)(staging);
    if (needed > free) {
      throw emulatorErrors.create(
        "PULL_NO_SPACE",
        `Pulling ${release.version} (${arch}) needs ${formatBytes(needed)} in ${paths.dir}, but only ${formatBytes(free)} is free`,
        { details: { dir: paths.dir, needed, free } },
      );
    }

    // 4b. Image, kernel, initrd.
    t = Date.now();
    const total = files.every((f) => f.size !== undefined) ? files.reduce((n, f) => n + (f.size ?? 0), 0) : undefined;
    emit({
      type: "stage-start",
      stage: "download",
      label: `Downloading ${release.version} (${arch}${total === undefined ? "" : `, ${formatBytes(total)}`})`,
    });
    const staged = new Map<PullFileRole, string>();
    downloadStarted = Date.now();
    let done = 0;
    for (const file of files) {
      staged.set(file.role, await fetchFile(file, done, total));
      done += file.size ?? (await sizeOf(staged.get(file.role) ?? "")) ?? 0;
    }
    emit({
      type: "stage-end",
      stage: "download",
      durationMs: Date.now() - t,
      detail: `${formatBytes(downloaded)} downloaded`,
    });

    // 5. Install: every digest matched. Image, kernel, initrd by rename; the manifest last.
    t = Date.now();
    emit({ type: "stage-start", stage: "install", label: `Installing into ${paths.dir}` });
    const previous = await readFile(paths.manifest, "utf8")
      .then((text) => parseManifest(text, paths.manifest))
      .catch(() => undefined);
    const lock = await acquireInstanceLock(instancePaths(home, DEFAULT_INSTANCE).lock, { purpose: "pull" }).catch(
      (cause: unknown) => {
        throw emulatorErrors.create(
          "PULL_EMULATOR_RUNNING",
          `The emulator instance is busy (${(cause as Error).message}); the new image was not installed`,
          { cause },
        );
      },
    );
    try {
      await refuseIfRunning(home, arch);
      for (const file of files) {
        const from = staged.get(file.role);
        await pullLock.assertHeld();
        if (from !== undefined) await rename(from, installPath(paths, file.role));
      }
      await pullLock.assertHeld();
      const installedManifest: Manifest = {
        ...manifest,
        image: { ...manifest.image, file: basename(paths.image) },
        boot:
          manifest.boot.kind === "kernel"
            ? {
                ...manifest.boot,
                kernel: { ...manifest.boot.kernel, file: basename(paths.kernel) },
                initrd: { ...manifest.boot.initrd, file: basename(paths.initrd) },
              }
            : manifest.boot,
        source: recorded,
      };
      await writeManifest(paths.manifest, installedManifest);
      if (manifest.boot.kind !== "kernel") {
        await rm(paths.kernel, { force: true });
        await rm(paths.initrd, { force: true });
      }
    } finally {
      await lock.release();
    }
    await rm(staging, { recursive: true, force: true });
    const replaced = previous !== undefined && previous.image.sha256 !== manifest.image.sha256;
    const dataDiskOnPreviousImage = replaced && (await exists(instancePaths(home, DEFAULT_INSTANCE).overlay));
    if (dataDiskOnPreviousImage) {
      emit({
        type: "message",
        level: "warn",
        text: "The emulator's data disk was made on the previous image; `stack emulator reset --hard` starts clean on the new one.",
      });
    }
    emit({ type: "stage-end", stage: "install", durationMs: Date.now() - t, detail: paths.image });
    return {
      status: "installed",
      arch,
      version: release.version,
      source: recorded,
      imagePath: paths.image,
      manifestPath: paths.manifest,
      sha256: manifest.image.sha256,
      sizeBytes: manifest.image.size,
      downloadedBytes: downloaded,
      durationMs: Date.now() - started,
      dataDiskOnPreviousImage,
    };
  } catch (error) {
    if (signal?.aborted && !emulatorErrors.is(error, "ABORTED")) {
      throw emulatorErrors.create(
        "ABORTED",
        "Pull aborted; the installed image is unchanged and partial files are kept for a resume",
        {
          cause: error,
        },
      );
    }
    throw error;
  } finally {
    await pullLock.release();
  }
}

async function refuseIfRunning(home: string, arch: Arch): Promise<void> {
  const inUse = await instancesUsingImage(home, arch);
  const first = inUse[0];
  if (first === undefined) return;
  throw emulatorErrors.create(
    "PULL_EMULATOR_RUNNING",
    `The emulator (instance "${first.instance}", ${first.state}${first.pid === undefined ? "" : `, QEMU pid ${first.pid}`}) runs on the ${arch} image; it is not replaced under a running VM`,
    { details: { instances: inUse } },
  );
}

/** Bytes still to fetch: sizes minus verified copies or partial files already staged. */
async function bytesStillNeeded(staging: string, files: readonly PlannedFile[]): Promise<number> {
  let needed = 0;
  for (const f of files) {
    if (f.size === undefined) continue;
    const dest = join(staging, f.name);
    const have = (await sizeOf(dest)) === f.size ? f.size : ((await sizeOf(partPaths(dest).part)) ?? 0);
    needed += Math.max(0, f.size - Math.min(have, f.size));
  }
  return needed;
}

interface ResolveContext {
  readonly arch: Arch;
  readonly channel: Channel;
  readonly version: string | undefined;
  readonly small: (location: string, what: string) => Promise<string>;
  readonly allowInsecureHttp: boolean | undefined;
}

async function resolveRelease(source: PullSource, ctx: ResolveContext): Promise<ResolvedRelease> {
  const { arch } = ctx;
  const manifestName = manifestFileName(arch);
  const fromSums = async (version: string | undefined, label: string, channel: Channel | undefined) => {
    const location = sumsLocation(source, version);
    const sums = parseSha256Sums(await ctx.small(location, `SHA256SUMS of ${label}`), location);
    const sha256 = sums.get(manifestName);
    if (sha256 === undefined) {
      throw emulatorErrors.create(
        "RELEASE_ARCH_MISSING",
        `${label} has no ${arch} image (${manifestName} is not in ${location})`,
        {
          details: { arch, version: label },
        },
      );
    }
    return {
      version: version ?? label,
      channel,
      manifest: {
        role: "manifest" as const,
        name: manifestName,
        location: releaseFileLocation(source, version, manifestName),
        size: undefined,
        sha256,
      },
      files: undefined,
      sums,
      dir: version,
    };
  };

  if (ctx.version !== undefined) return fromSums(ctx.version, ctx.version, undefined);

  const location = pointerLocation(source, ctx.channel);
  let text: string;
  try {
    text = await ctx.small(location, `pointer of channel ${ctx.channel}`);
  } catch (error) {
    if (source.kind === "github" || !emulatorErrors.is(error, "RELEASE_NOT_FOUND")) throw error;
    // A mirror holding one release flat (downloaded release assets).
    const last = basename(source.kind === "directory" ? source.root : new URL(source.root).pathname);
    const label = isReleaseVersion(last) ? last : "unversioned";
    try {
      return await fromSums(undefined, label, undefined);
    } catch (flatError) {
      if (!emulatorErrors.is(flatError, "RELEASE_NOT_FOUND")) throw flatError;
      throw emulatorErrors.create(
        "RELEASE_NOT_FOUND",
        `${source.display} holds neither a channel pointer (${location}) nor a release (${sumsLocation(source, undefined)})`,
        { cause: error, details: { source: source.display, channel: ctx.channel } },
      );
    }
  }
  const base = source.kind === "directory" ? pathToFileURL(location).href : location;
  const pointer = parseChannelPointer(text, location, base);
  if (pointer.channel !== ctx.channel) {
    throw imageBuilderErrors.create(
      "POINTER_INVALID",
      `${location} is the pointer of channel ${pointer.channel}, not ${ctx.channel}`,
    );
  }
  const entry = pointer.arches[arch];
  if (entry === undefined) {
    throw emulatorErrors.create(
      "RELEASE_ARCH_MISSING",
      `${pointer.version} (channel ${pointer.channel}) has no ${arch} image; it has ${Object.keys(pointer.arches).join(", ") || "none"}`,
      { details: { arch, version: pointer.version } },
    );
  }
  if (entry.manifestFormatVersion !== MANIFEST_FORMAT_VERSION) {
    throw imageBuilderErrors.create(
      "POINTER_FORMAT_UNSUPPORTED",
      `${pointer.version} publishes image manifests of format version ${entry.manifestFormatVersion}, but this CLI reads version ${MANIFEST_FORMAT_VERSION}`,
      { details: { version: pointer.version, manifestFormatVersion: entry.manifestFormatVersion } },
    );
  }
  // GitHub: the pointer's URLs. A mirror: the same names under <from>/<version>/.
  const where = (name: string, url: string) => {
    if (source.kind !== "github") return releaseFileLocation(source, pointer.version, name);
    assertSecureLocation(url, `The pointer's URL for ${name}`, ctx.allowInsecureHttp);
    return url;
  };
  return {
    version: pointer.version,
    channel: pointer.channel,
    manifest: { role: "manifest", ...entry.manifest, location: where(entry.manifest.name, entry.manifest.url) },
    files: entry.files.map((f) => ({ ...f, location: where(f.name, f.url) })),
    sums: undefined,
    dir: pointer.version,
  };
}

/** The files to fetch, from the manifest, cross-checked with the pointer or SHA256SUMS. */
function planFiles(source: PullSource, release: ResolvedRelease, manifest: Manifest): PlannedFile[] {
  const label = `${release.manifest.name} of ${release.version}`;
  if (release.files === undefined) {
    const sums = release.sums ?? new Map<string, string>();
    return checkManifestAgainstSums(manifest, sums, label).map((f) => ({
      role: f.role,
      name: f.name,
      sha256: f.sha256,
      size: f.role === "image" ? manifest.image.size : undefined,
      location: releaseFileLocation(source, release.dir, f.name),
    }));
  }
  const fromPointer = release.files;
  const wanted = releaseManifestFiles(manifest, label);
  if (wanted.length !== fromPointer.length) {
    throw imageBuilderErrors.create(
      "RELEASE_INVALID",
      `The channel pointer lists ${fromPointer.length} file(s) for ${manifest.arch}, but ${label} names ${wanted.length}`,
    );
  }
  return wanted.map((w) => {
    const listed = fromPointer.find((f) => f.role === w.role);
    if (listed === undefined || listed.name !== w.name || listed.sha256 !== w.sha256) {
      throw imageBuilderErrors.create(
        "RELEASE_INVALID",
        `The channel pointer and ${label} disagree about the ${w.role as ReleaseFileRole} (${w.name} sha256 ${w.sha256})`,
        { details: { role: w.role, manifest: w, pointer: listed } },
      );
    }
    return listed;
  });
}
