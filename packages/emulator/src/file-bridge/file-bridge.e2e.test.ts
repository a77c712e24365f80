/**
 * The file bridge end to end (issue 10) on the shared self-test image under
 * TCG, one VM: the guest (inside the `hexclave` container, through the proxy
 * on 127.0.0.1:8110 that reads fw_cfg on every request) reads and writes host
 * project files; escapes, a wrong token and an oversized body are refused and
 * nothing outside is touched; only 127.0.0.1 listens; after stop (suspend) and
 * start (resume) the new token works and the old one is refused; and
 * `--config-file` is in the guest, written back at stop, and a concurrent host
 * change is a conflict with both versions kept.
 */
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selftestImage } from "#fixtures/image-builder/selftest-image.global-setup.js";
import { createEmulator, type Emulator, type EmulatorStartResult } from "../emulator.js";
import type { EmulatorEvent } from "../events.js";
import { imagePaths } from "../layout.js";
import { BRIDGE_FORWARD_ADDRESS, BRIDGE_FORWARD_PORT } from "../machine/guest-network.js";
import { readBridgeRecord, stopBridgeProcess } from "./index.js";

const ports = { dashboard: 29700, backend: 29701, minio: 29702, inbucket: 29703 };
const settings = { arch: "amd64" as const, cpus: 2, memoryMb: 2048, ports, timeoutMs: 12 * 60_000 };
const MAX_BODY = 1024 * 1024;
const PROXY = "http://127.0.0.1:8110";

let home: string;
let project: string;
let outside: string;
let configPath: string;
let emulator: Emulator;

/**
 * One HTTP request made by python3 inside the guest's container; body `@N` is N bytes of "x". Token `guest` is
 * the proxy's credential as the backend holds it (its token file), `-` none.
 */
const REQUEST_PY = `
import sys, json, urllib.request, urllib.error
method, url, body, token = sys.argv[1:5]
data = None if body == "-" else (b"x" * int(body[1:]) if body.startswith("@") else body.encode())
req = urllib.request.Request(url, data=data, method=method)
if token == "guest":
    token = open("/run/hexclave-bridge/token").read().strip()
if token != "-":
    req.add_header("Authorization", "Bearer " + token)
try:
    r = urllib.request.urlopen(req, timeout=60)
    print(json.dumps({"status": r.status, "body": r.read().decode("latin1")}))
except urllib.error.HTTPError as e:
    print(json.dumps({"status": e.code, "body": e.read().decode("latin1")}))
`;

async function inContainer(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const agent = await emulator.vm.guestAgent({ timeoutMs: 15_000 });
  try {
    const r = await agent.exec("/usr/bin/docker", ["exec", "hexclave", ...args], { timeoutMs: 120_000 });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    agent.close();
  }
}

async function guestRequest(method: string, url: string, body = "-", token = url.startsWith(PROXY) ? "guest" : "-") {
  const r = await inContainer(["python3", "-c", REQUEST_PY, method, url, body, token]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

/** The fw_cfg payload as the container sees it. */
async function guestEndpoint(): Promise<{ port: number; token: string }> {
  const r = await inContainer(["cat", "/run/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw"]);
  const m = /^hexclave-bridge\/1 port=(\d{5}) token=([0-9a-f]{64})\n$/.exec(r.stdout);
  expect(m, r.stdout + r.stderr).not.toBeNull();
  return { port: Number(m?.[1]), token: m?.[2] as string };
}

async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir)) out[name] = await readFile(join(dir, name), "utf8");
  return out;
}

async function start(): Promise<EmulatorStartResult> {
  const r = await emulator.start({
    ...settings,
    fileBridge: {
      projectDir: project,
      configFile: configPath,
      maxBodyBytes: MAX_BODY,
      writable: [join(project, "from-guest"), join(project, "big.bin")],
    },
  });
  if (!r.ready) console.log(`[file-bridge e2e] not ready: ${r.failing.join(", ")}\n${r.serialTail.join("\n")}`);
  expect(r.ready).toBe(true);
  return r;
}

/** Listening TCP sockets (any address) owned by `pid`: "addr:port" from /proc/net/tcp and tcp6. */
async function listeningSockets(pid: number): Promise<string[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1] as string);
  }
  const found: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(file, "utf8")).split("\n").slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A" || !inodes.has(f[9] as string)) continue;
      const [hexAddr, hexPort] = (f[1] as string).split(":") as [string, string];
      const addr =
        hexAddr.length === 8
          ? (hexAddr.match(/../g) ?? [])
              .reverse()
              .map((b) => Number.parseInt(b, 16))
              .join(".")
          : `[${hexAddr}]`;
      found.push(`${addr}:${Number.parseInt(hexPort, 16)}`);
    }
  }
  return found;
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "hx-file-bridge-e2e-"));
  const shared = selftestImage();
  const dest = imagePaths(home, "amd64");
  await mkdir(dest.dir, { recursive: true });
  for (const k of ["image", "manifest", "kernel", "initrd"] as const) {
    await link(shared[k], dest[k]).catch(() => copyFile(shared[k], dest[k]));
  }
  project = join(home, "project");
  outside = join(home, "outside");
  await mkdir(join(project, "docs"), { recursive: true });
  await mkdir(outside);
  await writeFile(join(project, "docs", "readme.txt"), "written on the host\n");
  await writeFile(join(outside, "secret.txt"), "host secret\n");
  await symlink(join(outside, "secret.txt"), join(project, "escape"));
  await symlink(outside, join(project, "outdir"));
  configPath = join(home, "stack.config.ts");
  await writeFile(configPath, "export default { version: 1 };\n");
  emulator = createEmulator({ home, env: {} });
});

afterAll(async () => {
  await emulator?.reset({ hard: true }).catch(() => {});
  await stopBridgeProcess(emulator.paths.dir).catch(() => {});
  emulator?.close();
  await rm(home, { recursive: true, force: true });
});

describe("file bridge on the self-test image", () => {
  let firstToken: string;
  let firstPort: number;

  it("start: the bridge runs on 127.0.0.1 and the guest reads a host file through it", async () => {
    const r = await start();
    expect(r.fileBridge).toMatchObject({ enabled: true, projectDir: project, configFile: configPath });
    const ep = await guestEndpoint();
    expect(ep.port).toBe(r.fileBridge?.port);
    firstToken = ep.token;
    firstPort = ep.port;
    const read = await guestRequest("GET", `${PROXY}/v1/files/docs/readme.txt`);
    expect(read).toEqual({ status: 200, body: "written on the host\n" });
    const list = await guestRequest("GET", `${PROXY}/v1/list/docs`);
    expect(JSON.parse(list.body).entries.map((e: { name: string }) => e.name)).toEqual(["readme.txt"]);
  });

  it("a file written in the guest appears on the host", async () => {
    const put = await guestRequest("PUT", `${PROXY}/v1/files/from-guest/note.txt`, "hello from the guest");
    expect(put.status).toBe(201);
    expect(await readFile(join(project, "from-guest", "note.txt"), "utf8")).toBe("hello from the guest");
  });

  it("refuses escapes, a wrong token and an oversized body, and touches nothing outside", async () => {
    const before = await snapshotDir(outside);
    const refused: Array<[string, string, string, number]> = [
      ["GET", `${PROXY}/v1/files/../outside/secret.txt`, "-", 403],
      ["GET", `${PROXY}/v1/files/docs/..%2F..%2Foutside%2Fsecret.txt`, "-", 403],
      ["GET", `${PROXY}/v1/files/%2Fetc%2Fpasswd`, "-", 403],
      ["GET", `${PROXY}/v1/files/escape`, "-", 403],
      ["PUT", `${PROXY}/v1/files/escape`, "overwrite", 403],
      ["PUT", `${PROXY}/v1/files/outdir/pwned.txt`, "pwned", 403],
      ["PUT", `${PROXY}/v1/files/..%2Foutside%2Fpwned.txt`, "pwned", 403],
      ["DELETE", `${PROXY}/v1/files/escape`, "-", 403],
      ["PUT", `${PROXY}/v1/files/big.bin`, `@${MAX_BODY + 1}`, 413],
    ];
    for (const [method, url, body, status] of refused) {
      expect((await guestRequest(method, url, body)).status, `${method} ${url}`).toBe(status);
    }
    // The proxy without its credential (any other guest process): refused, and a write is not made.
    expect((await guestRequest("GET", `${PROXY}/v1/files/docs/readme.txt`, "-", "-")).status).toBe(401);
    expect((await guestRequest("PUT", `${PROXY}/v1/files/from-guest/x.txt`, "intruder", "-")).status).toBe(401);
    // Not granted by --bridge-writable: read-only.
    expect((await guestRequest("PUT", `${PROXY}/v1/files/docs/readme.txt`, "overwrite")).status).toBe(403);
    // Straight to the host bridge from the guest, through the guest forward (the default isolated network cuts
    // 10.0.2.2): no token, a wrong token, the right one.
    const direct = `http://${BRIDGE_FORWARD_ADDRESS}:${BRIDGE_FORWARD_PORT}/v1/files/docs/readme.txt`;
    expect((await guestRequest("GET", direct)).status).toBe(401);
    expect((await guestRequest("GET", direct, "-", "f".repeat(64))).status).toBe(401);
    expect((await guestRequest("GET", direct, "-", firstToken)).status).toBe(200);

    expect(await snapshotDir(outside)).toEqual(before);
    expect(await readdir(project)).not.toContain("big.bin");
  });

  it("nothing listens on any address but 127.0.0.1 (QEMU and the bridge process)", async () => {
    const status = await emulator.status({ arch: "amd64" });
    const bridge = await readBridgeRecord(emulator.paths.dir);
    const owners = { qemu: status.vm.pid as number, bridge: bridge?.pid as number };
    expect(owners.qemu).toBeGreaterThan(0);
    expect(owners.bridge).toBeGreaterThan(0);
    const all: string[] = [];
    for (const [name, pid] of Object.entries(owners)) {
      const sockets = await listeningSockets(pid);
      for (const s of sockets) expect(s, `${name} listens on ${s}`).toMatch(/^127\.0\.0\.1:\d+$/);
      all.push(...sockets);
    }
    for (const port of [...Object.values(ports), firstPort]) expect(all).toContain(`127.0.0.1:${port}`);
  });

  it("--config-file: in the guest after start, the guest's change is on the host after stop", async () => {
    expect(await guestRequest("GET", `${PROXY}/v1/config`)).toEqual({
      status: 200,
      body: "export default { version: 1 };\n",
    });
    expect((await guestRequest("PUT", `${PROXY}/v1/config`, "export default { version: 2 };\n")).status).toBe(204);
    const stop = await emulator.stop();
    expect(stop).toMatchObject({ wasRunning: true, suspended: true });
    expect(stop.configFile).toEqual({ outcome: "written", hostPath: configPath, backupPath: `${configPath}.bak` });
    expect(await readFile(configPath, "utf8")).toBe("export default { version: 2 };\n");
    expect(await readFile(`${configPath}.bak`, "utf8")).toBe("export default { version: 1 };\n");
    expect(await readBridgeRecord(emulator.paths.dir)).toBeUndefined();
  });

  it("after resume the bridge works with its new token; the old token is refused", async () => {
    const r = await start();
    expect(r.bootKind).toBe("resume");
    const ep = await guestEndpoint();
    expect(ep.token).not.toBe(firstToken);
    expect(await guestRequest("GET", `${PROXY}/v1/files/from-guest/note.txt`)).toEqual({
      status: 200,
      body: "hello from the guest",
    });
    const direct = `http://${BRIDGE_FORWARD_ADDRESS}:${BRIDGE_FORWARD_PORT}/v1/files/docs/readme.txt`;
    expect((await guestRequest("GET", direct, "-", firstToken)).status).toBe(401);
    expect((await guestRequest("GET", direct, "-", ep.token)).status).toBe(200);
    // The config file of this start is the host's current one.
    expect((await guestRequest("GET", `${PROXY}/v1/config`)).body).toBe("export default { version: 2 };\n");
  });

  it("a concurrent host-side change is a conflict: reported, both versions kept", async () => {
    expect((await guestRequest("PUT", `${PROXY}/v1/config`, "export default { version: 3 };\n")).status).toBe(204);
    await writeFile(configPath, "export default { version: 'host edit' };\n");
    const events: EmulatorEvent[] = [];
    const stop = await emulator.stop({ onEvent: (e) => events.push(e) });
    expect(stop.configFile?.outcome).toBe("conflict");
    if (stop.configFile?.outcome !== "conflict") return;
    expect(await readFile(configPath, "utf8")).toBe("export default { version: 'host edit' };\n");
    expect(await readFile(stop.configFile.guestCopyPath, "utf8")).toBe("export default { version: 3 };\n");
    expect(stop.configFile.message).toContain(stop.configFile.guestCopyPath);
    expect(events).toContainEqual(
      expect.objectContaining({ type: "message", level: "warn", text: expect.stringContaining(configPath) }),
    );
  });
});
