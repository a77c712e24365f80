/**
 * The Payload stage against the real Docker engine here. There is no registry,
 * so the base image is made offline: the host's /bin/sh, cat and ls with the
 * libraries ldd names, imported with `docker import`.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { HexclaveError } from "@hexclave/qemu-core";
import Dockerode from "dockerode";
import { execa } from "execa";
import { pack } from "tar-fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPayload, type PayloadEvent } from "./build-payload.js";

const docker = new Dockerode();
const BASE = `hexclave-test-offline-base:${process.pid}`;
const TAG = `hexclave-test-payload:${process.pid}`;
const FAIL_TAG = `hexclave-test-payload-fail:${process.pid}`;
const REGISTRY_TAG = `hexclave-test-payload-registry:${process.pid}`;
let work: string;

async function drain(stream: Readable): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** A tiny base image with a shell, made from host binaries: no registry needed. */
async function importOfflineBase(tag: string): Promise<void> {
  const root = await mkdtemp(join(work, "rootfs-"));
  const files = new Set<string>();
  for (const binary of ["/bin/sh", "/bin/cat", "/bin/ls"]) {
    files.add(binary);
    const { stdout } = await execa("ldd", [binary]);
    for (const match of stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) if (match[1] !== undefined) files.add(match[1]);
  }
  for (const file of files) {
    const target = join(root, file);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target); // follows symlinks: the real bytes land at the expected path
  }
  await mkdir(join(root, "tmp"), { recursive: true });
  const stream = (await docker.importImage(pack(root) as unknown as NodeJS.ReadableStream, {
    repo: tag.split(":")[0],
    tag: tag.split(":")[1],
  })) as Readable;
  await drain(stream);
}

async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(work, "ctx-"));
  await writeFile(join(dir, "Dockerfile"), dockerfile);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

async function imageExists(tag: string): Promise<boolean> {
  return docker
    .getImage(tag)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

async function expectError(promise: Promise<unknown>, code: string): Promise<HexclaveError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(HexclaveError.is(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as HexclaveError).code).toBe(code);
  return error as HexclaveError;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-payload-"));
  await importOfflineBase(BASE);
});

afterAll(async () => {
  for (const tag of [TAG, FAIL_TAG, REGISTRY_TAG, BASE]) {
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
  }
  await rm(work, { recursive: true, force: true });
});

describe("buildPayload with the real Docker engine", () => {
  it("builds with build args and .dockerignore, exports a tarball, then reuses it", async () => {
    const dir = await context(
      [
        "ARG BASE=missing-base:0",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
        "FROM ${BASE}",
        "ARG GREETING=unset",
        "COPY . /ctx/",
        'RUN echo "greeting=$GREETING" && ls /ctx',
        "",
      ].join("\n"),
      {
        ".dockerignore": "secret.txt\nlogs/\n",
        "keep.txt": "kept\n",
        "secret.txt": "must not be sent\n",
        "logs/build.log": "noise\n",
      },
    );
    const outDir = join(work, "out");
    const events: PayloadEvent[] = [];
    const profile = { dockerfile: "Dockerfile", context: dir, buildArgs: { BASE, GREETING: "from-test" } };
    const first = await buildPayload({
      profile,
      platform: "linux/amd64",
      tag: TAG,
      outDir,
      docker,
      onEvent: (e) => events.push(e),
    });
    expect(first.reused).toBe(false);
    expect(first.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.tarball).toBe(join(outDir, "payload-amd64.tar"));
    expect(first.size).toBe((await stat(first.tarball)).size);

    const log = events.flatMap((e) => (e.type === "payload-build-log" ? [e.line] : []));
    expect(log).toContain("greeting=from-test");
    expect(log.some((line) => /keep\.txt/.test(line))).toBe(true);
    expect(log.some((line) => /secret\.txt|logs/.test(line))).toBe(false);
    expect(events).toContainEqual({
      type: "payload-step",
      index: 5,
      total: 5,
      instruction: expect.stringMatching(/^RUN/),
    });
    expect(events).toContainEqual({ type: "payload-preflight", baseImages: [BASE] });

    // The tarball is a real docker save of the tag, with the recorded ID beside it.
    const { stdout } = await execa("tar", ["-xOf", first.tarball, "manifest.json"]);
    expect(JSON.parse(stdout)[0].RepoTags).toContain(TAG);
    const record = JSON.parse(await readFile(join(outDir, "payload-amd64.json"), "utf8"));
    expect(record).toMatchObject({ imageId: first.imageId, tag: TAG, platform: "linux/amd64", size: first.size });

    const mtime = (await stat(first.tarball)).mtimeMs;
    const again: PayloadEvent[] = [];
    const second = await buildPayload({
      profile,
      platform: "linux/amd64",
      tag: TAG,
      outDir,
      docker,
      onEvent: (e) => again.push(e),
    });
    expect(second).toEqual({ ...first, reused: true });
    expect(again).toContainEqual({ type: "payload-reused", imageId: first.imageId, tarball: first.tarball });
    expect((await stat(first.tarball)).mtimeMs).toBe(mtime);
  });

  it("fails a failing RUN step with DOCKER_BUILD_FAILED naming the step", async () => {
    const dir = await context(`FROM ${BASE}\nRUN echo before\nRUN echo about to fail && exit 3\nRUN echo never\n`);
    const outDir = join(work, "out-fail");
    const error = await expectError(
      buildPayload({
        profile: { dockerfile: "Dockerfile", context: dir },
        platform: "linux/amd64",
        tag: FAIL_TAG,
        outDir,
        docker,
      }),
      "DOCKER_BUILD_FAILED",
    );
    expect(error.message).toContain("Step 3/4 : RUN echo about to fail && exit 3");
    expect(error.message).toMatch(/returned a non-zero code: 3/);
    expect(error.details).toMatchObject({ stepIndex: 3 });
    expect(await imageExists(FAIL_TAG)).toBe(false);
    await expect(stat(join(outDir, "payload-amd64.tar"))).rejects.toThrow();
  });

  it("fails at once with REGISTRY_UNREACHABLE naming --profile selftest when a base image cannot be pulled", async () => {
    const dir = await context("FROM hexclave-test-never-published/payload-base:1\nRUN echo never\n");
    const events: PayloadEvent[] = [];
    const started = Date.now();
    const error = await expectError(
      buildPayload({
        profile: { dockerfile: "Dockerfile", context: dir },
        platform: "linux/amd64",
        tag: REGISTRY_TAG,
        outDir: join(work, "out-registry"),
        docker,
        pullTimeoutMs: 30_000,
        onEvent: (e) => events.push(e),
      }),
      "REGISTRY_UNREACHABLE",
    );
    expect(error.message).toContain("hexclave-test-never-published/payload-base:1");
    expect(error.hint).toContain("--profile selftest");
    expect(events.some((e) => e.type === "payload-step")).toBe(false);
    expect(await imageExists(REGISTRY_TAG)).toBe(false);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("rejects a missing Dockerfile with PAYLOAD_CONTEXT_INVALID", async () => {
    const dir = await mkdtemp(join(work, "empty-"));
    await expectError(
      buildPayload({
        profile: { dockerfile: "Dockerfile", context: dir },
        platform: "linux/amd64",
        tag: FAIL_TAG,
        outDir: join(work, "out-empty"),
        docker,
      }),
      "PAYLOAD_CONTEXT_INVALID",
    );
  });
});
