import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HexclaveError } from "@hexclave/qemu-core";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FaultServer, startFaultServer } from "../../test-support/fault-server.js";
import { makeSmallQcow2, type SmallQcow2 } from "../../test-support/small-qcow2.js";
import { type CloudBaseImageEvent, type CloudBaseImageOptions, fetchCloudBaseImage, probeCloudHost } from "./cloud.js";

const MIRROR_PATH = "/images/cloud/trixie/latest/";
const IMAGE = `${MIRROR_PATH}debian-13-generic-amd64.qcow2`;

let work: string;
let qcow2: SmallQcow2;
let server: FaultServer;
let cacheDir: string;

function sums(entries: Record<string, string>): string {
  return `${Object.entries(entries)
    .map(([name, hex]) => `${hex}  ${name}`)
    .join("\n")}\n`;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-cloud-"));
  qcow2 = await makeSmallQcow2(work);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
beforeEach(async () => {
  server = await startFaultServer();
  server.setFile(IMAGE, qcow2.data);
  server.setFile(
    `${MIRROR_PATH}SHA512SUMS`,
    sums({
      "debian-13-generic-amd64.json": "a".repeat(128),
      "debian-13-generic-amd64.qcow2": qcow2.sha512,
      "debian-13-nocloud-amd64.qcow2": "b".repeat(128),
    }),
  );
  cacheDir = await mkdtemp(join(work, "cache-"));
});
afterEach(async () => {
  await server.close();
});

function options(events?: CloudBaseImageEvent[]): CloudBaseImageOptions {
  return {
    arch: "amd64",
    mirrorUrl: `${server.url}${MIRROR_PATH}`,
    cacheDir,
    retries: 3,
    backoff: { minMs: 20, maxMs: 100 },
    timeouts: { connectMs: 2000, responseMs: 1000, idleMs: 1000 },
    onEvent: (event) => events?.push(event),
  };
}

describe("fetchCloudBaseImage against a local mirror", () => {
  it("downloads the verified qcow2 into the cache keyed by its sha512, then reuses it", async () => {
    const first = await fetchCloudBaseImage(options());
    expect(first).toEqual({
      path: join(cacheDir, "base", `${qcow2.sha512}.qcow2`),
      sha512: qcow2.sha512,
      url: `${server.url}${IMAGE}`,
      fromCache: false,
    });
    const info = JSON.parse((await execa("qemu-img", ["info", "--output=json", first.path])).stdout);
    expect(info.format).toBe("qcow2");
    expect(JSON.parse(await readFile(`${first.path}.json`, "utf8"))).toMatchObject({
      sha512: qcow2.sha512,
      size: qcow2.data.length,
    });

    const events: CloudBaseImageEvent[] = [];
    const second = await fetchCloudBaseImage(options(events));
    expect(second).toEqual({ ...first, fromCache: true });
    expect(events).toContainEqual({ type: "base-cached", path: first.path, sha512: qcow2.sha512 });
    expect(server.requests(IMAGE)).toHaveLength(1);
  });

  it("resumes a cut connection with a Range request", async () => {
    server.script(IMAGE, [{ kind: "cut", afterBytes: 700_000 }]);
    const result = await fetchCloudBaseImage(options());
    expect(
      createHash("sha512")
        .update(await readFile(result.path))
        .digest("hex"),
    ).toBe(qcow2.sha512);
    expect(server.requests(IMAGE).map((r) => r.range !== undefined)).toEqual([false, true]);
    expect(server.requests(IMAGE)[1]?.status).toBe(206);
  });

  it("retries two 503s then succeeds", async () => {
    server.script(IMAGE, [
      { kind: "status", status: 503 },
      { kind: "status", status: 503 },
    ]);
    const result = await fetchCloudBaseImage(options());
    expect(result.fromCache).toBe(false);
    expect(server.requests(IMAGE).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it("times out a stalled server, retries and succeeds", async () => {
    server.script(IMAGE, [{ kind: "stall-body", afterBytes: 100_000 }]);
    const result = await fetchCloudBaseImage(options());
    expect(
      createHash("sha512")
        .update(await readFile(result.path))
        .digest("hex"),
    ).toBe(qcow2.sha512);
    expect(server.requests(IMAGE)).toHaveLength(2);
  });

  it("rejects a file whose checksum does not match SHA512SUMS; nothing is cached", async () => {
    server.script(IMAGE, [{ kind: "body", data: randomBytes(qcow2.data.length) }]);
    const error = await fetchCloudBaseImage(options()).catch((e: unknown) => e);
    expect(HexclaveError.is(error) && error.code).toBe("DOWNLOAD_DIGEST_MISMATCH");
    expect((error as HexclaveError).message).toContain(qcow2.sha512);
    expect(await readdir(join(cacheDir, "base"))).toEqual([]);
  });

  it("does not reuse a cached file whose record names another digest", async () => {
    const first = await fetchCloudBaseImage(options());
    const record = JSON.parse(await readFile(`${first.path}.json`, "utf8"));
    await import("node:fs/promises").then((fs) =>
      fs.writeFile(`${first.path}.json`, JSON.stringify({ ...record, sha512: "c".repeat(128) })),
    );
    const second = await fetchCloudBaseImage(options());
    // The file itself still hashes right, so the downloader re-verifies it instead of fetching it again.
    expect(second.fromCache).toBe(true);
    expect(server.requests(IMAGE)).toHaveLength(1);
    expect(JSON.parse(await readFile(`${first.path}.json`, "utf8")).sha512).toBe(qcow2.sha512);
  });

  it("fails with CLOUD_IMAGE_NOT_LISTED for an arch the mirror does not list", async () => {
    const error = await fetchCloudBaseImage({ ...options(), arch: "arm64" }).catch((e: unknown) => e);
    expect(HexclaveError.is(error) && error.code).toBe("CLOUD_IMAGE_NOT_LISTED");
    expect((error as HexclaveError).message).toContain("debian-13-generic-arm64.qcow2");
    expect(existsSync(join(cacheDir, "base"))).toBe(false);
  });

  it("fails with SHA512SUMS_MALFORMED naming the bad line", async () => {
    server.setFile(`${MIRROR_PATH}SHA512SUMS`, `${qcow2.sha512}  debian-13-generic-amd64.qcow2\nnot a checksum line\n`);
    const error = await fetchCloudBaseImage(options()).catch((e: unknown) => e);
    expect(HexclaveError.is(error) && error.code).toBe("SHA512SUMS_MALFORMED");
    expect((error as HexclaveError).message).toContain("line 2");
  });
});

describe("probeCloudHost", () => {
  it("says reachable when SHA512SUMS answers", async () => {
    const probe = await probeCloudHost(`${server.url}${MIRROR_PATH}`, { timeoutMs: 2000 });
    expect(probe).toMatchObject({ reachable: true, status: 200 });
  });

  it("gives the reason when the host does not answer in time", async () => {
    server.script(`${MIRROR_PATH}SHA512SUMS`, [{ kind: "stall-headers" }]);
    const probe = await probeCloudHost(`${server.url}${MIRROR_PATH}`, { timeoutMs: 300 });
    expect(probe.reachable).toBe(false);
    expect(probe.reachable === false && probe.reason).toMatch(/did not answer: ETIMEDOUT/);
  });

  it("gives the reason for an HTTP error and for a closed port", async () => {
    const missing = await probeCloudHost(`${server.url}/nowhere/`, { timeoutMs: 2000 });
    expect(missing.reachable === false && missing.reason).toMatch(/HTTP 404/);
    const url = server.url;
    await server.close();
    server = await startFaultServer();
    const closed = await probeCloudHost(`${url}${MIRROR_PATH}`, { timeoutMs: 2000 });
    expect(closed.reachable === false && closed.reason).toMatch(/ECONNREFUSED/);
  });
});
