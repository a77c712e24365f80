/**
 * The guest's network reach (issue 15, finding 9): what the emulator's VM may
 * open connections to, as an explicit setting (`start --guest-network MODE`,
 * `--guest-reach PORT`, `EMULATOR_GUEST_NETWORK`, `EMULATOR_GUEST_REACH`).
 *
 * - `isolated` (the default): QEMU's user network with `restrict=on`. The
 *   guest reaches nothing on the host (10.0.2.2 is cut), the LAN or the
 *   internet. The four forwarded service ports still work (host to guest),
 *   and so do the guest forwards below.
 * - `open`: QEMU's user network as it is: the host's 127.0.0.1 (as 10.0.2.2),
 *   the LAN and the internet.
 *
 * In both modes, two kinds of guest forward (`guestfwd`, which `restrict=on`
 * leaves alone) run through {@link GUEST_CONNECT_FILE}, a connector QEMU starts
 * once per guest connection:
 * - the file bridge at {@link BRIDGE_FORWARD_ADDRESS}:{@link BRIDGE_FORWARD_PORT},
 *   connected to this start's bridge port (read from `bridge.json`), so the
 *   bridge needs no route to 10.0.2.2;
 * - each `--guest-reach PORT` at {@link HOST_ALIAS_ADDRESS}:PORT, connected to
 *   the host's 127.0.0.1:PORT (the user's app, for webhooks), and nothing else
 *   of the host.
 *
 * Resume: `restrict` and the guest forwards are host-side policy. QEMU 7.2
 * (libslirp 4.7) saves no state of `cmd:` guest forwards, and a VM saved under
 * one mode loads under the other (checked both ways on real QEMU), so the
 * fingerprint leaves them out (fingerprint.ts) and a resume runs with the
 * current start's network policy (`withHostPorts`).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type GuestForward, type UserNetworkSpec, writeFileAtomic } from "@hexclave/qemu-core";
import { BRIDGE_RECORD_FILE } from "../layout.js";

export const GUEST_NETWORK_MODES = ["isolated", "open"] as const;
export type GuestNetworkMode = (typeof GUEST_NETWORK_MODES)[number];
/** The narrowest mode that keeps the documented features (services, file bridge, config file) working. */
export const DEFAULT_GUEST_NETWORK_MODE: GuestNetworkMode = "isolated";

export interface GuestNetworkSettings {
  readonly mode: GuestNetworkMode;
  /** Host ports on 127.0.0.1 the guest may reach at {@link HOST_ALIAS_ADDRESS}:PORT (`--guest-reach`). */
  readonly reach: readonly number[];
}

export const DEFAULT_GUEST_NETWORK: GuestNetworkSettings = { mode: DEFAULT_GUEST_NETWORK_MODE, reach: [] };

/** Where the guest finds the host ports granted with `--guest-reach` (in every mode). */
export const HOST_ALIAS_ADDRESS = "10.0.2.100";
/** Where the guest's bridge proxy finds the host's file bridge (in every mode). */
export const BRIDGE_FORWARD_ADDRESS = "10.0.2.101";
export const BRIDGE_FORWARD_PORT = 8110;

/** The connector QEMU runs per forwarded guest connection (in `run/<instance>/`, rewritten at every start). */
export const GUEST_CONNECT_FILE = "guest-connect";
/** The connector's program, beside it. */
export const GUEST_CONNECT_MODULE_FILE = "guest-connect.mjs";

/** `'it'\''s'`: one argument for a POSIX shell and for QEMU's command splitting (GLib's shell rules). */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** The `network` fields of the VM spec for these settings. Pure. */
export function guestNetworkSpec(
  settings: GuestNetworkSettings,
  instanceDir: string,
): Required<Pick<UserNetworkSpec, "restrict" | "guestForwards">> {
  const connector = shellQuote(join(instanceDir, GUEST_CONNECT_FILE));
  const guestForwards: GuestForward[] = [
    { guestAddress: BRIDGE_FORWARD_ADDRESS, guestPort: BRIDGE_FORWARD_PORT, command: `${connector} bridge` },
    ...[...new Set(settings.reach)]
      .sort((a, b) => a - b)
      .map((port) => ({ guestAddress: HOST_ALIAS_ADDRESS, guestPort: port, command: `${connector} ${port}` })),
  ];
  return { restrict: settings.mode === "isolated", guestForwards };
}

/** The settings a VM runs under, read back from its network spec (`status`); pure. */
export function guestNetworkOf(network: Pick<UserNetworkSpec, "restrict" | "guestForwards">): GuestNetworkSettings {
  return {
    mode: network.restrict === true ? "isolated" : "open",
    reach: (network.guestForwards ?? []).filter((f) => f.guestAddress === HOST_ALIAS_ADDRESS).map((f) => f.guestPort),
  };
}

/** One line for `start`, `status` and `doctor`: what the guest can reach. */
export function describeGuestNetwork(settings: GuestNetworkSettings): string {
  const reach =
    settings.reach.length === 0
      ? ""
      : `; host ports ${[...new Set(settings.reach)].sort((a, b) => a - b).join(", ")} at ${HOST_ALIAS_ADDRESS}`;
  return settings.mode === "isolated"
    ? `isolated: no host, LAN or internet access (file bridge and forwarded ports only${reach})`
    : `open: the host's 127.0.0.1 (as 10.0.2.2), the LAN and the internet${reach}`;
}

/**
 * The connector's two files: a shell wrapper (its path is what QEMU runs; its
 * stderr, which QEMU also points at the guest's connection, goes nowhere) and
 * the Node program that pipes the connection to 127.0.0.1:PORT, PORT being its
 * argument or, for `bridge`, the port in `bridge.json` beside it (no record:
 * no bridge, the connection is closed). Pure.
 */
export function guestConnectorFiles(
  instanceDir: string,
  nodePath: string,
): { readonly wrapper: string; readonly module: string } {
  const wrapper = `#!/bin/sh
# Written by the emulator at every start. QEMU runs this once per guest connection to a guest forward
# (restrict=on leaves those open): stdin and stdout are the connection. Argument: bridge or a host port.
exec ${shellQuote(nodePath)} ${shellQuote(join(instanceDir, GUEST_CONNECT_MODULE_FILE))} "$@" 2>/dev/null
`;
  const module = `// Written by the emulator at every start: see ${GUEST_CONNECT_FILE}.
import { readFileSync } from "node:fs";
import { connect } from "node:net";

const target = process.argv[2] ?? "";
let port = Number(target);
if (target === "bridge") {
  try {
    port = JSON.parse(readFileSync(new URL("./${BRIDGE_RECORD_FILE}", import.meta.url), "utf8")).port;
  } catch {
    process.exit(1);
  }
}
if (!/^bridge$|^[0-9]{1,5}$/.test(target) || !Number.isInteger(port) || port < 1 || port > 65535) process.exit(1);
const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
socket.on("error", () => process.exit(1));
process.stdin.on("error", () => process.exit(1));
process.stdin.pipe(socket);
// The guest sees the end of the connection only once every descriptor of it is closed: exit when the host is done.
socket.on("end", () => process.stdout.write("", () => process.exit(0)));
socket.pipe(process.stdout, { end: false });
`;
  return { wrapper, module };
}

/**
 * Writes the connector for this start (0700 wrapper, 0600 program), atomically; the wrapper's path never changes.
 * Remade by every start before QEMU runs it: not flushed to disk.
 */
export async function writeGuestConnector(instanceDir: string, nodePath: string = process.execPath): Promise<string> {
  await mkdir(instanceDir, { recursive: true });
  const files = guestConnectorFiles(instanceDir, nodePath);
  await writeFileAtomic(join(instanceDir, GUEST_CONNECT_MODULE_FILE), Buffer.from(files.module), {
    mode: 0o600,
    durable: false,
  });
  const wrapper = join(instanceDir, GUEST_CONNECT_FILE);
  await writeFileAtomic(wrapper, Buffer.from(files.wrapper), { mode: 0o700, durable: false });
  return wrapper;
}
