import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HexclaveError } from "@hexclave/qemu-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FaultServer, startFaultServer } from "../../test-support/fault-server.js";
import { makeSmallQcow2, type SmallQcow2 } from "../../test-support/small-qcow2.js";
import { type DownloadVerifiedOptions, downloadVerified } from "./download-verified.js";
import type { DownloadEvent } from "./events.js";

const FILE = "/images/small.qcow2";

let work: string;
let qcow2: SmallQcow2;
let server: FaultServer;
let dir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-dl-"));
  qcow2 = await makeSmallQcow2(work);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
beforeEach(async () => {
  server = await startFaultServer();
  server.setFile(FILE, qcow2.data);
  dir = await mkdtemp(join(work, "case-"));
});
afterEach(async () => {
  await server.close();
});

/** Short timeouts and backoff so faults cost milliseconds. */
function options(extra: Partial<DownloadVerifiedOptions> & { events?: DownloadEvent[] } = {}): DownloadVerifiedOptions {
  const { events, ...rest } = extra;
  return {
    url: `${server.url}${FILE}`,
    dest: join(dir, "out.qcow2"),
    expectedDigest: { algorithm: "sha512", hex: qcow2.sha512 },
    retries: 4,
    backoff: { minMs: 20, maxMs: 100 },
    timeouts: { connectMs: 2000, responseMs: 1000, idleMs: 1000 },
    progressIntervalMs: 0,
    onEvent: (event) => events?.push(event),
    ...rest,
  };
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

describe("downloadVerified against the fault server", () => {
  it("downloads, verifies and renames; no part, sidecar or lock is left", async () => {
    const events: DownloadEvent[] = [];
    const result = await downloadVerified(options({ events }));
    expect(result).toMatchObject({ size: qcow2.data.length, reused: false, attempts: 1 });
    expect(Buffer.compare(await readFile(result.path), qcow2.data)).toBe(0);
    for (const leftover of [".part", ".part.json", ".lock"]) expect(existsSync(result.path + leftover)).toBe(false);
    const last = events.filter((e) => e.type === "download-progress").at(-1);
    expect(last).toMatchObject({ transferred: qcow2.data.length, total: qcow2.data.length, etaSeconds: 0 });
    expect(server.requests(FILE)).toHaveLength(1);
    expect(server.requests(FILE)[0]?.range).toBeUndefined();
  });

  it("resumes after a connection cut mid-file with Range + If-Range", async () => {
    server.script(FILE, [{ kind: "cut", afterBytes: 512 * 1024 }]);
    const events: DownloadEvent[] = [];
    const result = await downloadVerified(options({ events }));
    expect(Buffer.compare(await readFile(result.path), qcow2.data)).toBe(0);
    const [first, second] = server.requests(FILE);
    expect(first?.fault).toBe("cut");
    expect(second?.range).toMatch(/^bytes=\d+-$/);
    const from = Number(/bytes=(\d+)-/.exec(second?.range ?? "")?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(512 * 1024);
    expect(second?.ifRange).toMatch(/^"[0-9a-f]+"$/);
    expect(second?.status).toBe(206);
    expect(events).toContainEqual({ type: "download-resumed", from });
    expect(events.some((e) => e.type === "download-retry")).toBe(true);
  });

  it("resumes a partial file left by an earlier failed call (sidecar remembers the ETag)", async () => {
    server.script(FILE, [{ kind: "cut", afterBytes: 300_000 }]);
    await expectError(downloadVerified(options({ retries: 0 })), "DOWNLOAD_FAILED");
    const dest = join(dir, "out.qcow2");
    expect(existsSync(`${dest}.part`)).toBe(true);
    expect(JSON.parse(await readFile(`${dest}.part.json`, "utf8"))).toMatchObject({ validator: { etag: /"/ } });
    const result = await downloadVerified(options());
    expect(Buffer.compare(await readFile(result.path), qcow2.data)).toBe(0);
    expect(server.requests(FILE)[1]?.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(server.requests(FILE)[1]?.status).toBe(206);
  });

  it("retries two 503s, then succeeds", async () => {
    server.script(FILE, [
      { kind: "status", status: 503 },
      { kind: "status", status: 503 },
    ]);
    const events: DownloadEvent[] = [];
    const result = await downloadVerified(options({ events }));
    expect(result.attempts).toBe(3);
    expect(server.requests(FILE).map((r) => r.status)).toEqual([503, 503, 200]);
    expect(events.filter((e) => e.type === "download-retry")).toEqual([
      { type: "download-retry", attempt: 1, reason: "HTTP 503" },
      { type: "download-retry", attempt: 2, reason: "HTTP 503" },
    ]);
  });

  it("fails at once on a 404 (no retry)", async () => {
    const error = await expectError(downloadVerified(options({ url: `${server.url}/missing` })), "DOWNLOAD_HTTP_ERROR");
    expect(error.message).toContain("HTTP 404");
    expect(server.requests("/missing")).toHaveLength(1);
  });

  it("rejects a wrong checksum with both digests; nothing is kept", async () => {
    const wrong = randomBytes(qcow2.data.length);
    server.script(FILE, [{ kind: "body", data: wrong }]);
    const error = await expectError(downloadVerified(options()), "DOWNLOAD_DIGEST_MISMATCH");
    const actual = createHash("sha512").update(wrong).digest("hex");
    expect(error.message).toContain(qcow2.sha512);
    expect(error.message).toContain(actual);
    expect(error.details).toMatchObject({ expected: qcow2.sha512, actual });
    const dest = join(dir, "out.qcow2");
    for (const p of [dest, `${dest}.part`, `${dest}.part.json`, `${dest}.lock`]) expect(existsSync(p)).toBe(false);
  });

  it("times out a server that never answers, retries and succeeds", async () => {
    server.script(FILE, [{ kind: "stall-headers" }]);
    const events: DownloadEvent[] = [];
    const result = await downloadVerified(options({ events }));
    expect(Buffer.compare(await readFile(result.path), qcow2.data)).toBe(0);
    const retry = events.find((e) => e.type === "download-retry");
    expect(retry).toMatchObject({ attempt: 1, reason: expect.stringMatching(/timed out/) });
  });

  it("times out a server that stalls mid-body, then resumes", async () => {
    server.script(FILE, [{ kind: "stall-body", afterBytes: 256 * 1024 }]);
    const events: DownloadEvent[] = [];
    const result = await downloadVerified(options({ events }));
    expect(Buffer.compare(await readFile(result.path), qcow2.data)).toBe(0);
    expect(server.requests(FILE)[1]?.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(events.some((e) => e.type === "download-resumed")).toBe(true);
  });

  it("restarts from zero when the file changed between attempts (ETag changed)", async () => {
    const changed = Buffer.concat([qcow2.data.subarray(0, 1000), randomBytes(qcow2.data.length - 1000)]);
    server.script(FILE, [{ step: { kind: "cut", afterBytes: 400_000 }, after: () => server.setFile(FILE, changed) }]);
    const events: DownloadEvent[] = [];
    const result = await downloadVerified(
      options({
        events,
        expectedDigest: { algorithm: "sha256", hex: createHash("sha256").update(changed).digest("hex") },
      }),
    );
    expect(Buffer.compare(await readFile(result.path), changed)).toBe(0);
    const [, second] = server.requests(FILE);
    expect(second?.range).toMatch(/^bytes=/);
    expect(second?.status).toBe(200);
    expect(events.some((e) => e.type === "download-restarted")).toBe(true);
    expect(events.some((e) => e.type === "download-resumed")).toBe(false);
  });

  it("falls back to Last-Modified for If-Range when the server sends no ETag", async () => {
    await server.close();
    server = await startFaultServer({ etags: false });
    const file = server.setFile(FILE, qcow2.data);
    server.script(FILE, [{ kind: "cut", afterBytes: 200_000 }]);
    await downloadVerified(options());
    expect(server.requests(FILE)[1]?.ifRange).toBe(file.lastModified);
    expect(server.requests(FILE)[1]?.status).toBe(206);
  });

  it("refuses to start without enough free space", async () => {
    const error = await expectError(
      downloadVerified(options({ checkFreeSpace: async () => 1000 })),
      "DOWNLOAD_NO_SPACE",
    );
    expect(error.message).toMatch(/needs .* but only 1000 B is free/);
    expect(existsSync(join(dir, "out.qcow2"))).toBe(false);
  });

  it("refuses a file larger than maxBytes; the part file is removed", async () => {
    const error = await expectError(downloadVerified(options({ maxBytes: 100_000 })), "DOWNLOAD_TOO_LARGE");
    expect(error.details).toMatchObject({ size: qcow2.data.length, maxBytes: 100_000 });
    const dest = join(dir, "out.qcow2");
    for (const p of [dest, `${dest}.part`, `${dest}.part.json`]) expect(existsSync(p)).toBe(false);
  });

  it("shares one transfer between two concurrent downloads of the same file", async () => {
    const a: DownloadEvent[] = [];
    const b: DownloadEvent[] = [];
    const [ra, rb] = await Promise.all([
      downloadVerified(options({ events: a })),
      downloadVerified(options({ events: b })),
    ]);
    expect(server.requests(FILE)).toHaveLength(1);
    expect([ra.reused, rb.reused].sort()).toEqual([false, true]);
    expect([...a, ...b].filter((e) => e.type === "download-lock-wait")).toHaveLength(1);
    expect(Buffer.compare(await readFile(ra.path), qcow2.data)).toBe(0);
  });

  it("takes over a stale lock left by a dead process", async () => {
    const dest = join(dir, "out.qcow2");
    await writeFile(
      `${dest}.lock`,
      JSON.stringify({
        pid: 2 ** 22 + 12345,
        hostname: (await import("node:os")).hostname(),
        createdAt: "",
        token: "x",
      }),
    );
    const result = await downloadVerified(options());
    expect(result.reused).toBe(false);
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it("aborts with ABORTED and keeps the part for a later resume", async () => {
    server.script(FILE, [{ kind: "stall-body", afterBytes: 100_000 }]);
    const controller = new AbortController();
    const events: DownloadEvent[] = [];
    const promise = downloadVerified(
      options({
        signal: controller.signal,
        timeouts: { idleMs: 30_000, responseMs: 30_000 },
        onEvent: (event) => {
          events.push(event);
          if (event.type === "download-progress" && event.transferred >= 100_000) controller.abort();
        },
      }),
    );
    await expectError(promise, "ABORTED");
    const dest = join(dir, "out.qcow2");
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.lock`)).toBe(false);
    expect(existsSync(`${dest}.part.json`)).toBe(true);
  });

  it("goes through HTTP_PROXY, and around it for NO_PROXY hosts", async () => {
    const proxied: string[] = [];
    // A CONNECT proxy, as hpagent tunnels both http and https through CONNECT.
    const proxy = createServer((_req, res) => res.writeHead(405).end());
    proxy.on("connect", (req, client: Socket, head: Buffer) => {
      proxied.push(req.url ?? "");
      const [host, port] = (req.url ?? "").split(":");
      const upstream = connect(Number(port), host ?? "", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      await downloadVerified(options({ env: { HTTP_PROXY: proxyUrl } }));
      expect(proxied).toEqual([new URL(server.url).host]);
      await downloadVerified(
        options({ dest: join(dir, "direct.qcow2"), env: { HTTP_PROXY: proxyUrl, NO_PROXY: "127.0.0.1" } }),
      );
      expect(proxied).toHaveLength(1);
      expect(server.requests(FILE)).toHaveLength(2);
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
