/**
 * The detached bridge process for real: spawned from the sources, token only
 * on stdin and in the 0600 fw_cfg file, stopped with its identity checked,
 * `--config-file` written back (or kept beside on a conflict) by the stopper.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSameProcess, readProcessIdentity } from "@hexclave/qemu-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { launchBridgeProcess, startBridgeProcess, stopBridgeProcess } from "./bridge-process.js";
import { readBridgeRecord, writeBridgeRecord } from "./bridge-record.js";
import { parseBridgeFwCfg } from "./fw-cfg.js";

let dir: string;
let instanceDir: string;
let project: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-bridge-proc-"));
  instanceDir = join(dir, "run", "vm");
  project = join(dir, "project");
  await mkdir(instanceDir, { recursive: true });
  await mkdir(project);
  await writeFile(join(project, "hello.txt"), "from the host\n");
  await writeFile(join(project, "stack.config.ts"), "export default { a: 1 };\n");
});

afterEach(async () => {
  await stopBridgeProcess(instanceDir).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function endpoint() {
  const parsed = parseBridgeFwCfg(await readFile(join(instanceDir, "bridge.fwcfg"), "utf8"));
  if (parsed === undefined) throw new Error("malformed bridge.fwcfg");
  return parsed;
}

const get = (port: number, token: string, path: string) =>
  fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });

describe("startBridgeProcess / stopBridgeProcess", () => {
  it("runs detached with the token off the command line, and writes the config file back at stop", async () => {
    const info = await startBridgeProcess({
      instanceDir,
      projectDir: project,
      configFile: join(project, "stack.config.ts"),
    });
    expect(info).toMatchObject({ enabled: true, guestUrl: `http://10.0.2.2:${info.port}` });
    const ep = await endpoint();
    expect(ep?.port).toBe(info.port);
    const token = ep?.token as string;
    expect((await stat(join(instanceDir, "bridge.fwcfg"))).mode & 0o777).toBe(0o600);

    // The token is in no command line and no record.
    const identity = await readProcessIdentity(info.pid as number);
    expect(identity?.cmdline.join(" ")).not.toContain(token);
    const recordText = await readFile(join(instanceDir, "bridge.json"), "utf8");
    expect(recordText).not.toContain(token);
    expect(await readBridgeRecord(instanceDir)).toMatchObject({ pid: info.pid, port: info.port });

    const hello = await get(info.port as number, token, "/v1/files/hello.txt");
    expect(hello.status).toBe(200);
    expect(await hello.text()).toBe("from the host\n");
    expect((await get(info.port as number, "0".repeat(64), "/v1/files/hello.txt")).status).toBe(401);

    const put = await fetch(`http://127.0.0.1:${info.port}/v1/config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: "export default { a: 2 };\n",
    });
    expect(put.status).toBe(204);
    // Saved before the answer, for a stopper in another process.
    expect(await readFile(join(instanceDir, "bridge-config.guest"), "utf8")).toBe("export default { a: 2 };\n");

    const stopped = await stopBridgeProcess(instanceDir);
    expect(stopped.wasRunning).toBe(true);
    expect(stopped.configFile).toMatchObject({ outcome: "written" });
    expect(await readFile(join(project, "stack.config.ts"), "utf8")).toBe("export default { a: 2 };\n");
    expect(await readFile(join(project, "stack.config.ts.bak"), "utf8")).toBe("export default { a: 1 };\n");
    expect(identity && (await isSameProcess(identity))).toBe(false);
    expect(await endpoint()).toBeNull();
    await expect(get(info.port as number, token, "/v1/files/hello.txt")).rejects.toThrow();
    expect(await readBridgeRecord(instanceDir)).toBeUndefined();
  });

  it("a new start has a new token; a host-side change meanwhile is a conflict with both versions kept", async () => {
    const config = join(project, "stack.config.ts");
    const first = await startBridgeProcess({ instanceDir, projectDir: project });
    const firstToken = (await endpoint())?.token;
    const second = await startBridgeProcess({ instanceDir, projectDir: project, configFile: config });
    // The first process was stopped by the second start.
    expect(second.previous).toMatchObject({ wasRunning: true });
    const ep = await endpoint();
    expect(ep?.token).not.toBe(firstToken);
    expect((await get(second.port as number, firstToken as string, "/v1/list/")).status).toBe(401);
    expect(first.pid).not.toBe(second.pid);

    await fetch(`http://127.0.0.1:${second.port}/v1/config`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ep?.token}` },
      body: "guest version\n",
    });
    await writeFile(config, "host version\n");
    const stopped = await stopBridgeProcess(instanceDir);
    expect(stopped.configFile?.outcome).toBe("conflict");
    if (stopped.configFile?.outcome !== "conflict") return;
    expect(await readFile(config, "utf8")).toBe("host version\n");
    expect(await readFile(stopped.configFile.guestCopyPath, "utf8")).toBe("guest version\n");
    expect(stopped.configFile.error.code).toBe("CONFIG_FILE_CONFLICT");
  });

  it("disabled: no process, and the guest reads 'no bridge'", async () => {
    const info = await startBridgeProcess({ instanceDir, projectDir: project, enabled: false });
    expect(info).toMatchObject({ enabled: false, pid: null, port: null });
    expect(await endpoint()).toBeNull();
    await expect(
      startBridgeProcess({ instanceDir, projectDir: project, enabled: false, configFile: join(project, "x") }),
    ).rejects.toMatchObject({ code: "FILE_BRIDGE_OPTION_INVALID" });
  });

  it("bad project dir or config file: typed errors, nothing left running", async () => {
    await expect(startBridgeProcess({ instanceDir, projectDir: join(dir, "nope") })).rejects.toMatchObject({
      code: "FILE_BRIDGE_ROOT_INVALID",
    });
    await expect(
      startBridgeProcess({ instanceDir, projectDir: project, configFile: join(project, "missing.ts") }),
    ).rejects.toMatchObject({ code: "CONFIG_FILE_INVALID" });
    expect(await readBridgeRecord(instanceDir)).toBeUndefined();
  });

  it("launch: the port is bound and the fw_cfg file written before the process is up; a request made then is served", async () => {
    const launched = await launchBridgeProcess({ instanceDir, projectDir: project });
    const { port, token } = await endpoint().then((ep) => ({ port: ep?.port as number, token: ep?.token as string }));
    expect(port).toBe(launched.info.port);
    // Sent at once: the connection waits in the socket's backlog until the process serves on the socket.
    const early = get(port, token, "/v1/files/hello.txt");
    const info = await launched.ready;
    expect(info).toMatchObject({ enabled: true, port, pid: launched.info.pid });
    const answered = await early;
    expect(answered.status).toBe(200);
    expect(await answered.text()).toBe("from the host\n");
    // Only the bridge process holds the socket (this process's copy was closed once handed over): once it is
    // stopped, nothing answers on the port.
    expect(await readBridgeRecord(instanceDir)).toMatchObject({ pid: info.pid, port });
    const stopped = await stopBridgeProcess(instanceDir);
    expect(stopped.wasRunning).toBe(true);
    await expect(fetch(`http://127.0.0.1:${port}/v1/files/hello.txt`)).rejects.toThrow();
  });

  it("launch on a port another process holds: FILE_BRIDGE_LISTEN_FAILED naming it, no process, no port in the fw_cfg file", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen({ host: "127.0.0.1", port: 0 }, () => resolve()));
    const held = (holder.address() as AddressInfo).port;
    try {
      await expect(launchBridgeProcess({ instanceDir, projectDir: project, port: held })).rejects.toMatchObject({
        code: "FILE_BRIDGE_LISTEN_FAILED",
        message: expect.stringContaining(`127.0.0.1:${held}`),
      });
      expect(await readBridgeRecord(instanceDir)).toBeUndefined();
      expect(await endpoint().catch(() => null)).toBeNull();
    } finally {
      holder.close();
    }
  });

  it("abandon: a start that failed before awaiting the process leaves nothing running and 'no bridge' for the guest", async () => {
    const launched = await launchBridgeProcess({ instanceDir, projectDir: project });
    const pid = launched.info.pid as number;
    await launched.abandon();
    await expect(launched.ready).rejects.toMatchObject({ code: "FILE_BRIDGE_PROCESS_FAILED" });
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await endpoint()).toBeNull();
    await expect(fetch(`http://127.0.0.1:${launched.info.port}/`)).rejects.toThrow();
  });

  it("a record whose pid now belongs to another process: that process is left alone", async () => {
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const identity = await readProcessIdentity(other.pid as number);
      await writeBridgeRecord(instanceDir, {
        formatVersion: 1,
        pid: other.pid as number,
        // Same pid, another start time: a reused pid.
        ...(identity ? { identity: { ...identity, startTime: "1" } } : {}),
        port: 1,
        projectDir: project,
        startedAt: new Date().toISOString(),
        configFile: null,
      });
      const stopped = await stopBridgeProcess(instanceDir);
      expect(stopped.wasRunning).toBe(false);
      expect(identity && (await isSameProcess(identity))).toBe(true);
    } finally {
      other.kill("SIGKILL");
    }
  });
});
