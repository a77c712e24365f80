// A QEMU wrapper that behaves like QEMU on a host whose KVM runs a tiny guest but not a real kernel (a nested,
// paravirtual KVM: `kvm-pvm: INTERNAL_ERROR in batch emul`). It runs the real QEMU, always under TCG, and:
//
// - without a KVM accelerator in the arguments, or for the accelerator probe's tiny guest (`isa-debug-exit`), it is
//   transparent: the guest runs (like the tiny guest does on that host under KVM);
// - for any other guest under KVM (`LYING_KVM_SPARE=probes` also spares guests named `hexclave-accel-probe*`, run
//   under TCG; `LYING_KVM_SPARE=pass-probes` answers the kernel probe's success without running it: a host whose
//   probes pass, so that only the real guest meets the failure and the runtime fallback is exercised), about
//   `LYING_KVM_TRIP_MS` (default 1000) after QEMU's own QMP answers it does what QEMU does on that host: prints
//   `KVM internal error. Suberror: 1`, extra data, `emulation failure` and a register dump on stderr, and pauses the
//   VM (a real QMP `stop` on a monitor of its own: a real `STOP` event reaches every client). TCG cannot enter run
//   state `internal-error`, so the caller's QMP socket is served by a proxy that forwards everything and, once
//   tripped, answers `query-status` with `{"status":"internal-error","running":false}` and refuses `cont` as QEMU
//   does ("Resetting the Virtual Machine is required").
//
// `node lying-kvm-qemu.mjs install DIR` writes DIR/qemu-system-x86_64, a shell shim used as the QEMU binary (or
// first on PATH). The shim asks this script for a plan (`plan`), starts this script as a helper in the background
// (`helper`: the QMP proxy and the trip) when the guest is to fail, then execs the real QEMU: the pid the caller
// spawned is QEMU's own, so killing it behaves as with a real QEMU (the helper notices and exits).
// Environment: LYING_KVM_REAL_QEMU (default: the same name on PATH after the shim's directory), LYING_KVM_TRIP_MS,
// LYING_KVM_SPARE.
import { accessSync, chmodSync, constants, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { delimiter, dirname, join } from "node:path";

const name = process.env.LYING_KVM_NAME ?? "qemu-system-x86_64";
const selfDir = process.env.LYING_KVM_DIR ?? "";
const [command, ...rest] = process.argv.slice(2);

function realQemu() {
  if (process.env.LYING_KVM_REAL_QEMU) return process.env.LYING_KVM_REAL_QEMU;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "" || dir === selfDir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return `/usr/bin/${name}`;
}

function usesKvm(list) {
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    const next = list[i + 1] ?? "";
    if (a === "-enable-kvm") return true;
    if (a === "-accel" && /^kvm(,|$)/.test(next)) return true;
    if (a === "-machine" && /(^|,)accel=kvm/.test(next)) return true;
  }
  return false;
}

/** The arguments under TCG: `-accel kvm` -> `-accel tcg`, `-cpu host` -> `-cpu max`. */
function underTcg(list) {
  const out = [];
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    const next = list[i + 1];
    if (a === "-enable-kvm") continue;
    if (a === "-accel" && next !== undefined && /^kvm(,|$)/.test(next)) {
      out.push(a, "tcg");
      i++;
    } else if (a === "-cpu" && next !== undefined && /^host(,|$)/.test(next)) {
      out.push(a, "max");
      i++;
    } else if (a === "-machine" && next !== undefined) {
      out.push(a, next.replace(/(^|,)accel=kvm[^,]*/, "$1accel=tcg"));
      i++;
    } else out.push(a);
  }
  return out;
}

function spared(list) {
  if (list.some((a) => a.includes("isa-debug-exit"))) return true;
  if (process.env.LYING_KVM_SPARE === "probes") {
    const at = list.indexOf("-name");
    if (at >= 0 && (list[at + 1] ?? "").startsWith("hexclave-accel-probe")) return true;
  }
  return false;
}

function planFor(shimPid, args) {
  const binary = realQemu();
  if (!usesKvm(args)) return { mode: "pass", binary, args };
  const tcg = underTcg(args);
  if (spared(args)) return { mode: "pass", binary, args: tcg };
  let clientSocket;
  for (let i = 0; i < tcg.length; i++) {
    if (tcg[i] === "-chardev" && /^socket,id=qmp,/.test(tcg[i + 1] ?? "")) {
      const m = /(?:^|,)path=((?:[^,]|,,)*)/.exec(tcg[i + 1]);
      if (m) {
        clientSocket = m[1].replace(/,,/g, ",");
        tcg[i + 1] = tcg[i + 1].replace(m[0], `${m[0].startsWith(",") ? "," : ""}path=${m[1]}.real`);
      }
    } else if (tcg[i] === "-qmp" && /^unix:/.test(tcg[i + 1] ?? "")) {
      const m = /^unix:((?:[^,]|,,)*)/.exec(tcg[i + 1]);
      if (m) {
        clientSocket = m[1].replace(/,,/g, ",");
        tcg[i + 1] = tcg[i + 1].replace(m[0], `unix:${m[1]}.real`);
      }
    }
  }
  const controlDir = clientSocket === undefined ? process.env.TMPDIR || "/tmp" : dirname(clientSocket);
  const controlSocket = join(controlDir, `.lying-kvm-${shimPid}.sock`);
  tcg.push("-qmp", `unix:${controlSocket.replace(/,/g, ",,")},server=on,wait=off`);
  return { mode: "trip", binary, args: tcg, clientSocket, controlSocket };
}

if (command === "install") {
  const [dir] = rest;
  const quote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const self = new URL(import.meta.url).pathname;
  const shim = `#!/bin/bash
# A QEMU on a host whose KVM fails real guests (test support: ${self})
export LYING_KVM_DIR=${quote(dir)} LYING_KVM_NAME=${name}
${["LYING_KVM_REAL_QEMU", "LYING_KVM_TRIP_MS", "LYING_KVM_SPARE"]
  .filter((k) => process.env[k])
  .map((k) => `export ${k}=${quote(process.env[k])}\n`)
  .join("")}
# Fast path in the shell (no Node start-up in the probe's deadline): no KVM, or the probe's tiny guest (run under tcg).
kvm=0; tiny=0; spared=0; prev=
for a in "$@"; do
  case "$prev:$a" in
    -accel:kvm*|-machine:*accel=kvm*) kvm=1 ;;
    -name:hexclave-accel-probe-kernel*)
      if [ "\${LYING_KVM_SPARE:-}" = pass-probes ]; then
        # A host whose probes pass (the kernel probe is answered, not run): only a real guest meets the failure.
        echo "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) (lying-kvm: probe passed)"
        exit 0
      fi
      [ "\${LYING_KVM_SPARE:-}" = probes ] && spared=1 ;;
    -name:hexclave-accel-probe*) [ "\${LYING_KVM_SPARE:-}" = probes ] && spared=1 ;;
  esac
  case "$a" in -enable-kvm) kvm=1 ;; *isa-debug-exit*) tiny=1 ;; esac
  prev=$a
done
if [ $kvm = 0 ] || [ $tiny = 1 ] || [ $spared = 1 ]; then
  real=\${LYING_KVM_REAL_QEMU:-}
  if [ -z "$real" ]; then
    IFS=: read -ra dirs <<<"$PATH"
    for d in "\${dirs[@]}"; do
      [ -n "$d" ] && [ "$d" != "$LYING_KVM_DIR" ] && [ -x "$d/$LYING_KVM_NAME" ] && { real=$d/$LYING_KVM_NAME; break; }
    done
  fi
  argv=(); prev=
  for a in "$@"; do
    case "$prev:$a" in
      -accel:kvm*) a=tcg ;;
      -cpu:host*) a=max ;;
      -machine:*accel=kvm*) a=\${a//accel=kvm/accel=tcg} ;;
    esac
    [ "$a" = -enable-kvm ] || argv+=("$a")
    prev=$a
  done
  exec "\${real:-/usr/bin/$LYING_KVM_NAME}" "\${argv[@]}"
fi
plan=$(${quote(process.execPath)} ${quote(self)} plan $$ "$@") || exit 1
mapfile -d '' -t argv < <(printf '%s' "$plan" | base64 -d)
mode=\${argv[0]}; real=\${argv[1]}; argv=("\${argv[@]:2}")
if [ "$mode" = trip ]; then
  ${quote(process.execPath)} ${quote(self)} helper $$ "$@" </dev/null >/dev/null &
fi
exec "$real" "\${argv[@]}"
`;
  const file = join(dir, name);
  writeFileSync(file, shim);
  chmodSync(file, 0o755);
  process.stdout.write(`${file}\n`);
  process.exit(0);
}

if (command === "plan") {
  const [shimPid, ...args] = rest;
  const plan = planFor(shimPid, args);
  process.stdout.write(
    Buffer.from([plan.mode, plan.binary, ...plan.args].map((a) => `${a}\0`).join("")).toString("base64"),
  );
  process.exit(0);
}

if (command !== "helper") {
  process.stderr.write("usage: lying-kvm-qemu.mjs install DIR | plan PID ARGS... | helper PID ARGS...\n");
  process.exit(2);
}

// ---- the helper of a failing guest: QMP proxy and trip, until QEMU (the shim's pid, exec'd) exits ------------------
const [qemuPidText, ...qemuArgs] = rest;
const qemuPid = Number(qemuPidText);
const { clientSocket, controlSocket } = planFor(qemuPidText, qemuArgs);
const alive = () => {
  try {
    process.kill(qemuPid, 0);
    return true;
  } catch {
    return false;
  }
};

let tripped = false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One QMP session on `path` (retrying while QEMU creates it): returns send(command) -> reply. */
async function qmpSession(path) {
  for (let i = 0; i < 200; i++) {
    try {
      const sock = await new Promise((resolve, reject) => {
        const s = connect(path);
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
      sock.setEncoding("utf8");
      let buf = "";
      const waiters = [];
      sock.on("data", (chunk) => {
        buf += chunk;
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const msg = JSON.parse(line);
          if ("return" in msg || "error" in msg || "QMP" in msg) waiters.shift()?.(msg);
        }
      });
      const next = () => new Promise((r) => waiters.push(r));
      await next(); // greeting
      const send = async (execute) => {
        const reply = next();
        sock.write(`${JSON.stringify({ execute })}\n`);
        return reply;
      };
      await send("qmp_capabilities");
      return { send, close: () => sock.destroy() };
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`no QMP at ${path}`);
}

const REGISTER_DUMP = [
  "RAX=0000000000000000 RBX=ffffffff82a03e38 RCX=0000000000000000 RDX=0000000000000000",
  "RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=ffffffff82a03dc8",
  "R8 =0000000000000000 R9 =0000000000000000 R10=0000000000000000 R11=0000000000000000",
  "R12=0000000000000000 R13=0000000000000000 R14=0000000000000000 R15=0000000000000000",
  "RIP=ffffffff81a3f7e4 RFL=00010046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0",
  "ES =0000 0000000000000000 ffffffff 00c00000",
  "CS =0010 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]",
  "SS =0000 0000000000000000 ffffffff 00c00000",
  "CR0=80050033 CR2=0000000000000000 CR3=000000000260a000 CR4=000006f0",
  "EFER=0000000000000d01",
  "Code=00 00 00 00 00 00 <0f> 01 c1 c3 cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc cc",
];

async function trip() {
  const control = await qmpSession(controlSocket);
  await sleep(Number(process.env.LYING_KVM_TRIP_MS ?? 1000));
  // What QEMU's kvm_handle_internal_error and kvm_cpu_exec print, then vm_stop(RUN_STATE_INTERNAL_ERROR).
  process.stderr.write(
    [
      "KVM internal error. Suberror: 1",
      "extra data[0]: 0x0000000000000000",
      "extra data[1]: 0x0000000000000030",
      "extra data[2]: 0x0000000000000184",
      "extra data[3]: 0x0000000000000000",
      "emulation failure",
      ...REGISTER_DUMP,
      "",
    ].join("\n"),
  );
  tripped = true;
  await control.send("stop");
  control.close();
}

/** The caller's QMP socket: a proxy to the real one that reports internal-error once tripped. */
function serveProxy(path, upstreamPath) {
  rmSync(path, { force: true });
  const server = createServer((client) => {
    client.setEncoding("utf8");
    const sent = []; // QMP answers commands in order (no out-of-band commands here)
    const upstream = connect(upstreamPath);
    upstream.setEncoding("utf8");
    let upBuf = "";
    let downBuf = "";
    upstream.on("data", (chunk) => {
      upBuf += chunk;
      for (let nl = upBuf.indexOf("\n"); nl >= 0; nl = upBuf.indexOf("\n")) {
        let line = upBuf.slice(0, nl);
        upBuf = upBuf.slice(nl + 1);
        try {
          const msg = JSON.parse(line);
          const command = "return" in msg || "error" in msg ? sent.shift() : undefined;
          if (tripped && command === "query-status" && "return" in msg) {
            msg.return = { running: false, singlestep: false, status: "internal-error" };
            line = JSON.stringify(msg);
          }
        } catch {}
        client.write(`${line}\n`);
      }
    });
    client.on("data", (chunk) => {
      downBuf += chunk;
      for (let nl = downBuf.indexOf("\n"); nl >= 0; nl = downBuf.indexOf("\n")) {
        const line = downBuf.slice(0, nl);
        downBuf = downBuf.slice(nl + 1);
        try {
          const msg = JSON.parse(line);
          if (tripped && msg.execute === "cont") {
            const error = { class: "GenericError", desc: "Resetting the Virtual Machine is required" };
            client.write(`${JSON.stringify({ error, ...(msg.id === undefined ? {} : { id: msg.id }) })}\n`);
            continue;
          }
          sent.push(msg.execute);
        } catch {}
        upstream.write(`${line}\n`);
      }
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", end);
    upstream.on("close", end);
    client.on("error", end);
    client.on("close", end);
  });
  server.listen(path);
  return server;
}

const proxy = clientSocket === undefined ? undefined : serveProxy(clientSocket, `${clientSocket}.real`);
trip().catch((error) => {
  if (alive()) process.stderr.write(`lying-kvm: could not pause the VM: ${error.message}\n`);
});
while (alive()) await sleep(200);
proxy?.close();
if (clientSocket !== undefined) rmSync(clientSocket, { force: true });
rmSync(controlSocket, { force: true });
process.exit(0);
