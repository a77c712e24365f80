/**
 * The guest-side proxy (bridge-proxy.py) against a real host bridge process on
 * 127.0.0.1: it adds the host token from the fw_cfg file, re-reads that file on
 * every request (a new bridge after a resume is used at once), answers 503
 * when the file says "no bridge", serves only a client holding its own
 * per-start credential (issue 15, finding 5), never lets a chunked or cut body
 * truncate a host file (finding 4), and mirrors the `--config-file` to
 * STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT + its host path, where a stand-in of
 * upstream's backend reads and writes it with plain file calls (issue 13).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startBridgeProcess, stopBridgeProcess } from "@hexclave/emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const proxyScript = fileURLToPath(new URL("./bridge-proxy.py", import.meta.url));
let dir: string;
let instanceDir: string;
let project: string;
let mountRoot: string;
let tokenFile: string;
let proxy: ChildProcess;
let port: number;
let base: string;
let guestToken: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const found = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return found;
}

/** Polls `check` until it returns a value (a wait for a state, with a generous deadline; not a timing assertion). */
async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 180_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A request as the backend makes it: with the proxy's credential. */
const guest = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, { ...init, headers: { ...init.headers, authorization: `Bearer ${guestToken}` } });

/** A raw HTTP exchange on one connection: everything the proxy sends until it closes (or `endAfterMs` passes). */
function raw(request: string | Buffer, options: { closeAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let answer = "";
    socket.on("data", (c: Buffer) => {
      answer += c.toString("latin1");
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(answer));
    socket.write(request, () => {
      if (options.closeAfterWrite === true) socket.destroy();
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-bridge-proxy-"));
  instanceDir = join(dir, "run");
  project = join(dir, "project");
  mountRoot = join(dir, "host-mount");
  tokenFile = join(dir, "guest", "token");
  await mkdir(instanceDir, { recursive: true });
  await mkdir(join(project, "sub"), { recursive: true });
  await writeFile(join(project, "a.txt"), "alpha");
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  proxy = spawn("python3", ["-u", proxyScript, String(port)], {
    env: {
      ...process.env,
      HEXCLAVE_FILE_BRIDGE_FWCFG: join(instanceDir, "bridge.fwcfg"),
      HEXCLAVE_FILE_BRIDGE_HOST: "127.0.0.1",
      HEXCLAVE_FILE_BRIDGE_TOKEN_FILE: tokenFile,
      STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT: mountRoot,
    },
    stdio: "ignore",
  });
  await until("the proxy", async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined));
  guestToken = (await readFile(tokenFile, "utf8")).trim();
});

afterAll(async () => {
  proxy?.kill("SIGKILL");
  await stopBridgeProcess(instanceDir).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe("bridge-proxy.py", () => {
  it("503 without a bridge; forwards with the current token; follows a new bridge at once", async () => {
    expect((await guest("/v1/files/a.txt")).status).toBe(503);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true, bridge: false });

    await startBridgeProcess({ instanceDir, projectDir: project, writable: ["sub"] });
    const first = await guest("/v1/files/a.txt");
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("alpha");
    const put = await guest("/v1/files/sub/b.txt", { method: "PUT", body: "beta" });
    expect(put.status).toBe(201);
    expect((await guest("/v1/files/a.txt", { method: "PUT", body: "not granted" })).status).toBe(403);
    expect((await guest("/v1/files/..%2Fx")).status).toBe(403);

    // A new start: new port and token; the proxy reads them on the next request.
    await startBridgeProcess({ instanceDir, projectDir: project, writable: ["sub"] });
    const again = await guest("/v1/files/sub/b.txt");
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("beta");
  });

  it("guest network isolated: the direct route refused (restrict=on), the proxy goes through the guest forward", async () => {
    const bridge = await startBridgeProcess({ instanceDir, projectDir: project, writable: ["sub"] });
    // 127.0.0.2 refuses (the bridge listens on 127.0.0.1 only), as restrict=on resets 10.0.2.2; the forward leads to the bridge.
    const isolatedPort = await freePort();
    const isolatedTokenFile = join(dir, "guest-isolated", "token");
    const isolated = spawn("python3", ["-u", proxyScript, String(isolatedPort)], {
      env: {
        ...process.env,
        HEXCLAVE_FILE_BRIDGE_FWCFG: join(instanceDir, "bridge.fwcfg"),
        HEXCLAVE_FILE_BRIDGE_HOST: "127.0.0.2",
        HEXCLAVE_FILE_BRIDGE_FORWARD: `127.0.0.1:${bridge.port}`,
        HEXCLAVE_FILE_BRIDGE_TOKEN_FILE: isolatedTokenFile,
      },
      stdio: "ignore",
    });
    try {
      const url = `http://127.0.0.1:${isolatedPort}`;
      await until("the isolated proxy", async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));
      const token = (await readFile(isolatedTokenFile, "utf8")).trim();
      const read = await fetch(`${url}/v1/files/a.txt`, { headers: { authorization: `Bearer ${token}` } });
      expect(read.status).toBe(200);
      expect(await read.text()).toBe("alpha");
    } finally {
      isolated.kill("SIGKILL");
    }
  });

  it("finding 5: a guest process without the proxy's credential is refused; only the bridge's routes and methods pass", async () => {
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o400);
    expect(guestToken).toMatch(/^[0-9a-f]{64}$/);
    const noToken = await fetch(`${base}/v1/files/a.txt`);
    expect(noToken.status).toBe(401);
    expect(await noToken.text()).not.toContain("alpha");
    expect((await fetch(`${base}/v1/config`)).status).toBe(401);
    const wrong = await fetch(`${base}/v1/files/a.txt`, { headers: { authorization: `Bearer ${"0".repeat(64)}` } });
    expect(wrong.status).toBe(401);
    // The host token from fw_cfg is not the proxy's credential either.
    const hostToken = /token=([0-9a-f]{64})/.exec(await readFile(join(instanceDir, "bridge.fwcfg"), "utf8"))?.[1];
    expect((await fetch(`${base}/v1/files/a.txt`, { headers: { authorization: `Bearer ${hostToken}` } })).status).toBe(
      401,
    );
    const unauthorisedPut = await fetch(`${base}/v1/files/sub/b.txt`, { method: "PUT", body: "intruder" });
    expect(unauthorisedPut.status).toBe(401);
    expect(await readFile(join(project, "sub", "b.txt"), "utf8")).toBe("beta");
    const post = await guest("/v1/files/a.txt", { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD, PUT, DELETE");
    expect((await guest("/v1/other")).status).toBe(404);
    expect((await guest("/v1/config/extra")).status).toBe(404);
  });

  it("finding 4: a chunked PUT is decoded; a malformed, cut or unframed one never truncates the host file", async () => {
    const target = join(project, "sub", "keep.txt");
    await writeFile(target, "important host content\n");
    const head = (extra: string) =>
      `PUT /v1/files/sub/keep.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${guestToken}\r\n${extra}\r\n`;

    // Malformed chunk size: 400, connection closed, file intact.
    const bad = await raw(`${head("Transfer-Encoding: chunked\r\n")}zz\r\nabc\r\n0\r\n\r\n`);
    expect(bad).toMatch(/^HTTP\/1\.[01] 400 /);
    expect(bad.toLowerCase()).toContain("connection: close");
    // Cut short: the client goes away in the middle of a chunk.
    await raw(`${head("Transfer-Encoding: chunked\r\n")}100\r\nonly a part`, { closeAfterWrite: true });
    // No length at all: 411, not an empty file.
    expect(await raw(head(""))).toMatch(/^HTTP\/1\.[01] 411 /);
    // Both framings (a smuggling attempt), or an unknown coding: refused.
    expect(await raw(`${head("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")}0\r\n\r\n`)).toMatch(
      /^HTTP\/1\.[01] 400 /,
    );
    expect(await raw(`${head("Transfer-Encoding: gzip\r\n")}`)).toMatch(/^HTTP\/1\.[01] 501 /);
    // Give a cut request's host side every chance to (wrongly) finish, then check.
    await until("the cut upload to end on the host", async () => {
      const names = await readdir(join(project, "sub"));
      return names.some((n) => n.endsWith(".hexclave-tmp")) ? undefined : true;
    });
    expect(await readFile(target, "utf8")).toBe("important host content\n");

    // A well-formed chunked PUT, as fetch() sends a stream body, is decoded and written whole.
    const parts = ["first part, ", "second part\n"];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const p of parts) controller.enqueue(new TextEncoder().encode(p));
        controller.close();
      },
    });
    const ok = await guest("/v1/files/sub/keep.txt", { method: "PUT", body: stream, duplex: "half" } as RequestInit);
    expect(ok.status).toBe(200);
    expect(await readFile(target, "utf8")).toBe(parts.join(""));
  });
});

describe("finding 8 (guest side): the proxy streams, and serves at most 16 requests at once", () => {
  it("50 held 4 MiB PUTs through the proxy grow its memory by under 32 MiB (buffered whole: 200 MiB)", async () => {
    await startBridgeProcess({ instanceDir, projectDir: project, writable: ["sub"] });
    const memory = async () => {
      const status = await readFile(`/proc/${proxy.pid}/status`, "utf8");
      const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
      return { peakMiB: kib("VmHWM") / 1024, rssMiB: kib("VmRSS") / 1024 };
    };
    const before = await memory();
    const size = 4 * 1024 * 1024;
    const body = Buffer.alloc(size - 1, 0x62);
    const sockets = [];
    for (let i = 0; i < 50; i++) {
      const socket = connect({ host: "127.0.0.1", port });
      sockets.push(socket);
      socket.on("error", () => {});
      socket.write(
        `PUT /v1/files/sub/held-${i}.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${guestToken}\r\nContent-Length: ${size}\r\n\r\n`,
      );
      // All but the last byte: the request stays in flight until the socket is closed.
      socket.write(body);
    }
    // The state to measure: 16 uploads streamed through to the host bridge's temp files, the rest waiting unread.
    await until(
      "16 uploads through the proxy",
      async () => {
        const temps = (await readdir(join(project, "sub"))).filter((n) => n.endsWith(".hexclave-tmp"));
        const sizes = await Promise.all(temps.map((n) => stat(join(project, "sub", n)).then((i) => i.size)));
        return sizes.filter((n) => n === size - 1).length === 16 ? true : undefined;
      },
      300_000,
    );
    const after = await memory();
    for (const s of sockets) s.destroy();
    console.log(
      `[proxy memory] before ${before.rssMiB.toFixed(0)} MiB; 50 held 4 MiB PUTs: peak ${after.peakMiB.toFixed(0)} MiB`,
    );
    expect(after.peakMiB - before.rssMiB).toBeLessThan(32);
    await until("the cut uploads to end on the host", async () => {
      const names = await readdir(join(project, "sub"));
      return names.some((n) => n.startsWith("held-") || n.endsWith(".hexclave-tmp")) ? undefined : true;
    });
  }, 600_000);
});

/** A stand-in of upstream's backend (apps/backend/src/lib/local-emulator.ts): plain fs calls at mount root + path. */
const STAND_IN_BACKEND = `
const fs = require("fs/promises"), path = require("path");
const [mode, filePath, content] = process.argv.slice(1);
const resolved = path.join(process.env.STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT, filePath);
(async () => {
  if (mode === "read") {
    process.stdout.write(await fs.readFile(resolved, "utf-8"));
  } else {
    await fs.access(path.dirname(resolved)); // upstream refuses when the mount lacks the parent directory
    await fs.writeFile(resolved, content, "utf-8");
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

const backend = async (mode: "read" | "write", filePath: string, content = "") =>
  (
    await promisify(execFile)(process.execPath, ["-e", STAND_IN_BACKEND, mode, filePath, content], {
      env: { ...process.env, STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT: mountRoot },
    })
  ).stdout;

describe("issue 13: --config-file reaches upstream's backend as a file at STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT + host path", () => {
  it("the backend reads the host file and its writes reach the host file at stop; the next start mirrors the host's", async () => {
    const configPath = join(dir, "app", "stack.config.ts");
    await mkdir(join(dir, "app"), { recursive: true });
    await writeFile(configPath, "export const config = { version: 1 };\n");
    const mirror = join(mountRoot, configPath);

    await startBridgeProcess({ instanceDir, projectDir: project, configFile: configPath });
    await until("the mirror of the config file", async () =>
      (await readFile(mirror, "utf8").catch(() => "")) === "export const config = { version: 1 };\n" ? true : undefined,
    );
    expect(await backend("read", configPath)).toBe("export const config = { version: 1 };\n");

    await backend("write", configPath, "export const config = { version: 2 };\n");
    await until("the backend's write to reach the host bridge", async () => {
      const r = await guest("/v1/config");
      return (await r.text()) === "export const config = { version: 2 };\n" ? true : undefined;
    });
    const stopped = await stopBridgeProcess(instanceDir);
    expect(stopped.configFile).toMatchObject({ outcome: "written", hostPath: configPath });
    expect(await readFile(configPath, "utf8")).toBe("export const config = { version: 2 };\n");

    // Edited on the host while the emulator is stopped: the next start (a new bridge) puts the host's version there.
    await writeFile(configPath, "export const config = { version: 'host' };\n");
    await startBridgeProcess({ instanceDir, projectDir: project, configFile: configPath });
    await until("the mirror to follow the new bridge", async () =>
      (await backend("read", configPath)) === "export const config = { version: 'host' };\n" ? true : undefined,
    );
    await stopBridgeProcess(instanceDir);
  }, 600_000);
});
