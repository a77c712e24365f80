/**
 * `pull` against hostile mirrors on 127.0.0.1: names that leave the staging
 * directory, symbolic links planted in it, plain http without the opt-in,
 * oversized and compression-bomb pointers, and an installed image whose bytes
 * changed under the same size. Nothing outside the emulator home changes.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { manifestFileName } from "@hexclave/image-builder/image";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FaultServer, startFaultServer } from "#fixtures/image-builder/fault-server.js";
import { type ReleaseFiles, sampleManifest, sha256Of, writeRelease } from "#fixtures/image-builder/release-layout.js";
import { makeSmallQcow2 } from "#fixtures/image-builder/small-qcow2.js";
import { imagePaths } from "../layout.js";
import { type PullImageOptions, pullImage } from "./pull-image.js";

const V1 = "emulator-main-20250101-0000aaaa";
const fast = { retries: 1, backoff: { minMs: 10, maxMs: 20 } } as const;
const VICTIM_BYTES = Buffer.from("the user's own file: must never change\n");

let work: string;
let files: ReleaseFiles;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-pull-confine-"));
  const q = await makeSmallQcow2(work, "one.qcow2", 2);
  files = { image: q.data, kernel: randomBytes(4096), initrd: randomBytes(4096) };
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Case {
  readonly dir: string;
  readonly home: string;
  readonly root: string;
  readonly victim: string;
  pull(server: { url: string }, extra?: Partial<PullImageOptions>): ReturnType<typeof pullImage>;
}

/** `<dir>/home` is the emulator home, `<dir>/victim.txt` is `../../../victim.txt` from its staging directory. */
async function newCase(): Promise<Case> {
  const dir = await mkdtemp(join(work, "case-"));
  const home = join(dir, "home");
  const root = join(dir, "mirror");
  const victim = join(dir, "victim.txt");
  await mkdir(root, { recursive: true });
  await writeFile(victim, VICTIM_BYTES);
  return {
    dir,
    home,
    root,
    victim,
    pull: (server, extra = {}) =>
      pullImage({
        arch: "amd64",
        from: server.url,
        allowInsecureHttp: true,
        home,
        env: {},
        ...fast,
        ...extra,
      }),
  };
}

async function serve(root: string): Promise<FaultServer> {
  const server = await startFaultServer({ root });
  cleanups.push(() => server.close());
  return server;
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; message: string; hint: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; hint: string };
  }
  throw new Error("expected the pull to fail");
}

/** Every file under `dir` except the home, with its sha256: what a pull must leave alone. */
async function outsideHome(c: Case): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(c.dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (e.isFile() && !path.startsWith(`${c.home}/`))
      out[path] = createHash("sha256")
        .update(await readFile(path))
        .digest("hex");
  }
  return out;
}

const hostile = Buffer.from("attacker bytes\n");
const TRAVERSAL = "../../../victim.txt";

describe("pull from a hostile mirror", () => {
  it("refuses a flat release whose SHA256SUMS and manifest name ../../../victim.txt; the file outside stays byte-identical", async () => {
    const c = await newCase();
    const manifest = sampleManifest({
      image: { size: hostile.length, sha256: sha256Of(hostile) },
      kernelSha256: sha256Of(files.kernel),
      initrdSha256: sha256Of(files.initrd),
    });
    const evil = { ...manifest, image: { ...manifest.image, file: TRAVERSAL } };
    const manifestText = `${JSON.stringify(evil)}\n`;
    await writeFile(join(c.root, manifestFileName("amd64")), manifestText);
    // A complete, consistent release otherwise: kernel and initrd listed and served, so only the names can stop it.
    await writeFile(join(c.root, manifest.boot.kind === "kernel" ? manifest.boot.kernel.file : "k"), files.kernel);
    await writeFile(join(c.root, manifest.boot.kind === "kernel" ? manifest.boot.initrd.file : "i"), files.initrd);
    await writeFile(
      join(c.root, "SHA256SUMS"),
      [
        `${sha256Of(manifestText)}  ${manifestFileName("amd64")}`,
        `${sha256Of(hostile)}  ${TRAVERSAL}`,
        `${sha256Of(files.kernel)}  ${manifest.boot.kind === "kernel" ? manifest.boot.kernel.file : "k"}`,
        `${sha256Of(files.initrd)}  ${manifest.boot.kind === "kernel" ? manifest.boot.initrd.file : "i"}`,
        "",
      ].join("\n"),
    );
    const server = await serve(c.root);
    server.setFile(`/${encodeURIComponent(TRAVERSAL)}`, hostile);
    const before = await outsideHome(c);
    const error = await errorOf(c.pull(server));
    expect(error.code).toBe("RELEASE_INVALID");
    expect(error.message).toContain("not a plain file name");
    expect(await readFile(c.victim)).toEqual(VICTIM_BYTES);
    expect(await outsideHome(c)).toEqual(before);
    expect(server.log.map((r) => r.path)).not.toContain(`/${encodeURIComponent(TRAVERSAL)}`);
  });

  it("refuses the same manifest when SHA256SUMS lists only plain names (the manifest's own name is checked)", async () => {
    const c = await newCase();
    const manifest = sampleManifest({
      image: { size: hostile.length, sha256: sha256Of(hostile) },
      kernelSha256: sha256Of(files.kernel),
      initrdSha256: sha256Of(files.initrd),
    });
    const manifestText = `${JSON.stringify({ ...manifest, image: { ...manifest.image, file: TRAVERSAL } })}\n`;
    await writeFile(join(c.root, manifestFileName("amd64")), manifestText);
    await writeFile(join(c.root, "SHA256SUMS"), `${sha256Of(manifestText)}  ${manifestFileName("amd64")}\n`);
    const server = await serve(c.root);
    const before = await outsideHome(c);
    const error = await errorOf(c.pull(server));
    expect(error).toMatchObject({ code: "RELEASE_INVALID", message: expect.stringContaining("not plain file names") });
    expect(await readFile(c.victim)).toEqual(VICTIM_BYTES);
    expect(await outsideHome(c)).toEqual(before);
  });

  it("refuses a channel pointer that names ../../../victim.txt", async () => {
    const c = await newCase();
    const pointer = await writeRelease({ root: c.root, channel: "main", version: V1, files });
    const evil = JSON.parse(JSON.stringify(pointer)) as { arches: { amd64: { files: { name: string }[] } } };
    const first = evil.arches.amd64.files[0];
    if (first) first.name = TRAVERSAL;
    await writeFile(join(c.root, "emulator-main.json"), JSON.stringify(evil));
    const server = await serve(c.root);
    const before = await outsideHome(c);
    const error = await errorOf(c.pull(server));
    expect(error.code).toBe("POINTER_INVALID");
    expect(await readFile(c.victim)).toEqual(VICTIM_BYTES);
    expect(await outsideHome(c)).toEqual(before);
  });

  it("never writes through a symbolic link planted in the staging directory", async () => {
    const c = await newCase();
    await writeRelease({ root: c.root, channel: "main", version: V1, files });
    const staging = join(imagePaths(c.home, "amd64").dir, ".pull-amd64");
    await mkdir(staging, { recursive: true });
    await symlink(c.victim, join(staging, "stack-emulator-amd64.json.part"));
    const server = await serve(c.root);
    const before = await outsideHome(c);
    const error = await errorOf(c.pull(server));
    expect(error).toMatchObject({ code: "RELEASE_INVALID", message: expect.stringContaining("symbolic link") });
    expect(await readFile(c.victim)).toEqual(VICTIM_BYTES);
    expect(await outsideHome(c)).toEqual(before);
  });

  it("refuses a plain http:// mirror without --allow-insecure-http, before any request", async () => {
    const c = await newCase();
    await writeRelease({ root: c.root, channel: "main", version: V1, files });
    const server = await serve(c.root);
    const error = await errorOf(c.pull(server, { allowInsecureHttp: false }));
    expect(error).toMatchObject({
      code: "PULL_SOURCE_INVALID",
      hint: expect.stringContaining("--allow-insecure-http"),
    });
    expect(server.log).toEqual([]);
  });

  it("re-installs an image whose bytes changed under the same size (digest, not size, decides 'current')", async () => {
    const c = await newCase();
    await writeRelease({ root: c.root, channel: "main", version: V1, files });
    const server = await serve(c.root);
    expect((await c.pull(server)).status).toBe("installed");
    expect((await c.pull(server)).status).toBe("current");
    const image = imagePaths(c.home, "amd64").image;
    const bytes = await readFile(image);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await writeFile(image, bytes);
    expect((await c.pull(server)).status).toBe("installed");
    expect(sha256Of(await readFile(image))).toBe(sha256Of(files.image));
  });
});

describe("small fetches (pointer, SHA256SUMS) are capped while they stream", () => {
  let server: Server;
  let url: string;
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/bomb/emulator-main.json") {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(bomb);
      } else if (req.url === "/endless/emulator-main.json") {
        // An answer that never ends: 64 KiB chunks until the client hangs up.
        res.writeHead(200, { "content-type": "application/json" });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (res.write(chunk)) if (res.destroyed) return;
          res.once("drain", pump);
        };
        res.on("close", () => res.removeAllListeners("drain"));
        pump();
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("refuses a gzip bomb (64 MiB of zeros in a small gzip answer) once it inflates past the cap", async () => {
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const c = await newCase();
    // Buffers held while the answer streams, sampled: well under the 64 MiB it inflates to.
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }, 1);
    const error = await errorOf(c.pull({ url: `${url}/bomb` })).finally(() => clearInterval(sampler));
    expect(error).toMatchObject({
      code: "RELEASE_INVALID",
      message: expect.stringContaining("after any decompression"),
    });
    expect(peak).toBeLessThan(24 * 1024 * 1024);
  });

  it("refuses an answer that never ends, while it streams", async () => {
    const c = await newCase();
    const error = await errorOf(c.pull({ url: `${url}/endless` }));
    expect(error).toMatchObject({ code: "RELEASE_INVALID", message: expect.stringContaining("larger than") });
  });
});
