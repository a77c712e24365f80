/**
 * How the rendered runtime environment (runtime-env.ts) reaches the guest at
 * every start: the way the file bridge's token does (file-bridge/runtime-hooks.ts).
 *
 * - QEMU gets `-fw_cfg name=opt/hexclave/env,file=<run dir>/runtime-env.fwcfg`:
 *   the file is read when QEMU starts, cold or resuming, so a resumed guest
 *   reads this start's values, and the values stay out of QEMU's command line,
 *   the recorded arguments and the fingerprint (the entry itself is in it).
 * - Fixed length ({@link RUNTIME_ENV_FW_CFG_LENGTH}): the guest kernel sizes
 *   fw_cfg files at boot and a resumed kernel keeps that size. The env file
 *   is padded with blank lines, which `docker run --env-file` skips.
 * - The guest side is {@link runtimeEnvGuestScript}: `install` (the unit's
 *   ExecStartPre) copies the entry to a 0600 env file; `refresh` (run by the
 *   emulator through the guest agent after every resume) does the same and
 *   restarts `hexclave.service` when the content changed (a moved host port):
 *   a resumed VM otherwise keeps its running container with the old URLs.
 * - The warm boot has no fw_cfg entry: cloud-init writes the build's
 *   environment (public placeholder secrets, `mode: "build"`) to
 *   {@link BUILD_ENV_GUEST_PATH} under /run (tmpfs, gone at the next boot),
 *   and `install` uses it only when no fw_cfg entry exists.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { ShellScript } from "@hexclave/cloud-init-gen/shell-script";
import { type FwCfgEntry, writeFileAtomic } from "@hexclave/qemu-core";
import { imageBuilderErrors } from "../errors-data.js";
import { formatEnvFile, RUNTIME_ENV_MAGIC, type RuntimeEnvInput, renderRuntimeEnv } from "./runtime-env.js";

/** The fw_cfg name (guest: `/sys/firmware/qemu_fw_cfg/by_name/opt/hexclave/env/raw`). */
export const RUNTIME_ENV_FW_CFG_NAME = "opt/hexclave/env";
export const RUNTIME_ENV_FW_CFG_GUEST_PATH = `/sys/firmware/qemu_fw_cfg/by_name/${RUNTIME_ENV_FW_CFG_NAME}/raw`;
/**
 * The payload's file name in the directory given to {@link runtimeEnvFwCfgEntry} and {@link writeRuntimeEnvFwCfg}
 * (the emulator passes its instance directory; its layout module lists the name with the instance's other files).
 */
export const RUNTIME_ENV_FW_CFG_FILE = "runtime-env.fwcfg";
/** Every payload's length in bytes (the rendered file is about 11 KiB). */
export const RUNTIME_ENV_FW_CFG_LENGTH = 32 * 1024;

/** The guest's env file that `docker run --env-file` reads (0600, on tmpfs). */
export const RUNTIME_ENV_GUEST_DIR = "/run/hexclave-runtime";
export const RUNTIME_ENV_GUEST_PATH = `${RUNTIME_ENV_GUEST_DIR}/runtime.env`;
/** The warm boot's environment, written by cloud-init (tmpfs: never on the image's disk). */
export const BUILD_ENV_GUEST_PATH = `${RUNTIME_ENV_GUEST_DIR}/build.env`;
/** The guest script with `install` and `refresh`. */
export const RUNTIME_ENV_SCRIPT_PATH = "/usr/local/lib/hexclave/runtime-env.sh";
/** What `refresh` prints as its last line. */
export const RUNTIME_ENV_REFRESH_RESULTS = ["unchanged", "changed"] as const;
export type RuntimeEnvRefreshResult = (typeof RUNTIME_ENV_REFRESH_RESULTS)[number];

/** The fixed-length fw_cfg payload: the env file, then blank lines up to {@link RUNTIME_ENV_FW_CFG_LENGTH}. */
export function formatRuntimeEnvFwCfg(input: RuntimeEnvInput): string {
  const text = formatEnvFile(renderRuntimeEnv(input));
  const bytes = Buffer.byteLength(text);
  if (bytes > RUNTIME_ENV_FW_CFG_LENGTH) {
    throw imageBuilderErrors.create(
      "RUNTIME_ENV_INVALID",
      `The runtime environment is ${bytes} bytes, more than the ${RUNTIME_ENV_FW_CFG_LENGTH} bytes of its fw_cfg entry`,
    );
  }
  return text + "\n".repeat(RUNTIME_ENV_FW_CFG_LENGTH - bytes);
}

/** The `-fw_cfg` entry for the VM spec: a file in the instance directory, the same path on every start. */
export function runtimeEnvFwCfgEntry(instanceDir: string): FwCfgEntry {
  return { name: RUNTIME_ENV_FW_CFG_NAME, file: join(instanceDir, RUNTIME_ENV_FW_CFG_FILE) };
}

/**
 * Writes the payload QEMU will read (0600, temp file then rename). Returns its path and the payload's sha256: equal
 * digests mean the guest would read the same environment.
 */
export async function writeRuntimeEnvFwCfg(
  instanceDir: string,
  input: RuntimeEnvInput,
): Promise<{ readonly path: string; readonly sha256: string }> {
  const payload = Buffer.from(formatRuntimeEnvFwCfg(input));
  await mkdir(instanceDir, { recursive: true });
  const path = join(instanceDir, RUNTIME_ENV_FW_CFG_FILE);
  // Remade by every start before QEMU reads it: no flush. The mode is set on the temp file, before the rename.
  await writeFileAtomic(path, payload, { mode: 0o600, durable: false });
  return { path, sha256: createHash("sha256").update(payload).digest("hex") };
}

/**
 * The guest script (bash): `install` writes the env file for the unit;
 * `refresh` rewrites it and restarts `unit` when it changed, printing
 * `changed` or `unchanged`. The fw_cfg entry must start with the magic line;
 * a missing entry falls back to the warm boot's file, and neither is an error
 * that names both paths.
 */
export function runtimeEnvGuestScript(unit: string): string {
  const s = new ShellScript({ shell: "/bin/bash", strict: false });
  s.line("set -euo pipefail")
    .assign("SRC", RUNTIME_ENV_FW_CFG_GUEST_PATH)
    .assign("BUILD_ENV", BUILD_ENV_GUEST_PATH)
    .assign("DIR", RUNTIME_ENV_GUEST_DIR)
    .assign("DST", RUNTIME_ENV_GUEST_PATH)
    .assign("MAGIC", RUNTIME_ENV_MAGIC)
    .assign("UNIT", unit)
    .line("umask 077")
    .line("modprobe qemu_fw_cfg 2>/dev/null || true")
    .line("render() {")
    .line('  if [ -r "$SRC" ]; then')
    .line(
      '    if [ "$(head -n 1 "$SRC")" != "$MAGIC" ]; then echo "runtime-env: $SRC does not start with $MAGIC" >&2; return 1; fi',
    )
    .line("    sed '/^$/d' \"$SRC\"")
    .line('  elif [ -r "$BUILD_ENV" ]; then')
    .line('    cat "$BUILD_ENV"')
    .line("  else")
    .line('    echo "runtime-env: neither $SRC (emulator start) nor $BUILD_ENV (image build) exists" >&2')
    .line("    return 1")
    .line("  fi")
    .line("}")
    .line('mkdir -p "$DIR"')
    .line('chmod 700 "$DIR"')
    .line('tmp=$(mktemp "$DIR/.runtime.env.XXXXXX")')
    .line("trap 'rm -f \"$tmp\"' EXIT")
    .line('render > "$tmp"')
    .line('chmod 600 "$tmp"')
    .line(`case "\${1:-}" in`)
    .line('  install) mv -f "$tmp" "$DST" ;;')
    .line("  refresh)")
    .line('    if [ -f "$DST" ] && cmp -s "$tmp" "$DST"; then echo unchanged; exit 0; fi')
    .line('    mv -f "$tmp" "$DST"')
    .line('    systemctl restart "$UNIT"')
    .line("    echo changed")
    .line("    ;;")
    .line('  *) echo "usage: $0 install|refresh" >&2; exit 2 ;;')
    .line("esac");
  return s.toString();
}
