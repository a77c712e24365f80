/**
 * The guest-side proxy (bridge-proxy.py) against a real host bridge on
 * 127.0.0.1: it adds the token from the fw_cfg file, re-reads that file on
 * every request (a new bridge after a resume is used at once), and answers
 * 503 when the file says "no bridge".
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBridgeProcess, stopBridgeProcess } from "@hexclave/image-builder";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const proxyScript = fileURLToPath(new URL("./bridge-proxy.py", import.meta.url));
let dir: string;
let instanceDir: string;
let project: string;
let proxy: ChildProcess;
let base: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-bridge-proxy-"));
  instanceDir = join(dir, "run");
  project = join(dir, "project");
  await mkdir(instanceDir, { recursive: true });
  await mkdir(project);
  await writeFile(join(project, "a.txt"), "alpha");
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  proxy = spawn("python3", ["-u", proxyScript, String(port)], {
    env: {
      ...process.env,
      HEXCLAVE_FILE_BRIDGE_FWCFG: join(instanceDir, "bridge.fwcfg"),
      HEXCLAVE_FILE_BRIDGE_HOST: "127.0.0.1",
    },
    stdio: "ignore",
  });
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the proxy did not come up");
});

afterAll(async () => {
  proxy?.kill("SIGKILL");
  await stopBridgeProcess(instanceDir).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe("bridge-proxy.py", () => {
  it("503 without a bridge; forwards with the current token; follows a new bridge at once", async () => {
    expect((await fetch(`${base}/v1/files/a.txt`)).status).toBe(503);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true, bridge: false });

    await startBridgeProcess({ instanceDir, projectDir: project });
    const first = await fetch(`${base}/v1/files/a.txt`);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("alpha");
    const put = await fetch(`${base}/v1/files/sub/b.txt`, { method: "PUT", body: "beta" });
    expect(put.status).toBe(201);
    expect((await fetch(`${base}/v1/files/..%2Fx`)).status).toBe(403);

    // A new start: new port and token; the proxy reads them on the next request.
    await startBridgeProcess({ instanceDir, projectDir: project });
    const again = await fetch(`${base}/v1/files/sub/b.txt`);
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("beta");

    await stopBridgeProcess(instanceDir);
    expect((await fetch(`${base}/v1/files/a.txt`)).status).toBe(503);
  });
});
