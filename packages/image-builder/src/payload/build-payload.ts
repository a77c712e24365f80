/**
 * The Payload stage: build the profile's Docker image for the target platform
 * (context packed honouring `.dockerignore`, build output streamed as
 * events, failures naming the failing step), then `docker save` it to
 * `<outDir>/payload-<arch>.tar` beside `payload-<arch>.json`, which records
 * the image ID. The export is skipped while the built image ID and the
 * tarball's recorded ID match.
 *
 * Base images (FROM) are checked before the build: each must be present for
 * the platform or pullable; when not, the stage fails at once with
 * REGISTRY_UNREACHABLE, naming `--profile selftest`, and builds nothing.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Arch, HexclaveError } from "@hexclave/qemu-core";
import Dockerode from "dockerode";
import { ensureForeignArch } from "../bootstrap/foreign-arch.js";
import { imageBuilderErrors } from "../errors-data.js";
import {
  type BuildStreamMessage,
  type BuildStreamState,
  initialBuildStreamState,
  isRegistryError,
  reduceBuildMessage,
} from "./build-stream.js";
import { packBuildContext } from "./context.js";
import { externalBaseImages, parseFromInstructions } from "./dockerfile-from.js";

export type PayloadPlatform = "linux/amd64" | "linux/arm64";

export interface PayloadProfile {
  /** Path of the Dockerfile (relative to `context`, or absolute). */
  readonly dockerfile: string;
  /** The build context directory. */
  readonly context: string;
  readonly buildArgs?: Readonly<Record<string, string>> | undefined;
  /** A multi-stage target. */
  readonly target?: string | undefined;
}

export type PayloadEvent =
  | { readonly type: "payload-preflight"; readonly baseImages: readonly string[] }
  | { readonly type: "payload-pull"; readonly image: string }
  | { readonly type: "payload-build-log"; readonly line: string }
  | { readonly type: "payload-step"; readonly index: number; readonly total: number; readonly instruction: string }
  | { readonly type: "payload-built"; readonly imageId: string; readonly tag: string }
  | { readonly type: "payload-saving"; readonly tarball: string }
  | { readonly type: "payload-saved"; readonly tarball: string; readonly size: number }
  | { readonly type: "payload-reused"; readonly imageId: string; readonly tarball: string };

export interface BuildPayloadOptions {
  readonly profile: PayloadProfile;
  readonly platform: PayloadPlatform;
  /** The image tag to build, for example `hexclave-emulator-payload:amd64`. */
  readonly tag: string;
  readonly outDir: string;
  readonly docker?: Dockerode | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: PayloadEvent) => void) | undefined;
  /** Deadline for pulling a missing base image (default 60 s). */
  readonly pullTimeoutMs?: number | undefined;
  /**
   * The hint when a base image is neither local nor pullable; default: build
   * with `--profile selftest`. A caller already building offline passes one that is true for it.
   */
  readonly missingBaseHint?: string | undefined;
}

export interface PayloadResult {
  readonly imageId: string;
  readonly tarball: string;
  readonly size: number;
  readonly reused: boolean;
}

/** The sidecar beside the tarball. */
export interface PayloadRecord {
  readonly version: 1;
  readonly imageId: string;
  readonly tag: string;
  readonly platform: PayloadPlatform;
  readonly size: number;
  readonly savedAt: string;
}

export function platformArch(platform: PayloadPlatform): Arch {
  return platform === "linux/arm64" ? "arm64" : "amd64";
}

/** `<outDir>/payload-<arch>.tar` and its `.json` record. */
export function payloadPaths(outDir: string, platform: PayloadPlatform): { tarball: string; record: string } {
  const arch = platformArch(platform);
  return { tarball: join(outDir, `payload-${arch}.tar`), record: join(outDir, `payload-${arch}.json`) };
}

const SELFTEST_HINT =
  "No container registry can be reached from the Docker engine. Build with --profile selftest, which needs no registry; or restore access to the registry (or docker load the base image) and run again.";

function aborted(signal: AbortSignal | undefined, what: string): HexclaveError {
  return imageBuilderErrors.create("ABORTED", `${what} aborted`, { cause: signal?.reason });
}

/** Reads the engine's JSON-lines stream, one parsed message at a time. */
async function readMessages(stream: Readable, onMessage: (message: BuildStreamMessage) => void): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let message: BuildStreamMessage;
    try {
      message = JSON.parse(line) as BuildStreamMessage;
    } catch {
      message = { stream: line };
    }
    onMessage(message);
  }
}

async function readRecord(path: string): Promise<PayloadRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as PayloadRecord;
  } catch {
    return undefined;
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** Makes sure every external base image is present for the platform, pulling it when missing. */
async function ensureBaseImages(
  docker: Dockerode,
  images: readonly string[],
  options: BuildPayloadOptions,
  dockerfilePath: string,
): Promise<void> {
  const arch = platformArch(options.platform);
  for (const image of images) {
    const local = await docker
      .getImage(image)
      .inspect()
      .catch(() => undefined);
    if (local !== undefined && (local.Architecture === undefined || local.Architecture === arch)) continue;
    const otherArch =
      local === undefined ? "" : ` (the local copy is linux/${local.Architecture}, not ${options.platform})`;
    options.onEvent?.({ type: "payload-pull", image });
    const timeout = AbortSignal.timeout(options.pullTimeoutMs ?? 60_000);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let failure: string | undefined;
    try {
      const stream = (await docker.pull(image, { platform: options.platform, abortSignal: signal })) as Readable;
      signal.addEventListener("abort", () => stream.destroy(), { once: true });
      await readMessages(stream, (message) => {
        if (message.error !== undefined || message.errorDetail !== undefined) {
          failure = message.errorDetail?.message ?? message.error;
        } else if (message.status !== undefined) {
          options.onEvent?.({
            type: "payload-build-log",
            line: [message.id, message.status, message.progress].filter(Boolean).join(" "),
          });
        }
      });
    } catch (error) {
      failure = timeout.aborted
        ? `no answer within ${Math.round((options.pullTimeoutMs ?? 60_000) / 1000)} s`
        : ((error as Error).message ?? String(error));
    }
    if (options.signal?.aborted) throw aborted(options.signal, `Pulling ${image}`);
    if (failure !== undefined) {
      throw imageBuilderErrors.create(
        "REGISTRY_UNREACHABLE",
        `The base image ${image} (FROM in ${dockerfilePath}) is not in the local Docker engine for ${options.platform}${otherArch}, and pulling it failed: ${failure.trim()}`,
        {
          hint: options.missingBaseHint ?? SELFTEST_HINT,
          details: { image, platform: options.platform, reason: failure.trim() },
        },
      );
    }
  }
}

/** Builds the payload image and exports it; see the module comment. */
export async function buildPayload(options: BuildPayloadOptions): Promise<PayloadResult> {
  const { profile, platform, tag, outDir, signal, onEvent } = options;
  const docker = options.docker ?? new Dockerode();
  if (signal?.aborted) throw aborted(signal, "Payload build");
  try {
    await docker.ping();
  } catch (error) {
    throw imageBuilderErrors.create(
      "DOCKER_UNREACHABLE",
      `The Docker engine does not answer: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }

  const contextDir = resolve(profile.context);
  const dockerfilePath = resolve(contextDir, profile.dockerfile);
  let dockerfileText: string;
  try {
    if (!(await stat(contextDir)).isDirectory()) throw new Error(`${contextDir} is not a directory`);
    dockerfileText = await readFile(dockerfilePath, "utf8");
  } catch (error) {
    throw imageBuilderErrors.create(
      "PAYLOAD_CONTEXT_INVALID",
      `Cannot read the build context ${contextDir} or its Dockerfile ${dockerfilePath}: ${(error as Error).message}`,
      { cause: error, details: { context: contextDir, dockerfile: dockerfilePath } },
    );
  }

  // RUN steps of a foreign platform run through the host's binfmt_misc handler, as in the bootstrap stage.
  await ensureForeignArch(platformArch(platform));
  // Preflight: base images present or pullable, before anything is built.
  const buildArgs = profile.buildArgs ?? {};
  const baseImages = externalBaseImages(parseFromInstructions(dockerfileText, buildArgs));
  onEvent?.({ type: "payload-preflight", baseImages });
  await ensureBaseImages(docker, baseImages, options, dockerfilePath);

  // Build.
  const packed = await packBuildContext(contextDir, dockerfilePath);
  let state: BuildStreamState = initialBuildStreamState;
  try {
    const stream = (await docker.buildImage(packed.stream, {
      t: tag,
      dockerfile: packed.dockerfile,
      buildargs: { ...buildArgs },
      platform,
      rm: true,
      forcerm: true,
      ...(profile.target === undefined ? {} : { target: profile.target }),
      ...(signal === undefined ? {} : { abortSignal: signal }),
    })) as Readable;
    signal?.addEventListener("abort", () => stream.destroy(), { once: true });
    await readMessages(stream, (message) => {
      const before = state.lastStep;
      const next = reduceBuildMessage(state, message);
      state = next.state;
      for (const line of next.lines) onEvent?.({ type: "payload-build-log", line });
      if (state.lastStep !== undefined && state.lastStep !== before) {
        const { index, total, instruction } = state.lastStep;
        onEvent?.({ type: "payload-step", index, total, instruction });
      }
    });
  } catch (error) {
    if (signal?.aborted) throw aborted(signal, "Payload build");
    throw imageBuilderErrors.create(
      "DOCKER_BUILD_FAILED",
      `The Docker build of ${tag} failed: ${(error as Error).message}`,
      {
        cause: error,
        details: { tag, tail: state.tail },
      },
    );
  }
  if (signal?.aborted) throw aborted(signal, "Payload build");
  if (state.error !== undefined) {
    const step = state.lastStep;
    if (isRegistryError(state.error)) {
      throw imageBuilderErrors.create(
        "REGISTRY_UNREACHABLE",
        `The Docker build of ${tag} needs a registry that cannot be reached${step === undefined ? "" : ` (at ${step.line})`}: ${state.error}`,
        { hint: SELFTEST_HINT, details: { tag, step: step?.line, error: state.error } },
      );
    }
    throw imageBuilderErrors.create(
      "DOCKER_BUILD_FAILED",
      `The Docker build of ${tag} failed at ${step === undefined ? "an unknown step" : `"${step.line}"`}: ${state.error}`,
      { details: { tag, step: step?.line, stepIndex: step?.index, error: state.error, tail: state.tail } },
    );
  }
  const inspected = await docker.getImage(tag).inspect();
  const imageId = inspected.Id;
  onEvent?.({ type: "payload-built", imageId, tag });

  // Export, unless the tarball already holds this image.
  await mkdir(outDir, { recursive: true });
  const paths = payloadPaths(outDir, platform);
  const record = await readRecord(paths.record);
  const existingSize = await fileSize(paths.tarball);
  if (record?.version === 1 && record.imageId === imageId && existingSize === record.size) {
    onEvent?.({ type: "payload-reused", imageId, tarball: paths.tarball });
    return { imageId, tarball: paths.tarball, size: existingSize, reused: true };
  }
  onEvent?.({ type: "payload-saving", tarball: paths.tarball });
  await rm(paths.record, { force: true });
  const temp = `${paths.tarball}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const saved = (await docker.getImage(tag).get()) as Readable;
    await pipeline(saved, createWriteStream(temp), ...(signal === undefined ? [] : [{ signal }]));
    await rename(temp, paths.tarball);
  } catch (error) {
    await rm(temp, { force: true });
    if (signal?.aborted) throw aborted(signal, "docker save");
    throw imageBuilderErrors.create(
      "PAYLOAD_EXPORT_FAILED",
      `docker save of ${tag} failed: ${(error as Error).message}`,
      {
        cause: error,
        details: { tag, tarball: paths.tarball },
      },
    );
  }
  const size = (await stat(paths.tarball)).size;
  const newRecord: PayloadRecord = { version: 1, imageId, tag, platform, size, savedAt: new Date().toISOString() };
  const recordTemp = `${paths.record}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(recordTemp, `${JSON.stringify(newRecord, null, 2)}\n`);
  await rename(recordTemp, paths.record);
  onEvent?.({ type: "payload-saved", tarball: paths.tarball, size });
  return { imageId, tarball: paths.tarball, size, reused: false };
}
