/**
 * The detached file bridge process (`dist/file-bridge-daemon.js`): QEMU runs
 * daemonized and the `stack` process ends after `start`, so the bridge lives
 * in a small process of its own, started by `startBridgeProcess` before every
 * QEMU spawn and stopped by `stopBridgeProcess` after QEMU quit.
 *
 * Protocol with its parent (nothing secret on the command line):
 * - stdin: one JSON {@link BridgeDaemonRequest} (the token travels here), then EOF;
 * - with `handedSocket`, file descriptor 3: the listening socket the parent
 *   bound (so the parent can start QEMU with the port before this process is
 *   up; connections wait in its backlog until this process serves);
 * - stdout: one JSON line, `{ "type": "ready", "port", "pid" }` or
 *   `{ "type": "error", "code", "message" }`; nothing after it;
 * - stderr: the log (`bridge.log`), one JSON event a line, never the token.
 *
 * Once listening it writes `bridge.fwcfg` (port + token, 0600) and
 * `bridge.json` (pid, identity, port, config file state; no token). Every
 * `PUT /v1/config` is also saved to `bridge-config.guest` (0600) before it is
 * answered, so `stop` can write it back even if this process is gone.
 * It ends on SIGTERM/SIGINT/SIGHUP, and by itself when the instance's QEMU
 * has gone (so a VM killed behind the runtime's back leaves no bridge
 * running); either way it closes the server and resets `bridge.fwcfg`.
 */
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  HexclaveError,
  INSTANCE_RECORD_FILE,
  isSameProcess,
  type ProcessIdentity,
  readProcessIdentity,
} from "@hexclave/qemu-core";
import { BRIDGE_CONFIG_GUEST_FILE } from "../layout.js";
import { type BridgeDaemonRequest, type BridgeRecord, HANDED_SOCKET_FD, writeBridgeRecord } from "./bridge-record.js";
import { configFileSession } from "./config-file-session.js";
import { startFileBridge } from "./file-bridge-server.js";
import { writeBridgeFwCfg } from "./fw-cfg.js";

/** How often the process checks that its QEMU still runs. */
const QEMU_WATCH_MS = 2000;
/** Give up when no QEMU of this instance was seen running for this long after the start. */
const QEMU_APPEAR_DEADLINE_MS = 10 * 60_000;
/** After the watched QEMU ended: how long a new one (a start's cold fallback after a failed resume) may take to appear. */
const QEMU_REPLACE_GRACE_MS = 60_000;

const log = (event: Record<string, unknown>) => {
  process.stderr.write(`${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`);
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Saves the guest's config version synchronously (temp + rename), so it is on disk before the 204. */
function saveGuestConfig(path: string, content: Uint8Array): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  renameSync(temp, path);
}

async function qemuIdentity(instanceDir: string): Promise<ProcessIdentity | undefined> {
  try {
    const record = JSON.parse(await readFile(join(instanceDir, INSTANCE_RECORD_FILE), "utf8")) as {
      identity?: ProcessIdentity;
    };
    return record.identity;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const request = JSON.parse(await readStdin()) as BridgeDaemonRequest;
  const { instanceDir } = request;
  const guestFile = join(instanceDir, BRIDGE_CONFIG_GUEST_FILE);
  rmSync(guestFile, { force: true });

  const session =
    request.configFile === undefined ? undefined : await configFileSession({ hostPath: request.configFile });
  const persisted = session && {
    ...session,
    guestContent: () => session.guestContent(),
    receiveFromGuest(content: Uint8Array) {
      session.receiveFromGuest(content);
      saveGuestConfig(guestFile, content);
    },
    writeBack: (content?: Uint8Array) => session.writeBack(content),
  };

  const bridge = await startFileBridge({
    root: request.projectDir,
    token: request.token,
    ...(request.port === undefined ? {} : { port: request.port }),
    ...(request.handedSocket === true ? { listenFd: HANDED_SOCKET_FD } : {}),
    ...(request.maxBodyBytes === undefined ? {} : { maxBodyBytes: request.maxBodyBytes }),
    ...(request.writable === undefined ? {} : { writable: request.writable }),
    ...(persisted === undefined ? {} : { configFile: persisted }),
    onEvent: (e) => log(e),
  });

  let closing: Promise<void> | undefined;
  const shutdown = (why: string) => {
    closing ??= (async () => {
      log({ type: "bridge-process-stopping", why });
      await bridge.close().catch(() => {});
      await writeBridgeFwCfg(instanceDir, null).catch(() => {});
      process.exit(0);
    })();
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => shutdown(sig));

  // A handed socket's port and token are in the fw_cfg file already: the parent wrote them before QEMU read it.
  if (request.handedSocket !== true) await writeBridgeFwCfg(instanceDir, { port: bridge.port, token: bridge.token });
  const identity = await readProcessIdentity(process.pid);
  const record: BridgeRecord = {
    formatVersion: 1,
    pid: process.pid,
    ...(identity ? { identity } : {}),
    port: bridge.port,
    projectDir: bridge.root,
    startedAt: new Date().toISOString(),
    configFile:
      session === undefined
        ? null
        : { hostPath: session.hostPath, startDigest: session.initial.digest, mode: session.mode },
  };
  await writeBridgeRecord(instanceDir, record);
  process.stdout.write(
    `${JSON.stringify({ type: "ready", port: bridge.port, pid: process.pid, writable: bridge.writable })}\n`,
  );
  log({ type: "bridge-process-ready", port: bridge.port, root: bridge.root, config: record.configFile?.hostPath });

  // Watch the instance's QEMU: once one was seen running, its end (with no successor) ends this process.
  let deadline = Date.now() + QEMU_APPEAR_DEADLINE_MS;
  let watched: ProcessIdentity | undefined;
  let lastSeen = "no QEMU of this instance appeared";
  const timer = setInterval(async () => {
    if (closing) return;
    if (watched !== undefined && (await isSameProcess(watched))) return;
    if (watched !== undefined) {
      lastSeen = `QEMU (pid ${watched.pid}) has exited`;
      watched = undefined;
      deadline = Math.min(deadline, Date.now() + QEMU_REPLACE_GRACE_MS);
    }
    const candidate = await qemuIdentity(instanceDir);
    if (candidate !== undefined && (await isSameProcess(candidate))) {
      watched = candidate;
      deadline = Number.POSITIVE_INFINITY;
    } else if (Date.now() > deadline) shutdown(lastSeen);
  }, QEMU_WATCH_MS);
  timer.unref();
}

main().catch((error: unknown) => {
  const code = HexclaveError.is(error) ? error.code : "FILE_BRIDGE_PROCESS_FAILED";
  const message = error instanceof Error ? error.message : String(error);
  log({ type: "bridge-process-failed", code, message });
  try {
    process.stdout.write(`${JSON.stringify({ type: "error", code, message })}\n`);
  } catch {
    // the parent is gone
  }
  process.exitCode = 1;
});
