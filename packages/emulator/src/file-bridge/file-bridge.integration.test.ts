/**
 * The file bridge over real HTTP on 127.0.0.1 against real temp directories.
 * Every refusal is checked twice: the HTTP status, and that nothing outside
 * the served root changed (a snapshot of every file beside the root).
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configFileSession } from "./config-file-session.js";
import type { FileBridgeEvent } from "./file-bridge-events.js";
import { type FileBridge, type FileBridgeOptions, startFileBridge } from "./file-bridge-server.js";

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A raw HTTP request: the path goes out exactly as written (no URL normalisation of `..`). */
function send(
  port: number,
  method: string,
  path: string,
  options: {
    token?: string | undefined;
    body?: Buffer | string;
    chunked?: boolean;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined && options.chunked !== true) {
      headers["content-length"] = String(Buffer.byteLength(options.body));
    }
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    // The server may close after refusing a body it did not read: the reply has already arrived.
    req.on("error", reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** Every file and link under `dir` except `exclude`, with a digest of its bytes (or link target). */
async function snapshotTree(dir: string, exclude: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (current: string) => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (full === exclude) continue;
      const rel = relative(dir, full);
      if (entry.isDirectory()) {
        out[`${rel}/`] = "dir";
        await walk(full);
      } else if (entry.isSymbolicLink()) {
        out[rel] = "link";
      } else {
        const info = await stat(full);
        out[rel] = `${createHash("sha256")
          .update(await readFile(full))
          .digest("hex")}:${info.mtimeMs}`;
      }
    }
  };
  await walk(dir);
  return out;
}

let base: string;
let root: string;
let outside: string;
let sentinel: string;
const SENTINEL_TEXT = "outside the project: must never change\n";

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "hexclave-bridge-"));
  root = join(base, "project");
  outside = join(base, "outside");
  sentinel = join(outside, "secret.txt");
  await mkdir(join(root, "src"), { recursive: true });
  await mkdir(outside);
  await writeFile(sentinel, SENTINEL_TEXT);
  await writeFile(join(base, "beside-root.txt"), "also outside\n");
  await writeFile(join(root, "stack.config.ts"), "export const config = { name: 'demo' };\n");
  await writeFile(join(root, "src", "page.tsx"), "page\n");
  await writeFile(join(root, "real.txt"), "real\n");
  await symlink(sentinel, join(root, "link-out")); // a file symlink escaping the root
  await symlink(outside, join(root, "dir-out")); // a directory symlink escaping the root
  await symlink("real.txt", join(root, "link-in")); // a symlink staying inside
  await symlink(join(outside, "not-yet.txt"), join(root, "dangling-out")); // dangling, pointing outside
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("startFileBridge", () => {
  let bridge: FileBridge;
  let events: FileBridgeEvent[];
  let before: Record<string, string>;

  const start = async (extra: Partial<FileBridgeOptions> = {}) => {
    // The whole project granted writable (`--bridge-writable .`); the default scope is tested in file-bridge-security.
    bridge = await startFileBridge({
      root,
      maxBodyBytes: 1024,
      writable: ["."],
      onEvent: (e) => events.push(e),
      ...extra,
    });
    return bridge;
  };
  const call = (method: string, path: string, options: Parameters<typeof send>[3] = {}) =>
    send(bridge.port, method, path, { token: bridge.token, ...options });
  const expectOutsideUntouched = async () => {
    expect(await snapshotTree(base, root)).toEqual(before);
    expect(await readFile(sentinel, "utf8")).toBe(SENTINEL_TEXT);
  };

  beforeEach(async () => {
    events = [];
    before = await snapshotTree(base, root);
    await start();
  });
  afterEach(async () => {
    await bridge.close();
  });

  it("listens on 127.0.0.1 only, on a random port, with a fresh 64-hex token", async () => {
    expect(bridge.url).toBe(`http://127.0.0.1:${bridge.port}`);
    expect(bridge.token).toMatch(/^[0-9a-f]{64}$/);
    expect(events[0]).toEqual({ type: "file-bridge-listening", url: bridge.url, port: bridge.port, root });
    if (process.platform === "linux") {
      // Every listening socket on this port, from the kernel's own table.
      const portHex = bridge.port.toString(16).toUpperCase().padStart(4, "0");
      const listeners = (file: string) =>
        readFile(file, "utf8").then((text) =>
          text
            .split("\n")
            .slice(1)
            .map((line) => line.trim().split(/\s+/))
            .filter((f) => f[1]?.endsWith(`:${portHex}`) && f[3] === "0A")
            .map((f) => f[1]),
        );
      expect(await listeners("/proc/net/tcp")).toEqual([`0100007F:${portHex}`]);
      expect(await listeners("/proc/net/tcp6")).toEqual([]);
    }
  });

  it("serves a host file's bytes, its headers, and directory listings", async () => {
    const got = await call("GET", "/v1/files/stack.config.ts");
    expect(got.status).toBe(200);
    expect(got.body.toString()).toBe("export const config = { name: 'demo' };\n");
    const head = await call("HEAD", "/v1/files/src/page.tsx");
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("5");
    expect(head.body.length).toBe(0);
    expect((await call("GET", "/v1/files/link-in")).body.toString()).toBe("real\n");
    expect((await call("GET", "/v1/files/missing.txt")).status).toBe(404);
    expect((await call("GET", "/v1/files/src")).status).toBe(409);
    const list = await call("GET", "/v1/list/");
    expect(list.status).toBe(200);
    const entries = (JSON.parse(list.body.toString()) as { entries: { name: string; type: string }[] }).entries;
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ["dangling-out", "symlink"],
      ["dir-out", "symlink"],
      ["link-in", "symlink"],
      ["link-out", "symlink"],
      ["real.txt", "file"],
      ["src", "directory"],
      ["stack.config.ts", "file"],
    ]);
    expect(JSON.parse((await call("GET", "/v1/list/src")).body.toString())).toMatchObject({
      path: "src",
      entries: [{ name: "page.tsx", type: "file", size: 5 }],
    });
    expect((await call("GET", "/v1/list/stack.config.ts")).status).toBe(409);
    // One event per request with its status; events fire as responses finish, which under load may trail the
    // client's next request, so they are compared as a multiset.
    const statuses = events.filter((e) => e.type === "file-bridge-request").map((e) => e.status);
    expect(statuses.sort((a, b) => a - b)).toEqual([200, 200, 200, 200, 200, 404, 409, 409]);
    await expectOutsideUntouched();
  });

  it("writes files atomically, creating parent directories, and deletes them", async () => {
    const created = await call("PUT", "/v1/files/new/deep/file%20one.txt", { body: "first" });
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body.toString())).toEqual({ path: "new/deep/file one.txt", bytes: 5 });
    expect(await readFile(join(root, "new", "deep", "file one.txt"), "utf8")).toBe("first");
    const replaced = await call("PUT", "/v1/files/new/deep/file%20one.txt", { body: "second", chunked: true });
    expect(replaced.status).toBe(200);
    expect(await readFile(join(root, "new", "deep", "file one.txt"), "utf8")).toBe("second");
    // Through a symlink that stays inside: the target is written, the link stays a link.
    expect((await call("PUT", "/v1/files/link-in", { body: "real\n" })).status).toBe(200);
    expect(await readFile(join(root, "real.txt"), "utf8")).toBe("real\n");
    expect((await call("DELETE", "/v1/files/new/deep/file%20one.txt")).status).toBe(204);
    expect((await call("GET", "/v1/files/new/deep/file%20one.txt")).status).toBe(404);
    expect((await call("DELETE", "/v1/files/new/deep/file%20one.txt")).status).toBe(404);
    expect((await call("DELETE", "/v1/files/new")).status).toBe(409);
    expect(await readdir(join(root, "new", "deep"))).toEqual([]);
    await rm(join(root, "new"), { recursive: true });
    await expectOutsideUntouched();
  });

  const escapes: readonly [string, string, number, string][] = [
    ["GET", "/v1/files/../outside/secret.txt", 403, "traversal"],
    ["PUT", "/v1/files/../outside/secret.txt", 403, "traversal"],
    ["PUT", "/v1/files/../beside-root.txt", 403, "traversal"],
    ["GET", "/v1/files/%2e%2e/outside/secret.txt", 403, "traversal"],
    ["PUT", "/v1/files/%2E%2E/outside/secret.txt", 403, "traversal"],
    ["GET", "/v1/files/..%2foutside%2fsecret.txt", 403, "traversal"],
    ["PUT", "/v1/files/..%2Foutside%2Fnew.txt", 403, "traversal"],
    ["PUT", "/v1/files/src/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt", 403, "traversal"],
    ["DELETE", "/v1/files/%2e%2e/outside/secret.txt", 403, "traversal"],
    ["GET", "/v1/list/..", 403, "traversal"],
    ["GET", "/v1/files//etc/passwd", 403, "absolute"],
    ["GET", "/v1/files/%2Fetc%2Fpasswd", 403, "absolute"],
    ["GET", "/v1/files/ABSOLUTE_SENTINEL", 403, "absolute"],
    ["PUT", "/v1/files/ABSOLUTE_SENTINEL", 403, "absolute"],
    ["GET", "/v1/files/link-out", 403, "symlink-escape"],
    ["PUT", "/v1/files/link-out", 403, "symlink-escape"],
    ["DELETE", "/v1/files/link-out", 403, "symlink-escape"],
    ["GET", "/v1/files/dir-out/secret.txt", 403, "symlink-escape"],
    ["PUT", "/v1/files/dir-out/secret.txt", 403, "symlink-escape"],
    ["PUT", "/v1/files/dir-out/new.txt", 403, "symlink-escape"],
    ["PUT", "/v1/files/dir-out/sub/dir/new.txt", 403, "symlink-escape"],
    ["GET", "/v1/list/dir-out", 403, "symlink-escape"],
    ["PUT", "/v1/files/dangling-out", 403, "symlink-dangling"],
    ["PUT", "/v1/files/a%00b", 400, "bad-character"],
    ["GET", "/v1/files/%zz", 400, "bad-encoding"],
  ];

  it.each(escapes)(
    "%s %s is refused with %i (%s) and nothing outside is touched",
    async (method, rawPath, status, reason) => {
      const path = rawPath.replace("ABSOLUTE_SENTINEL", encodeURIComponent(sentinel));
      const reply = await call(method, path, method === "PUT" ? { body: "overwritten!" } : {});
      expect(reply.status).toBe(status);
      expect(JSON.parse(reply.body.toString())).toMatchObject({ error: reason });
      expect(events.at(-1)).toMatchObject({ type: "file-bridge-request", method, path, status, refusal: reason });
      await expectOutsideUntouched();
      expect(await readdir(root)).toEqual([
        "dangling-out",
        "dir-out",
        "link-in",
        "link-out",
        "real.txt",
        "src",
        "stack.config.ts",
      ]);
    },
  );

  it("refuses a missing, wrong or malformed token with 401 before anything else, writing nothing", async () => {
    const wrong = "f".repeat(64);
    const cases: [string, string, Parameters<typeof send>[3]][] = [
      ["GET", "/v1/files/stack.config.ts", {}],
      ["GET", "/v1/files/stack.config.ts", { token: wrong }],
      ["GET", "/v1/files/stack.config.ts", { headers: { authorization: bridge.token } }],
      ["GET", "/v1/files/stack.config.ts", { headers: { authorization: `Basic ${bridge.token}` } }],
      ["GET", "/v1/files/../outside/secret.txt", {}],
      ["PUT", "/v1/files/intruder.txt", { token: wrong, body: "x" }],
      ["PUT", "/v1/files/intruder.txt", { body: "x" }],
      ["DELETE", "/v1/files/real.txt", { token: wrong }],
      ["GET", "/v1/list/", {}],
      ["POST", "/nowhere", {}],
    ];
    for (const [method, path, options] of cases) {
      const reply = await send(bridge.port, method, path, options);
      expect(reply.status, `${method} ${path}`).toBe(401);
      expect(reply.headers["www-authenticate"]).toContain("Bearer");
    }
    await expect(stat(join(root, "intruder.txt"))).rejects.toMatchObject({ code: "ENOENT" });
    expect(await readFile(join(root, "real.txt"), "utf8")).toBe("real\n");
    expect(JSON.stringify(events)).not.toContain(bridge.token);
    await expectOutsideUntouched();
  });

  it("refuses an oversized body with 413 and writes nothing (declared or chunked)", async () => {
    const big = Buffer.alloc(64 * 1024, 0x61);
    const declared = await call("PUT", "/v1/files/big.bin", { body: big });
    expect(declared.status).toBe(413);
    const chunked = await call("PUT", "/v1/files/deep/er/big.bin", { body: big, chunked: true });
    expect(chunked.status).toBe(413);
    const justOver = await call("PUT", "/v1/files/big.bin", { body: Buffer.alloc(1025) });
    expect(justOver.status).toBe(413);
    await expect(stat(join(root, "big.bin"))).rejects.toMatchObject({ code: "ENOENT" });
    await expect(stat(join(root, "deep"))).rejects.toMatchObject({ code: "ENOENT" });
    const atLimit = await call("PUT", "/v1/files/limit.bin", { body: Buffer.alloc(1024, 1) });
    expect(atLimit.status).toBe(201);
    expect((await stat(join(root, "limit.bin"))).size).toBe(1024);
    await rm(join(root, "limit.bin"));
    expect((await readdir(root)).filter((n) => n.startsWith("."))).toEqual([]);
    await expectOutsideUntouched();
  });

  it("answers 405 with Allow to other methods and 404 to unknown endpoints", async () => {
    const post = await call("POST", "/v1/files/real.txt", { body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD, PUT, DELETE");
    expect((await call("PATCH", "/v1/list/")).status).toBe(405);
    expect((await call("GET", "/v1/other")).status).toBe(404);
    expect((await call("GET", "/v1/config")).status).toBe(404);
    await expectOutsideUntouched();
  });

  it("keeps concurrent writes atomic: readers and the final file see one whole version", async () => {
    await bridge.close();
    await start({ maxBodyBytes: 10 * 1024 * 1024 });
    const versions = Array.from({ length: 12 }, (_, i) => Buffer.alloc(256 * 1024, 0x41 + i));
    const digests = new Set(versions.map((v) => createHash("sha256").update(v).digest("hex")));
    await call("PUT", "/v1/files/race/shared.bin", { body: versions[0] as Buffer });
    const reads: Promise<Reply>[] = [];
    const writes = versions.map((v, i) => {
      reads.push(call("GET", "/v1/files/race/shared.bin"));
      return call("PUT", "/v1/files/race/shared.bin", { body: v, chunked: i % 2 === 0 });
    });
    const statuses = (await Promise.all(writes)).map((r) => r.status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    for (const read of await Promise.all(reads)) {
      expect(read.status).toBe(200);
      expect(digests.has(createHash("sha256").update(read.body).digest("hex"))).toBe(true);
    }
    const final = await readFile(join(root, "race", "shared.bin"));
    expect(digests.has(createHash("sha256").update(final).digest("hex"))).toBe(true);
    expect(await readdir(join(root, "race"))).toEqual(["shared.bin"]);
    await rm(join(root, "race"), { recursive: true });
    await expectOutsideUntouched();
  });

  it("after close() and a new start on the same port, the old token is refused and the new one works", async () => {
    const old = bridge;
    expect((await call("GET", "/v1/files/real.txt")).status).toBe(200);
    await old.close();
    await expect(send(old.port, "GET", "/v1/files/real.txt", { token: old.token })).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    await start({ port: old.port });
    expect(bridge.port).toBe(old.port);
    expect(bridge.token).not.toBe(old.token);
    expect((await send(bridge.port, "GET", "/v1/files/real.txt", { token: old.token })).status).toBe(401);
    expect((await send(bridge.port, "GET", "/v1/files/real.txt", { token: bridge.token })).status).toBe(200);
    await old.close(); // idempotent
  });

  it("closes when its signal aborts", async () => {
    await bridge.close();
    const controller = new AbortController();
    await start({ signal: controller.signal });
    controller.abort();
    await expect.poll(() => events.some((e) => e.type === "file-bridge-closed")).toBe(true);
    await expect(call("GET", "/v1/files/real.txt")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("serves the --config-file session on /v1/config", async () => {
    await bridge.close();
    const configDir = await mkdtemp(join(tmpdir(), "hexclave-bridge-config-"));
    const hostPath = join(configDir, "stack.config.ts");
    await writeFile(hostPath, "v1\n");
    const session = await configFileSession({ hostPath });
    await start({ configFile: session });
    const got = await call("GET", "/v1/config");
    expect([got.status, got.body.toString()]).toEqual([200, "v1\n"]);
    expect((await call("PUT", "/v1/config", { body: "v2 from the guest\n" })).status).toBe(204);
    expect((await call("GET", "/v1/config")).body.toString()).toBe("v2 from the guest\n");
    expect((await call("PUT", "/v1/config", { body: Buffer.alloc(2048) })).status).toBe(413);
    expect((await call("DELETE", "/v1/config")).status).toBe(405);
    expect(await readFile(hostPath, "utf8")).toBe("v1\n"); // nothing reaches the host before stop
    expect(await session.writeBack()).toMatchObject({ outcome: "written" });
    expect(await readFile(hostPath, "utf8")).toBe("v2 from the guest\n");
    await rm(configDir, { recursive: true });
  });
});

describe("startFileBridge input checks", () => {
  it("refuses any address but 127.0.0.1, a bad port, a weak token, a missing root", async () => {
    const root0 = await mkdtemp(join(tmpdir(), "hexclave-bridge-opts-"));
    await expect(startFileBridge({ root: root0, host: "0.0.0.0" as "127.0.0.1" })).rejects.toMatchObject({
      code: "FILE_BRIDGE_OPTION_INVALID",
    });
    await expect(startFileBridge({ root: root0, port: 70000 })).rejects.toMatchObject({
      code: "FILE_BRIDGE_OPTION_INVALID",
    });
    await expect(startFileBridge({ root: root0, token: "short" })).rejects.toMatchObject({
      code: "FILE_BRIDGE_OPTION_INVALID",
    });
    await expect(startFileBridge({ root: join(root0, "missing") })).rejects.toMatchObject({
      code: "FILE_BRIDGE_ROOT_INVALID",
    });
    await writeFile(join(root0, "file"), "");
    await expect(startFileBridge({ root: join(root0, "file") })).rejects.toMatchObject({
      code: "FILE_BRIDGE_ROOT_INVALID",
    });
    const aborted = AbortSignal.abort();
    await expect(startFileBridge({ root: root0, signal: aborted })).rejects.toMatchObject({ code: "ABORTED" });
    await rm(root0, { recursive: true });
  });

  it("names the port when it is taken", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen({ host: "127.0.0.1", port: 0 }, resolve));
    const port = (holder.address() as { port: number }).port;
    const root0 = await mkdtemp(join(tmpdir(), "hexclave-bridge-port-"));
    const failure = startFileBridge({ root: root0, port });
    await expect(failure).rejects.toMatchObject({ code: "FILE_BRIDGE_LISTEN_FAILED", details: { port } });
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    await rm(root0, { recursive: true });
  });
});
