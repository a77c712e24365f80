/**
 * The self-test image's base: a Debian 13 (trixie) root filesystem made with
 * mmdebstrap from a Debian mirror and imported into Docker, so the self-test
 * image (docker/selftest) builds with no container registry at all.
 *
 * The base is tagged `hexclave-selftest-base:<hash of the recipe>`; it is
 * built only when that tag is missing. The recipe (suite, mirror, variant,
 * arch, package list, dpkg path filters, hooks) is exported as constants, and
 * any change to it changes the tag.
 */
import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import Dockerode from "dockerode";
import { execa } from "execa";
import { ensureForeignArch } from "./bootstrap/foreign-arch.js";
import { mmdebstrapEnv } from "./bootstrap/mmdebstrap-env.js";
import {
  followMmdebstrapProgress,
  type MmdebstrapProgressEvent,
  mmdebstrapFailureHint,
} from "./bootstrap/mmdebstrap-output.js";
import { imageBuilderErrors } from "./errors-data.js";
import { followDockerProgress, loadWithPlatform } from "./payload/image-platform.js";

/** Docker repository of the base image; the tag is the recipe hash. */
export const SELFTEST_BASE_REPOSITORY = "hexclave-selftest-base";
export const SELFTEST_BASE_SUITE = "trixie";
export const SELFTEST_BASE_MIRROR = "http://deb.debian.org/debian";
export const SELFTEST_BASE_VARIANT = "minbase";
/** Bumped whenever the way the recipe is turned into an image changes. */
export const SELFTEST_BASE_RECIPE_REVISION = 1;

/**
 * Packages on top of minbase. PostgreSQL 17 (trixie's) and Redis are the real
 * data stores; python3 + psycopg2 serve the four HTTP endpoints; tini is PID 1;
 * jq lets the shared supervisor read services.json; curl runs HTTP health
 * checks; procps gives ps/pkill; util-linux gives setsid.
 */
export const SELFTEST_BASE_PACKAGES: readonly string[] = [
  "postgresql-17",
  "redis-server",
  "python3",
  "python3-psycopg2",
  "tini",
  "jq",
  "curl",
  "procps",
  "util-linux",
];

/** Documentation, manuals and translations are dropped: the tarball is loaded into a VM under TCG. */
export const SELFTEST_BASE_DPKG_OPTIONS: readonly string[] = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=/usr/share/lintian/*",
];

/**
 * Hooks run by mmdebstrap inside the finished tree (`$1` is its root): drop the
 * cluster Debian's postinst creates (the supervisor makes its own under
 * /data/postgres); drop PostgreSQL's JIT (LLVM and Z3, about 175 MB: without
 * its provider PostgreSQL simply runs without JIT) and Perl (only
 * postgresql-common's wrappers use it; the image calls PostgreSQL's own
 * binaries); drop the apt caches. This took the base from 454 MB to under 300 MB.
 */
export const SELFTEST_BASE_CUSTOMIZE_HOOKS: readonly string[] = [
  'rm -rf "$1"/var/lib/postgresql/17/main "$1"/etc/postgresql/17/main',
  'rm -rf "$1"/usr/lib/postgresql/17/lib/llvmjit.so "$1"/usr/lib/postgresql/17/lib/llvmjit_types.bc "$1"/usr/lib/postgresql/17/lib/bitcode',
  'chroot "$1" dpkg --purge --force-depends libllvm19 libz3-4 perl libperl5.40 perl-modules-5.40',
  'rm -rf "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/*',
];

export type DebianArch = "amd64" | "arm64";

export interface SelftestBaseRecipe {
  readonly revision: number;
  readonly suite: string;
  readonly mirror: string;
  readonly variant: string;
  readonly arch: DebianArch;
  readonly packages: readonly string[];
  readonly dpkgOptions: readonly string[];
  readonly customizeHooks: readonly string[];
}

/** The Debian architecture of this host (the base is built for the host's Docker engine). */
export function hostDebianArch(nodeArch: string = process.arch): DebianArch {
  if (nodeArch === "x64") return "amd64";
  if (nodeArch === "arm64") return "arm64";
  throw imageBuilderErrors.create("UNSUPPORTED_HOST_ARCH", `No Debian architecture for this host's CPU (${nodeArch})`, {
    hint: "Build the self-test base on an amd64 or arm64 host.",
    details: { nodeArch },
  });
}

export function selftestBaseRecipe(options: { mirror?: string; arch?: DebianArch } = {}): SelftestBaseRecipe {
  return {
    revision: SELFTEST_BASE_RECIPE_REVISION,
    suite: SELFTEST_BASE_SUITE,
    mirror: options.mirror ?? SELFTEST_BASE_MIRROR,
    variant: SELFTEST_BASE_VARIANT,
    arch: options.arch ?? hostDebianArch(),
    packages: [...SELFTEST_BASE_PACKAGES],
    dpkgOptions: [...SELFTEST_BASE_DPKG_OPTIONS],
    customizeHooks: [...SELFTEST_BASE_CUSTOMIZE_HOOKS],
  };
}

/** `hexclave-selftest-base:<16 hex digits of sha256(recipe)>`; the package order does not matter. */
export function selftestBaseTag(recipe: SelftestBaseRecipe, repository: string = SELFTEST_BASE_REPOSITORY): string {
  const canonical = JSON.stringify({ ...recipe, packages: [...recipe.packages].sort() });
  const hash = createHash("sha256").update(canonical).digest("hex").slice(0, 16);
  return `${repository}:${hash}`;
}

/** The mmdebstrap argument list that writes the root filesystem as a tarball to stdout. */
export function mmdebstrapArgs(recipe: SelftestBaseRecipe): string[] {
  return [
    `--variant=${recipe.variant}`,
    `--architectures=${recipe.arch}`,
    `--include=${recipe.packages.join(",")}`,
    ...recipe.dpkgOptions.map((o) => `--dpkgopt=${o}`),
    ...recipe.customizeHooks.map((h) => `--customize-hook=${h}`),
    // apt's and dpkg's lines (package counts) for the progress events.
    "--verbose",
    "--aptopt=Acquire::Retries 3",
    "--format=tar",
    recipe.suite,
    "-",
    recipe.mirror,
  ];
}

export type SelftestBaseEvent =
  | { readonly type: "selftest-base-cached"; readonly tag: string }
  | { readonly type: "selftest-base-build-started"; readonly tag: string; readonly command: readonly string[] }
  | { readonly type: "selftest-base-log"; readonly line: string }
  | MmdebstrapProgressEvent
  /** The imported image was marked with the platform it holds (a foreign-arch base, see image-platform.ts). */
  | { readonly type: "selftest-base-platform"; readonly tag: string; readonly arch: DebianArch }
  | { readonly type: "selftest-base-created"; readonly tag: string; readonly durationMs: number };

export interface EnsureSelftestBaseOptions {
  /** Docker engine client; default: the local engine (DOCKER_HOST or /var/run/docker.sock). */
  readonly docker?: Dockerode;
  /** Debian mirror; default {@link SELFTEST_BASE_MIRROR}. */
  readonly mirror?: string;
  /** Debian architecture; default the host's. */
  readonly arch?: DebianArch;
  /** mmdebstrap binary; default `mmdebstrap` on PATH. */
  readonly mmdebstrap?: string;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: SelftestBaseEvent) => void;
  /**
   * Another root filesystem made the same way (docker/test-support's stand-in
   * images use a bare trixie minbase); default {@link selftestBaseRecipe}.
   * `mirror` and `arch` are ignored when it is given.
   */
  readonly recipe?: SelftestBaseRecipe;
  /** Docker repository of that image; default {@link SELFTEST_BASE_REPOSITORY}. */
  readonly repository?: string;
}

export interface SelftestBaseResult {
  /** Full image reference, `hexclave-selftest-base:<hash>`. */
  readonly tag: string;
  /** True when this call built it, false when it was there already. */
  readonly created: boolean;
}

/** The image's ID and recorded architecture, or undefined when the engine does not have it. */
async function inspectImage(docker: Dockerode, ref: string): Promise<{ id: string; arch: string } | undefined> {
  try {
    const info = await docker.getImage(ref).inspect();
    return { id: info.Id, arch: info.Architecture };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

/** Loads `sourceRef` back as `tag` marked with `arch` (Docker 20.10's import records the engine's arch). */
async function markPlatform(
  docker: Dockerode,
  sourceRef: string,
  tag: string,
  arch: DebianArch,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await loadWithPlatform({ docker, sourceRef, targetRef: tag, arch, signal });
  } catch (cause) {
    if (signal?.aborted) throw abortedError(signal.reason);
    throw imageBuilderErrors.create(
      "DOCKER_IMPORT_FAILED",
      `Could not mark the imported base ${tag} as linux/${arch}: ${String(cause)}`,
      { cause },
    );
  }
}

function abortedError(cause: unknown) {
  return imageBuilderErrors.create("ABORTED", "Building the self-test base image was aborted", { cause });
}

/**
 * Makes sure the self-test base image exists in the Docker engine, building it
 * with mmdebstrap (piped straight into the engine's image import) only when its
 * tag is missing. The import goes to a temporary tag that is renamed only when
 * both mmdebstrap and the import succeeded, so a failed or aborted build
 * leaves no usable-looking image behind.
 */
export async function ensureSelftestBaseImage(options: EnsureSelftestBaseOptions = {}): Promise<SelftestBaseResult> {
  const docker = options.docker ?? new Dockerode();
  const emit = options.onEvent ?? (() => {});
  const signal = options.signal;
  const recipe =
    options.recipe ??
    selftestBaseRecipe({
      ...(options.mirror === undefined ? {} : { mirror: options.mirror }),
      ...(options.arch === undefined ? {} : { arch: options.arch }),
    });
  const repository = options.repository ?? SELFTEST_BASE_REPOSITORY;
  const tag = selftestBaseTag(recipe, repository);
  const hash = tag.slice(repository.length + 1);
  signal?.throwIfAborted();

  try {
    await docker.ping();
  } catch (cause) {
    throw imageBuilderErrors.create("DOCKER_UNREACHABLE", `The Docker engine does not answer: ${String(cause)}`, {
      cause,
    });
  }
  const existing = await inspectImage(docker, tag);
  if (existing !== undefined) {
    if (existing.arch !== recipe.arch) {
      // Imported before bases carried their platform: mark it, keep the tree.
      await markPlatform(docker, tag, tag, recipe.arch, signal);
      await docker
        .getImage(existing.id)
        .remove()
        .catch(() => {});
      emit({ type: "selftest-base-platform", tag, arch: recipe.arch });
    }
    emit({ type: "selftest-base-cached", tag });
    return { tag, created: false };
  }
  await ensureForeignArch(recipe.arch);

  const started = Date.now();
  const binary = options.mmdebstrap ?? "mmdebstrap";
  const args = mmdebstrapArgs(recipe);
  emit({ type: "selftest-base-build-started", tag, command: [binary, ...args] });

  const partialTag = `partial-${hash}-${randomBytes(4).toString("hex")}`;
  const partialRef = `${repository}:${partialTag}`;
  // Its own process group, so an abort or a failed import stops mmdebstrap and
  // everything it runs (apt, dpkg, tar), and nothing holds its stdout open.
  const child = execa(binary, args, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    buffer: false,
    reject: false,
    env: mmdebstrapEnv(),
    detached: true,
  });
  let killTimer: NodeJS.Timeout | undefined;
  const stopChild = () => {
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    signalGroup("SIGTERM");
    killTimer ??= setTimeout(() => signalGroup("SIGKILL"), 10_000);
    killTimer.unref();
  };
  signal?.addEventListener("abort", stopChild, { once: true });
  const stderrTail: string[] = [];
  const progress = followMmdebstrapProgress(emit, started);
  if (child.stderr) {
    createInterface({ input: child.stderr }).on("line", (line) => {
      progress(line);
      stderrTail.push(line);
      if (stderrTail.length > 40) stderrTail.shift();
      emit({ type: "selftest-base-log", line });
    });
  }

  // The import starts with the first byte of the tarball (mmdebstrap writes it
  // only at its very end), so no request idles on the engine for minutes. If the
  // import fails, mmdebstrap is stopped: nothing would read its output any more.
  const stdout = child.stdout as Readable;
  const importDone = (async () => {
    const hasData = await new Promise<boolean>((resolve) => {
      stdout.once("readable", () => resolve(true));
      stdout.once("end", () => resolve(false));
      child.then(() => resolve(stdout.readableLength > 0));
    });
    if (!hasData) throw new Error("mmdebstrap wrote no tarball");
    const response = await docker.importImage(stdout, {
      repo: repository,
      tag: partialTag,
      ...(signal === undefined ? {} : { abortSignal: signal }),
    });
    await followDockerProgress(docker, response);
  })().catch((error: unknown) => {
    stopChild();
    stdout.resume();
    throw error;
  });
  const [imported, result] = await Promise.all([
    importDone.then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    child,
  ]).finally(() => {
    signal?.removeEventListener("abort", stopChild);
    if (killTimer) clearTimeout(killTimer);
  });

  const removePartial = async () => {
    try {
      await docker.getImage(partialRef).remove();
    } catch {
      // Not there (the import failed before creating it): nothing to clean.
    }
  };

  if (signal?.aborted) {
    await removePartial();
    throw abortedError(signal.reason);
  }
  if (result.exitCode !== 0 || result.failed) {
    await removePartial();
    if (result.code === "ENOENT" || (result.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      throw imageBuilderErrors.create("MMDEBSTRAP_NOT_FOUND", `${binary} was not found on PATH`, {
        cause: result.cause,
      });
    }
    const brokenPipe = stderrTail.some((l) => /broken pipe|EPIPE/i.test(l));
    const killedByUs = result.signal === "SIGTERM" || result.signal === "SIGKILL";
    if (!imported.ok && (brokenPipe || killedByUs) && !String(imported.error).includes("wrote no tarball")) {
      throw imageBuilderErrors.create(
        "DOCKER_IMPORT_FAILED",
        `The Docker engine stopped reading the root filesystem: ${String(imported.error)}`,
        { cause: imported.error },
      );
    }
    throw imageBuilderErrors.create(
      "MMDEBSTRAP_FAILED",
      `mmdebstrap exited with ${result.exitCode ?? result.signal ?? "an error"} while building ${tag}:\n${stderrTail.slice(-15).join("\n")}`,
      {
        cause: result.cause,
        hint: mmdebstrapFailureHint(stderrTail, recipe.arch),
        details: { command: [binary, ...args], stderrTail: [...stderrTail] },
      },
    );
  }
  if (!imported.ok) {
    await removePartial();
    throw imageBuilderErrors.create(
      "DOCKER_IMPORT_FAILED",
      `docker import of ${tag} failed: ${String(imported.error)}`,
      {
        cause: imported.error,
      },
    );
  }

  try {
    const imported = await inspectImage(docker, partialRef);
    if (imported !== undefined && imported.arch !== recipe.arch) {
      await markPlatform(docker, partialRef, tag, recipe.arch, signal);
      emit({ type: "selftest-base-platform", tag, arch: recipe.arch });
    } else {
      await docker.getImage(partialRef).tag({ repo: repository, tag: hash });
    }
  } catch (cause) {
    if (imageBuilderErrors.is(cause, "DOCKER_IMPORT_FAILED") || imageBuilderErrors.is(cause, "ABORTED")) {
      await removePartial();
      throw cause;
    }
    await removePartial();
    throw imageBuilderErrors.create("DOCKER_IMPORT_FAILED", `Could not tag the imported base as ${tag}`, { cause });
  }
  // Removing the temporary reference only untags it: the image stays under its real tag.
  await removePartial().catch(() => {});
  emit({ type: "selftest-base-created", tag, durationMs: Date.now() - started });
  return { tag, created: true };
}
