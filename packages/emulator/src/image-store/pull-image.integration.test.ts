/**
 * pullImage against the fault-injecting HTTP server on 127.0.0.1 serving a
 * release layout built here from a small real qcow2 and kernel/initrd
 * stand-ins (see test-support/release-layout.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readManifest } from "@hexclave/image-builder/image";
import { instancePaths } from "@hexclave/qemu-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FaultServer, startFaultServer } from "#fixtures/image-builder/fault-server.js";
import { type ReleaseFiles, sha256Of, writeRelease } from "#fixtures/image-builder/release-layout.js";
import { makeSmallQcow2 } from "#fixtures/image-builder/small-qcow2.js";
import { DEFAULT_INSTANCE, imagePaths } from "../layout.js";
import type { PullEvent } from "./pull-events.js";
import { type PullImageOptions, pullImage } from "./pull-image.js";

const V1 = "emulator-main-20250101-0000aaaa";
const V2 = "emulator-main-20250102-0000bbbb";
const IMAGE = "stack-emulator-amd64.qcow2";
const fast = { retries: 4, backoff: { minMs: 10, maxMs: 50 } } as const;

let work: string;
let v1: ReleaseFiles;
let v2: ReleaseFiles;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-pull-"));
  const q1 = await makeSmallQcow2(work, "one.qcow2", 2);
  const q2 = await makeSmallQcow2(work, "two.qcow2", 2);
  v1 = { image: q1.data, kernel: randomBytes(64 * 1024), initrd: randomBytes(96 * 1024) };
  v2 = { image: q2.data, kernel: randomBytes(64 * 1024), initrd: randomBytes(96 * 1024) };
});

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Fixture {
  root: string;
  home: string;
  server: FaultServer;
  events: PullEvent[];
  pull(extra?: Partial<PullImageOptions>): ReturnType<typeof pullImage>;
}

async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(work, "case-"));
  const root = join(dir, "release");
  const home = join(dir, "home");
  await writeRelease({ root, channel: "main", version: V1, files: v1 });
  const server = await startFaultServer({ root });
  cleanups.push(() => server.close());
  const events: PullEvent[] = [];
  return {
    root,
    home,
    server,
    events,
    pull: (extra = {}) =>
      pullImage({
        arch: "amd64",
        channel: "main",
        from: server.url,
        allowInsecureHttp: true,
        home,
        env: {},
        onEvent: (e) => events.push(e),
        ...fast,
        ...extra,
      }),
  };
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string; hint: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; hint: string };
  }
  throw new Error("expected the pull to fail");
}

async function expectInstalled(home: string, files: ReleaseFiles): Promise<void> {
  const paths = imagePaths(home, "amd64");
  expect(sha256Of(await readFile(paths.image))).toBe(sha256Of(files.image));
  expect(sha256Of(await readFile(paths.kernel))).toBe(sha256Of(files.kernel));
  expect(sha256Of(await readFile(paths.initrd))).toBe(sha256Of(files.initrd));
  expect((await readManifest(paths.manifest)).image.sha256).toBe(sha256Of(files.image));
}

/** Everything under images/ (staging included), recursively. */
async function imagesTree(home: string): Promise<string[]> {
  const entries = await readdir(imagePaths(home, "amd64").dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(home.length + 1));
}

describe("pullImage over HTTP", () => {
  it("installs every file verified, records the source, and is a no-op when current", async () => {
    const f = await fixture();
    const result = await f.pull();
    expect(result).toMatchObject({
      status: "installed",
      version: V1,
      sha256: sha256Of(v1.image),
      sizeBytes: v1.image.length,
    });
    await expectInstalled(f.home, v1);
    const manifest = await readManifest(imagePaths(f.home, "amd64").manifest);
    expect(manifest.source).toMatchObject({ kind: "url", url: f.server.url, channel: "main", version: V1 });
    expect(await imagesTree(f.home)).toEqual(
      expect.arrayContaining(["images/stack-emulator-amd64.qcow2", "images/stack-emulator-amd64.json"]),
    );
    expect((await imagesTree(f.home)).some((p) => p.includes(".pull-amd64/"))).toBe(false);
    const progress = f.events.filter((e) => e.type === "download-progress");
    expect(progress.at(-1)).toMatchObject({ total: v1.image.length + v1.kernel.length + v1.initrd.length });

    const before = f.server.log.length;
    const again = await f.pull();
    expect(again).toMatchObject({ status: "current", version: V1, downloadedBytes: 0 });
    expect(f.server.log.slice(before).map((r) => r.path)).toEqual(["/emulator-main.json"]);
  });

  it("resumes a file whose connection was cut mid-way with Range + If-Range", async () => {
    const f = await fixture();
    const path = `/${V1}/${IMAGE}`;
    f.server.script(path, [{ kind: "cut", afterBytes: 512 * 1024 }]);
    await f.pull();
    await expectInstalled(f.home, v1);
    const requests = f.server.requests(path);
    expect(requests).toHaveLength(2);
    expect(requests[0]?.range).toBeUndefined();
    expect(requests[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/bytes=(\d+)-/.exec(requests[1]?.range ?? "")?.[1])).toBeGreaterThan(0);
    expect(requests[1]?.ifRange).toBeDefined();
    expect(requests[1]?.status).toBe(206);
    expect(f.events).toContainEqual(expect.objectContaining({ type: "download-resumed", file: IMAGE }));
  });

  it("restarts from zero when the file changed between attempts (new ETag)", async () => {
    const f = await fixture();
    const path = `/${V1}/${IMAGE}`;
    f.server.script(path, [
      {
        step: { kind: "cut", afterBytes: 512 * 1024 },
        // Re-published: same bytes, new validators; If-Range no longer matches.
        after: () => f.server.setFile(path, v1.image, { etag: '"republished"' }),
      },
    ]);
    await f.pull();
    await expectInstalled(f.home, v1);
    const requests = f.server.requests(path);
    expect(requests).toHaveLength(2);
    expect(requests[1]?.range).toMatch(/^bytes=\d+-$/);
    expect(requests[1]?.ifRange).not.toBe('"republished"');
    expect(requests[1]?.status).toBe(200);
    expect(requests[1]?.bytesSent).toBe(v1.image.length);
    expect(f.events).toContainEqual(expect.objectContaining({ type: "download-restarted", file: IMAGE }));
  });

  it("retries 503s on the pointer and the image, then succeeds", async () => {
    const f = await fixture();
    f.server.script("/emulator-main.json", [
      { kind: "status", status: 503 },
      { kind: "status", status: 503 },
    ]);
    f.server.script(`/${V1}/${IMAGE}`, [
      { kind: "status", status: 503 },
      { kind: "status", status: 503 },
    ]);
    await f.pull();
    await expectInstalled(f.home, v1);
    expect(f.server.requests("/emulator-main.json").map((r) => r.status)).toEqual([503, 503, 200]);
    expect(f.server.requests(`/${V1}/${IMAGE}`).map((r) => r.status)).toEqual([503, 503, 200]);
    expect(f.events.filter((e) => e.type === "download-retry")).toHaveLength(2);
  });

  it("rejects a file with the wrong digest: the old image is kept, the partial file removed", async () => {
    const f = await fixture();
    await f.pull();
    await writeRelease({ root: f.root, channel: "main", version: V2, files: v2 });
    const corrupted = Buffer.from(v2.image);
    corrupted[corrupted.length - 100] = (corrupted[corrupted.length - 100] ?? 0) ^ 0xff;
    f.server.script(`/${V2}/${IMAGE}`, [{ kind: "body", data: corrupted }]);
    const error = await errorOf(f.pull());
    expect(error.code).toBe("DOWNLOAD_DIGEST_MISMATCH");
    await expectInstalled(f.home, v1);
    const tree = await imagesTree(f.home);
    expect(tree.filter((p) => p.endsWith(".part") || p.endsWith(".part.json"))).toEqual([]);
    expect(tree).not.toContain(`images/.pull-amd64/${IMAGE}`);
    expect((await readManifest(imagePaths(f.home, "amd64").manifest)).source?.version).toBe(V1);

    // The next pull (the mirror fixed) installs V2.
    await expect(f.pull()).resolves.toMatchObject({ status: "installed", version: V2 });
    await expectInstalled(f.home, v2);
  });

  it("refuses a pointer of a format version it does not know, asking to upgrade the CLI", async () => {
    const f = await fixture();
    const pointer = JSON.parse(await readFile(join(f.root, "emulator-main.json"), "utf8")) as Record<string, unknown>;
    f.server.setFile("/emulator-main.json", JSON.stringify({ ...pointer, formatVersion: 2, arches: { future: {} } }));
    const error = await errorOf(f.pull());
    expect(error.code).toBe("POINTER_FORMAT_UNSUPPORTED");
    expect(error.message).toContain("format version 2");
    expect(error.hint).toMatch(/Upgrade the Hexclave CLI/);
    expect(f.server.log.map((r) => r.path)).toEqual(["/emulator-main.json"]);
  });

  it("stops before downloading when the disk is too small: clear error, nothing half-installed", async () => {
    const f = await fixture();
    await f.pull();
    await writeRelease({ root: f.root, channel: "main", version: V2, files: v2 });
    const error = await errorOf(f.pull({ freeSpace: async () => 1024 * 1024 }));
    expect(error.code).toBe("PULL_NO_SPACE");
    expect(error.message).toMatch(/needs 2\.\d MiB .* only 1\.0 MiB is free/);
    expect(f.server.requests(`/${V2}/${IMAGE}`)).toHaveLength(0);
    await expectInstalled(f.home, v1);
    expect((await imagesTree(f.home)).filter((p) => p.includes(IMAGE) && !p.startsWith(`images/${IMAGE}`))).toEqual([]);
  });

  it("pulls a given version through its SHA256SUMS, whatever the channel points at", async () => {
    const f = await fixture();
    await writeRelease({ root: f.root, channel: "main", version: V2, files: v2 });
    const result = await f.pull({ version: V1 });
    expect(result).toMatchObject({ status: "installed", version: V1 });
    await expectInstalled(f.home, v1);
    expect(f.server.requests("/emulator-main.json")).toHaveLength(0);
    expect(f.server.requests(`/${V1}/SHA256SUMS`)).toHaveLength(1);
    expect((await readManifest(imagePaths(f.home, "amd64").manifest)).source).not.toHaveProperty("channel");
  });

  it("refuses to replace the image under a running emulator", async () => {
    const f = await fixture();
    await f.pull();
    await writeRelease({ root: f.root, channel: "main", version: V2, files: v2 });
    // A live process of this instance (its command line names the instance directory), as qemu-core identifies QEMU.
    const instance = instancePaths(f.home, DEFAULT_INSTANCE);
    await mkdir(instance.dir, { recursive: true });
    const fake: ChildProcess = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e6)", instance.dir], {
      stdio: "ignore",
    });
    cleanups.push(async () => {
      fake.kill("SIGKILL");
    });
    await writeFile(instance.pidFile, `${fake.pid}\n`);
    const error = await errorOf(f.pull());
    expect(error.code).toBe("PULL_EMULATOR_RUNNING");
    expect(error.hint).toMatch(/stack emulator stop/);
    expect(f.server.requests(`/${V2}/${IMAGE}`)).toHaveLength(0);
    await expectInstalled(f.home, v1);
  });
});

describe("pullImage from a local directory", () => {
  it("installs from <dir>/emulator-<channel>.json and <dir>/<version>/", async () => {
    const f = await fixture();
    const result = await f.pull({ from: f.root });
    expect(result).toMatchObject({ status: "installed", version: V1 });
    await expectInstalled(f.home, v1);
    expect((await readManifest(imagePaths(f.home, "amd64").manifest)).source).toMatchObject({
      kind: "directory",
      url: f.root,
      version: V1,
    });
    expect(f.server.log).toHaveLength(0);
    await expect(f.pull({ from: f.root })).resolves.toMatchObject({ status: "current" });
  });

  it("installs a directory holding one release flat (downloaded assets)", async () => {
    const f = await fixture();
    const result = await f.pull({ from: join(f.root, V1) });
    expect(result).toMatchObject({ status: "installed", version: V1 });
    await expectInstalled(f.home, v1);
  });

  it("rejects a tampered file in the directory and keeps nothing of it", async () => {
    const f = await fixture();
    await writeFile(join(f.root, V1, "stack-emulator-amd64.initrd"), randomBytes(1000));
    const error = await errorOf(f.pull({ from: f.root }));
    expect(error.code).toBe("DOWNLOAD_DIGEST_MISMATCH");
    const tree = await imagesTree(f.home);
    expect(tree.some((p) => p.endsWith(".part"))).toBe(false);
    expect(tree).not.toContain("images/stack-emulator-amd64.json");
  });
});
