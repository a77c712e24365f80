/**
 * The emulator's state layout, written down once: the emulator home, its
 * directories, and every file the runtime adds to it (Lima's
 * `pkg/limatype/filenames` is the model). Nothing else in the runtime spells
 * these names: import them. The instance's own QEMU files (`disk.qcow2`,
 * `qmp.sock`, `qga.sock`, `serial.log`, `qemu.pid`, `qemu.log`, `lock`,
 * `instance.json`, `efivars.qcow2`, `suspend.vmstate`) are qemu-core's
 * (`instancePaths`); the image's file names are image-builder's
 * (`@hexclave/image-builder/image`), as are the two runtime-environment files
 * its `/image` contract writes.
 *
 * ```
 * <home>/images/stack-emulator-<arch>.qcow2   read-only base image                 (image-builder: imageFileName)
 * <home>/images/stack-emulator-<arch>.json    its manifest                         (image-builder: manifestFileName)
 * <home>/images/stack-emulator-<arch>.vmlinuz kernel and initrd, for images that boot the kernel directly
 * <home>/images/stack-emulator-<arch>.initrd  (no bootloader wait)                 (image-builder)
 * <home>/images/.pull-<arch>/, .pull-<arch>.lock  a pull's staging directory and its lock (image-store/pull-image.ts)
 * <home>/cache/accel-probe-<hash>.json        the accelerator probe's answer (qemu-core, given this directory)
 * <home>/runtime-secrets.json                 per-install secrets of the runtime environment (0600), made once
 * <home>/run/<instance>/...                   qemu-core's instance files (see above), and the runtime's:
 * <home>/run/<instance>/snapshots.json        the snapshot record: fingerprints, last start kind and why
 * <home>/run/<instance>/start.lock            held by a start for its whole run (status says `starting`)
 * <home>/run/<instance>/bridge.fwcfg          file bridge port and token for the guest (fw_cfg, 0600)
 * <home>/run/<instance>/bridge.json           the detached file bridge process: pid + identity, port, config file
 * <home>/run/<instance>/bridge-config.guest   the guest's latest `--config-file` version (0600), written back at stop
 * <home>/run/<instance>/bridge.log            the file bridge process's own log (one JSON event a line, no token)
 * <home>/run/<instance>/runtime-env.fwcfg     the Hexclave image's runtime environment for the guest (fw_cfg, 0600)
 * <home>/run/<instance>/guest-memory.ram     the guest's RAM while QEMU runs, when /dev/shm cannot hold it
 *                                            (else /dev/shm/hexclave-emulator-<id>.ram; machine/guest-memory.ts)
 * <home>/run/<instance>/suspend.ram          the guest's memory as of the last suspend (sparse, 0600)
 * <home>/run/<instance>/fresh.vmstate, fresh.ram  `fresh`'s device state and memory copy (lifecycle/fresh-state.ts)
 * <home>/run/<instance>/discard/              large files being removed in the background (internal/discard-file.ts)
 * ```
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { type ImagePaths, imageFilesIn } from "@hexclave/image-builder/image";
import type { Arch } from "@hexclave/qemu-core";

/** The variable that moves the emulator home. */
export const HOME_ENV = "HEXCLAVE_EMULATOR_HOME";
/** The emulator home without {@link HOME_ENV}: `~/.hexclave/emulator`. */
export const DEFAULT_HOME_SEGMENTS = [".hexclave", "emulator"] as const;

/** The installed images, one set of files per arch. */
export const IMAGES_DIR = "images";
/** The accelerator probe's cache (qemu-core `probeAccelerator`'s `cacheDir`). */
export const CACHE_DIR = "cache";
/** The instance every command works on (qemu-core keeps it in `run/<instance>/`). */
export const DEFAULT_INSTANCE = "vm";

/** The runtime's snapshot record: fingerprints of `suspend`/`fresh`, last start kind and why. */
export const SNAPSHOT_RECORD_FILE = "snapshots.json";
/**
 * Held in the instance directory by a `start` for its whole run (boot,
 * readiness, first snapshot): a second start is refused while it is held, and
 * `status` reports the VM as `starting`. `stop` does not take it: a stop while
 * a start waits stops the VM, and that start ends with `EMULATOR_STOPPED_DURING_START`.
 */
export const EMULATOR_START_LOCK_FILE = "start.lock";
/** The file bridge (issue 10): the fw_cfg payload QEMU reads (`-fw_cfg name=opt/hexclave/bridge,file=...`). */
export const BRIDGE_FW_CFG_FILE = "bridge.fwcfg";
/** The detached file bridge process: pid, identity, port, project directory, config file session. */
export const BRIDGE_RECORD_FILE = "bridge.json";
/** The guest's RAM (qemu-core `VmSpec.memoryFile`) while QEMU runs, when no tmpfs can hold it (machine/guest-memory.ts). */
export const GUEST_MEMORY_FILE = "guest-memory.ram";
/** The guest's memory as of the last suspend, copied out of the memory file by `stop` and back by the resume. */
export const SUSPEND_MEMORY_FILE = "suspend.ram";
/** Where large instance files wait for their removal by a detached `rm` (internal/discard-file.ts). */
export const DISCARD_DIR = "discard";
/** The guest's latest `--config-file` content, kept by the bridge process for the write-back at stop. */
export const BRIDGE_CONFIG_GUEST_FILE = "bridge-config.guest";
/** The bridge process's log (request events, never the token). */
export const BRIDGE_LOG_FILE = "bridge.log";
/**
 * The runtime environment (issue 13): the instance's `-fw_cfg name=opt/hexclave/env` payload, rendered every
 * start, and the home's per-install secrets. Named by the image's contract, which writes them.
 */
export { RUNTIME_ENV_FW_CFG_FILE, RUNTIME_SECRETS_FILE } from "@hexclave/image-builder/image";

/**
 * The emulator home: `HEXCLAVE_EMULATOR_HOME` (a relative value resolved
 * against the current directory, once: QEMU changes directory when it
 * daemonizes), else `~/.hexclave/emulator`. Always absolute.
 */
export function emulatorHome(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const fromEnv = env[HOME_ENV];
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(homedir(), ...DEFAULT_HOME_SEGMENTS);
}

/** The installed image files of `arch` in the home (`<home>/images/stack-emulator-<arch>.*`). */
export function imagePaths(home: string, arch: Arch): ImagePaths {
  return imageFilesIn(join(home, IMAGES_DIR), arch);
}

/** The accelerator probe's cache directory in the home, shared by start, doctor and build-image. */
export function probeCacheDir(home: string): string {
  return join(home, CACHE_DIR);
}
