/**
 * The emulator's state layout, written down once. Nothing else in any package
 * spells these names: import them.
 *
 * ```
 * <home>/images/stack-emulator-<arch>.qcow2   read-only base image
 * <home>/images/stack-emulator-<arch>.json    its manifest
 * <home>/images/stack-emulator-<arch>.vmlinuz kernel and initrd, for images that boot
 * <home>/images/stack-emulator-<arch>.initrd  the kernel directly (no bootloader wait)
 * <home>/run/<instance>/disk.qcow2            overlay on the base: user data
 * <home>/run/<instance>/qmp.sock              QMP control socket
 * <home>/run/<instance>/qga.sock              QEMU guest agent socket
 * <home>/run/<instance>/serial.log            guest console
 * <home>/run/<instance>/qemu.pid              QEMU pid (advisory; identity is checked)
 * <home>/run/<instance>/qemu.log              QEMU's own stdout and stderr of the current run (its error reports)
 * <home>/run/<instance>/lock                  held while a command changes the instance
 * <home>/run/<instance>/instance.json         exact QEMU arguments, accelerator, fingerprint
 * <home>/run/<instance>/suspend.vmstate       RAM and device state saved by stop (QEMU migration stream; the
 *                                             device state only, when the VM's RAM is a memory file)
 * <home>/run/<instance>/bridge.fwcfg          file bridge port and token for the guest (fw_cfg, 0600)
 * <home>/run/<instance>/bridge.json           the detached file bridge process: pid + identity, port, config file
 * <home>/run/<instance>/bridge-config.guest   the guest's latest `--config-file` version (0600), written back at stop
 * <home>/run/<instance>/bridge.log            the file bridge process's own log (one JSON event a line, no token)
 * <home>/run/<instance>/runtime-env.fwcfg     the Hexclave image's runtime environment for the guest (fw_cfg, 0600)
 * <home>/runtime-secrets.json                 per-install secrets of the runtime environment (0600), made once
 * ```
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Arch } from "./vm-spec.js";

export const HOME_ENV = "HEXCLAVE_EMULATOR_HOME";
export const DEFAULT_HOME_SEGMENTS = [".hexclave", "emulator"] as const;

export const IMAGES_DIR = "images";
export const RUN_DIR = "run";
export const DEFAULT_INSTANCE = "vm";

export const OVERLAY_FILE = "disk.qcow2";
export const QMP_SOCKET_FILE = "qmp.sock";
export const GUEST_AGENT_SOCKET_FILE = "qga.sock";
export const SERIAL_LOG_FILE = "serial.log";
export const PID_FILE = "qemu.pid";
/** QEMU's stdout and stderr of the current run: where it reports accelerator failures (`KVM internal error`). */
export const QEMU_LOG_FILE = "qemu.log";
export const LOCK_FILE = "lock";
export const INSTANCE_RECORD_FILE = "instance.json";
export const UEFI_VARS_FILE = "efivars.qcow2";
/** The VM's RAM and device state saved at stop (`VmInstance.saveStateFile`), resumed with `-incoming`, then deleted. */
export const SUSPEND_STATE_FILE = "suspend.vmstate";
/** The emulator runtime's snapshot record (image-builder): fingerprints of `suspend`/`fresh`, last start kind and why. */
export const SNAPSHOT_RECORD_FILE = "snapshots.json";
/** The file bridge (image-builder, issue 10): the fw_cfg payload QEMU reads (`-fw_cfg name=opt/hexclave/bridge,file=...`). */
export const BRIDGE_FW_CFG_FILE = "bridge.fwcfg";
/** The detached file bridge process: pid, identity, port, project directory, config file session. */
export const BRIDGE_RECORD_FILE = "bridge.json";
/** The guest's latest `--config-file` content, kept by the bridge process for the write-back at stop. */
export const BRIDGE_CONFIG_GUEST_FILE = "bridge-config.guest";
/** The bridge process's log (request events, never the token). */
export const BRIDGE_LOG_FILE = "bridge.log";
/** The Hexclave image's runtime environment (image-builder, issue 13): `-fw_cfg name=opt/hexclave/env,file=...`, rendered every start. */
export const RUNTIME_ENV_FW_CFG_FILE = "runtime-env.fwcfg";
/** Per-install secrets of the runtime environment, in the emulator home (not per instance): made once, reused every start. */
export const RUNTIME_SECRETS_FILE = "runtime-secrets.json";

export const imageFileName = (arch: Arch): string => `stack-emulator-${arch}.qcow2`;
export const manifestFileName = (arch: Arch): string => `stack-emulator-${arch}.json`;
/** Kernel and initrd for direct kernel boot, published beside the image when its manifest says `boot.kind: "kernel"`. */
export const kernelFileName = (arch: Arch): string => `stack-emulator-${arch}.vmlinuz`;
export const initrdFileName = (arch: Arch): string => `stack-emulator-${arch}.initrd`;

/**
 * The emulator home: `HEXCLAVE_EMULATOR_HOME` (a relative value resolved
 * against the current directory, once: QEMU changes directory when it
 * daemonizes), else `~/.hexclave/emulator`. Always absolute.
 */
export function emulatorHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[HOME_ENV];
  return fromEnv !== undefined && fromEnv !== "" ? resolve(fromEnv) : join(homedir(), ...DEFAULT_HOME_SEGMENTS);
}

export interface InstancePaths {
  readonly dir: string;
  readonly overlay: string;
  readonly qmpSocket: string;
  readonly guestAgentSocket: string;
  readonly serialLog: string;
  readonly pidFile: string;
  readonly qemuLog: string;
  readonly lock: string;
  readonly record: string;
  readonly uefiVars: string;
  readonly suspendState: string;
}

export function instancePaths(home: string, instance: string = DEFAULT_INSTANCE): InstancePaths {
  const dir = join(home, RUN_DIR, instance);
  return {
    dir,
    overlay: join(dir, OVERLAY_FILE),
    qmpSocket: join(dir, QMP_SOCKET_FILE),
    guestAgentSocket: join(dir, GUEST_AGENT_SOCKET_FILE),
    serialLog: join(dir, SERIAL_LOG_FILE),
    pidFile: join(dir, PID_FILE),
    qemuLog: join(dir, QEMU_LOG_FILE),
    lock: join(dir, LOCK_FILE),
    record: join(dir, INSTANCE_RECORD_FILE),
    uefiVars: join(dir, UEFI_VARS_FILE),
    suspendState: join(dir, SUSPEND_STATE_FILE),
  };
}

export interface ImagePaths {
  readonly dir: string;
  readonly image: string;
  readonly manifest: string;
  readonly kernel: string;
  readonly initrd: string;
}

export function imagePaths(home: string, arch: Arch): ImagePaths {
  const dir = join(home, IMAGES_DIR);
  return {
    dir,
    image: join(dir, imageFileName(arch)),
    manifest: join(dir, manifestFileName(arch)),
    kernel: join(dir, kernelFileName(arch)),
    initrd: join(dir, initrdFileName(arch)),
  };
}
