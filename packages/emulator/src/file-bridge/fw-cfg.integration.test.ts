/** The runtime hooks with a real bridge on 127.0.0.1 and real files. */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseBridgeFwCfg, startEmulatorFileBridge } from "./fw-cfg.js";

let base: string;
let project: string;
let instanceDir: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "hexclave-hooks-"));
  project = join(base, "project");
  instanceDir = join(base, "run", "vm");
  await mkdir(project);
  await writeFile(join(project, "stack.config.ts"), "v1\n");
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const get = (url: string, token: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } });

describe("startEmulatorFileBridge", () => {
  it("hands each start a new port and token through the fw_cfg file, and kills the old one at stop", async () => {
    const first = await startEmulatorFileBridge({ instanceDir, projectDir: project });
    const fwCfgPath = join(instanceDir, "bridge.fwcfg");
    expect(first.fwCfg).toEqual({ name: "opt/hexclave/bridge", file: fwCfgPath });
    expect((await stat(fwCfgPath)).mode & 0o777).toBe(0o600);
    const endpoint1 = parseBridgeFwCfg(await readFile(fwCfgPath, "utf8"));
    expect(endpoint1).toEqual({ port: first.bridge?.port, token: first.bridge?.token });
    expect(first.guestUrl).toBe(`http://10.0.2.2:${first.bridge?.port}`);
    const url1 = `http://127.0.0.1:${endpoint1?.port}/v1/files/stack.config.ts`;
    expect(await (await get(url1, endpoint1?.token ?? "")).text()).toBe("v1\n");
    expect(await first.stop()).toEqual({ configFile: null });
    expect(parseBridgeFwCfg(await readFile(fwCfgPath, "utf8"))).toBeNull();

    const second = await startEmulatorFileBridge({ instanceDir, projectDir: project, port: endpoint1?.port ?? 0 });
    const endpoint2 = parseBridgeFwCfg(await readFile(fwCfgPath, "utf8"));
    expect(endpoint2?.port).toBe(endpoint1?.port);
    expect(endpoint2?.token).not.toBe(endpoint1?.token);
    expect(second.fwCfg).toEqual(first.fwCfg); // same QEMU arguments on every start
    expect((await get(url1, endpoint1?.token ?? "")).status).toBe(401);
    expect((await get(url1, endpoint2?.token ?? "")).status).toBe(200);
    await second.stop();
  });

  it("copies --config-file in and writes the guest's change back at stop", async () => {
    const configPath = join(base, "stack.config.ts");
    await writeFile(configPath, "host v1\n");
    const hooks = await startEmulatorFileBridge({ instanceDir, projectDir: project, configFile: configPath });
    const token = hooks.bridge?.token ?? "";
    const configUrl = `${hooks.bridge?.url}/v1/config`;
    expect(await (await get(configUrl, token)).text()).toBe("host v1\n");
    const put = await fetch(configUrl, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: "guest v2\n",
    });
    expect(put.status).toBe(204);
    const { configFile } = await hooks.stop();
    expect(configFile).toMatchObject({ outcome: "written", backupPath: `${configPath}.bak` });
    expect(await readFile(configPath, "utf8")).toBe("guest v2\n");
    expect(await readFile(`${configPath}.bak`, "utf8")).toBe("host v1\n");
  });

  it("writes a 'no bridge' payload of the same length when disabled", async () => {
    const hooks = await startEmulatorFileBridge({ instanceDir, projectDir: project, enabled: false });
    expect(hooks.bridge).toBeNull();
    expect(parseBridgeFwCfg(await readFile(join(instanceDir, "bridge.fwcfg"), "utf8"))).toBeNull();
    await hooks.stop();
  });
});
