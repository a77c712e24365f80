/**
 * The guest's network reach on real QEMU with a real Linux guest: the
 * bootstrapped Debian base (kernel, initrd, root disk; `bootstrapBaseImage`,
 * cached: the first run on a machine bootstraps it, minutes) booted with
 * `init=/bin/bash` running a probe script handed in through fw_cfg. The QEMU
 * arguments are the emulator's own (`guestNetworkSpec`, `buildQemuArgs`), the
 * connector is the one the emulator writes, the bridge is the real file bridge
 * server (recorded in `bridge.json` as the bridge process does), and the
 * guest's bridge proxy is the images' own (docker/file-bridge/bridge-proxy.py,
 * reading the bridge's fw_cfg entry): direct to 10.0.2.2 when open, through
 * the guest forward when isolated.
 *
 * One guest, three QEMU runs of it: isolated, then the saved state resumed
 * under open, then resumed under isolated again. At each run the guest probes
 * again (its round number is an fw_cfg file the new QEMU reads), and the host
 * checks the forwarded port.
 */
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BootstrapBase, bootstrapBaseImage } from "@hexclave/image-builder";
import { buildQemuArgs, QmpClient, qemuSystemBinaryName, type VmSpec } from "@hexclave/qemu-core";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBridgeRecord } from "../file-bridge/bridge-record.js";
import { type FileBridge, startFileBridge } from "../file-bridge/file-bridge-server.js";
import { BRIDGE_FW_CFG_NAME, writeBridgeFwCfg } from "../file-bridge/fw-cfg.js";
import { type GuestNetworkMode, guestNetworkSpec, writeGuestConnector } from "./guest-network.js";

let dir: string;
let instanceDir: string;
let base: BootstrapBase;
let bridge: FileBridge;
const servers: Server[] = [];
let secretPort: number;
let appPort: number;
let forwardedPort: number;
/** The guest side of the bridge, as both images run it. */
const bridgeProxy = fileURLToPath(new URL("../../../../docker/file-bridge/bridge-proxy.py", import.meta.url));

async function serve(body: string): Promise<number> {
  const server = createServer((_req, res) => res.end(body));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The guest's probe loop: at every new round (a new QEMU), probe each target once and print `HXNET <round> <probe> <result>`. */
function probeScript(token: string): string {
  return `export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t tmpfs tmp /tmp
modprobe virtio_net
dev=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
ip link set lo up; ip link set "$dev" up
ip addr add 10.0.2.15/24 dev "$dev"; ip route add default via 10.0.2.2
mkdir -p /tmp/www && echo guest-http > /tmp/www/index.html
(cd /tmp/www && python3 -m http.server 8000 >/dev/null 2>&1 &)
# The images' bridge proxy, reading the bridge's fw_cfg entry as in the emulator.
cp /sys/firmware/qemu_fw_cfg/by_name/opt/hx/proxy/raw /tmp/bridge-proxy.py
HEXCLAVE_FILE_BRIDGE_FWCFG=/sys/firmware/qemu_fw_cfg/by_name/${BRIDGE_FW_CFG_NAME}/raw HEXCLAVE_FILE_BRIDGE_TOKEN_FILE=/tmp/proxy-token python3 /tmp/bridge-proxy.py 8110 >/dev/null 2>&1 &
for i in $(seq 1 120); do curl -s -m 2 http://127.0.0.1:8110/healthz >/dev/null && break; sleep 0.5; done
say() { echo "HXNET $*" > /dev/ttyS0; }
# FAIL-7: refused at once (curl could not connect), FAIL-28: no answer within the time limit.
probe() { local out; out=$(curl -s -m 8 "\${@:2}" 2>/dev/null) || out="FAIL-$?"; say "$round $1 \${out:-EMPTY}"; }
seen=
while true; do
  round=$(tr -d '\\n' < /sys/firmware/qemu_fw_cfg/by_name/opt/hx/round/raw)
  if [ "$round" != "$seen" ]; then
    seen=$round
    probe host-loopback http://10.0.2.2:${secretPort}/
    probe reach http://10.0.2.100:${appPort}/
    probe alias-other-port http://10.0.2.100:${secretPort}/
    probe bridge -H "Authorization: Bearer ${token}" http://10.0.2.101:8110/v1/files/hello.txt
    probe proxy -H "Authorization: Bearer $(cat /tmp/proxy-token)" http://127.0.0.1:8110/v1/files/hello.txt
    ok=$(seq 1 24 | xargs -P 24 -I{} curl -s -m 30 -o /dev/null -w '%{http_code}\\n' -H "Authorization: Bearer ${token}" http://10.0.2.101:8110/v1/files/hello.txt | grep -c '^200$')
    say "$round bridge-parallel $ok"
    say "$round done"
  fi
  sleep 0.5
done
`;
}

function spec(mode: GuestNetworkMode, loadvm?: string): VmSpec {
  return {
    name: "guest-network-test",
    arch: "amd64",
    accel: "tcg",
    cpus: 1,
    memoryMb: 512,
    kernelBoot: {
      kernel: base.kernel,
      initrd: base.initrd,
      append: `${base.append} init=/bin/bash -- -c "modprobe qemu_fw_cfg; bash /sys/firmware/qemu_fw_cfg/by_name/opt/hx/script/raw"`,
    },
    drives: [{ id: "disk", file: join(dir, "overlay.qcow2"), format: "qcow2" }],
    network: {
      kind: "user",
      forwards: [{ hostAddress: "127.0.0.1", hostPort: forwardedPort, guestPort: 8000 }],
      ...guestNetworkSpec({ mode, reach: [appPort] }, instanceDir),
    },
    fwCfg: [
      { name: "opt/hx/script", file: join(dir, "script.sh") },
      { name: "opt/hx/round", file: join(dir, "round") },
      { name: "opt/hx/proxy", file: bridgeProxy },
      { name: BRIDGE_FW_CFG_NAME, file: join(instanceDir, "bridge.fwcfg") },
    ],
    qmpSocket: join(dir, "qmp.sock"),
    serial: { file: join(dir, "serial.log") },
    ...(loadvm === undefined ? {} : { loadvm }),
  };
}

/** Waits for `HXNET <round> done` and returns that round's results by probe name. */
async function roundResults(
  round: string,
  qemu: Promise<unknown>,
  deadlineMs: number,
): Promise<Record<string, string>> {
  const until = Date.now() + deadlineMs;
  let exited = false;
  qemu.finally(() => {
    exited = true;
  });
  while (Date.now() < until && !exited) {
    const lines = (await readFile(join(dir, "serial.log"), "utf8").catch(() => "")).split(/\r?\n/);
    const mine = lines.filter((l) => l.startsWith(`HXNET ${round} `)).map((l) => l.slice(`HXNET ${round} `.length));
    if (mine.includes("done")) {
      return Object.fromEntries(mine.filter((l) => l !== "done").map((l) => [l.split(" ")[0], l.split(" ")[1] ?? ""]));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const tail = (await readFile(join(dir, "serial.log"), "utf8").catch(() => "")).split("\n").slice(-30).join("\n");
  throw new Error(`round ${round} did not finish (QEMU ${exited ? "exited" : "still running"}); serial tail:\n${tail}`);
}

async function forwardedAnswer(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${forwardedPort}/`, { signal: AbortSignal.timeout(10_000) });
  return (await response.text()).trim();
}

/** Boots (or resumes) the guest under `mode`, waits for the round, then checks the forwarded port from the host. */
async function run(mode: GuestNetworkMode, round: string, loadvm?: string) {
  await writeFile(join(dir, "round"), `${round}\n`);
  await rm(join(dir, "serial.log"), { force: true });
  const qemu = execa(qemuSystemBinaryName("amd64"), buildQemuArgs(spec(mode, loadvm)), { reject: false });
  try {
    const results = await roundResults(round, qemu, 300_000);
    const forwarded = await forwardedAnswer();
    return { results, forwarded };
  } finally {
    const qmp = await QmpClient.connect(join(dir, "qmp.sock")).catch(() => undefined);
    if (qmp !== undefined) {
      // Save the state for the next run (a resume), then quit.
      await qmp.humanMonitorCommand("savevm net", { timeoutMs: 120_000 }).catch(() => "");
      await qmp.quit().catch(() => {});
      qmp.close();
    }
    await qemu;
  }
}

beforeAll(async () => {
  base = await bootstrapBaseImage({ arch: "amd64" });
  dir = await mkdtemp(join(tmpdir(), "hx-guest-net-"));
  instanceDir = join(dir, "run");
  await mkdir(instanceDir, { recursive: true, mode: 0o700 });
  await execa("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.image, join(dir, "overlay.qcow2")]);
  const project = join(dir, "project");
  await mkdir(project);
  await writeFile(join(project, "hello.txt"), "hello-from-bridge\n");
  bridge = await startFileBridge({ root: project });
  await writeBridgeRecord(instanceDir, {
    formatVersion: 1,
    pid: process.pid,
    port: bridge.port,
    projectDir: bridge.root,
    startedAt: new Date().toISOString(),
    configFile: null,
  });
  await writeBridgeFwCfg(instanceDir, { port: bridge.port, token: bridge.token });
  await writeGuestConnector(instanceDir);
  secretPort = await serve("host-secret");
  appPort = await serve("user-app");
  forwardedPort = await freePort();
  await writeFile(join(dir, "script.sh"), probeScript(bridge.token));
}, 1_200_000);

afterAll(async () => {
  await bridge?.close();
  for (const server of servers) server.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("the guest's network reach (real QEMU, a Debian guest)", () => {
  it("isolated: no host loopback, only the granted port, the bridge (24 connections at once) and the forwarded port; a resume under open reaches the host; a resume back under isolated does not", async () => {
    const isolated = await run("isolated", "round-1");
    // Refused at once, not left to time out: the guest's bridge proxy relies on it to fall back to the forward.
    expect(isolated.results).toEqual({
      "host-loopback": "FAIL-7",
      reach: "user-app",
      "alias-other-port": "FAIL-7",
      bridge: "hello-from-bridge",
      proxy: "hello-from-bridge",
      "bridge-parallel": "24",
    });
    expect(isolated.forwarded).toBe("guest-http");

    const open = await run("open", "round-2", "net");
    expect(open.results).toMatchObject({
      "host-loopback": "host-secret",
      reach: "user-app",
      bridge: "hello-from-bridge",
      proxy: "hello-from-bridge",
      "bridge-parallel": "24",
    });
    // 10.0.2.100 is no host alias except for granted ports, also when open.
    expect(open.results["alias-other-port"]).toMatch(/^FAIL-/);
    expect(open.forwarded).toBe("guest-http");

    const again = await run("isolated", "round-3", "net");
    expect(again.results).toEqual(isolated.results);
    expect(again.forwarded).toBe("guest-http");
  }, 1_200_000);
});
