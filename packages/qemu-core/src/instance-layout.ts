/**
 * The files of one VM instance, written down once. qemu-core owns these names
 * and nothing else: where the root directory is, how the instance is named,
 * and any file a product adds beside them belong to the caller (the Hexclave
 * emulator's are in `@hexclave/emulator`'s layout module).
 *
 * ```
 * <root>/run/<name>/disk.qcow2      overlay on the base image: user data
 * <root>/run/<name>/qmp.sock        QMP control socket
 * <root>/run/<name>/qga.sock        QEMU guest agent socket
 * <root>/run/<name>/serial.log      guest console
 * <root>/run/<name>/qemu.pid        QEMU pid (advisory; identity is checked)
 * <root>/run/<name>/qemu.log        QEMU's own stdout and stderr of the current run (its error reports)
 * <root>/run/<name>/lock            held while a command changes the instance
 * <root>/run/<name>/instance.json   exact QEMU arguments, accelerator, fingerprint
 * <root>/run/<name>/efivars.qcow2   the UEFI variable store, for firmware boots
 * <root>/run/<name>/suspend.vmstate RAM and device state saved by `saveStateFile` (QEMU migration stream; the
 *                                   device state only, when the VM's RAM is a memory file)
 * ```
 */
import { join } from "node:path";

/** The directory under the root that holds one directory per instance. */
export const RUN_DIR = "run";

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

/**
 * Every file of the instance `name` under `root` (`<root>/run/<name>/...`).
 * Pure: joins names, touches nothing. There is no default name: the caller
 * names its instances.
 *
 * @example
 * ```ts
 * instancePaths("/var/lib/my-tool", "vm").qmpSocket; // "/var/lib/my-tool/run/vm/qmp.sock"
 * ```
 */
export function instancePaths(root: string, name: string): InstancePaths {
  const dir = join(root, RUN_DIR, name);
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
