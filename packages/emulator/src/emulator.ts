/**
 * The emulator runtime behind `stack emulator start|stop|reset|status|logs|bench`:
 * the Hexclave emulator VM (the image's manifest, its four forwarded
 * services) on top of qemu-core's `VmInstance`, with instant restart (issue 8):
 *
 * - `stop` flushes the guest (guest agent fsfreeze, or `sync`), saves the
 *   VM's RAM and device state to `suspend.vmstate` beside the overlay (QEMU's
 *   migration stream; the overlay itself is the disk half, untouched until the
 *   next start), and quits QEMU. `start` resumes it with the recorded spec
 *   (`-incoming`), deletes the consumed file, thaws the guest's file systems,
 *   sets its clock, bounces its NIC, and runs every readiness check as on a
 *   cold boot. (A state file, not an internal qcow2 snapshot: measured here,
 *   `-incoming` loads 634 MiB of state in 1.7 to 2 s against 3.5 to 9 s for
 *   `-loadvm`; see qemu-core's instance/state-file.ts.)
 * - The first cold start that reaches healthy saves `fresh`: a disk-only
 *   snapshot of the overlay plus `fresh.vmstate` (see fresh-state.ts);
 *   `reset` makes the next start resume it (disk reverted, `-incoming`);
 *   `reset({ hard: true })` deletes the overlay.
 * - A fingerprint of the machine is stored with each snapshot: a mismatch, or
 *   any resume failure, gives a cold boot of the same disk with the reason in
 *   a `boot-mode` event and in the result. Never silent.
 */
import type { Arch, InstancePaths, VmInstance } from "@hexclave/qemu-core";
import { type CreateEmulatorOptions, createEmulatorContext, type EmulatorContext } from "./context.js";
import { logs } from "./inspect/logs.js";
import { status } from "./inspect/status.js";
import { reset } from "./lifecycle/reset.js";
import { start } from "./lifecycle/start.js";
import { stop } from "./lifecycle/stop.js";
import type {
  EmulatorLogsOptions,
  EmulatorResetOptions,
  EmulatorResetResult,
  EmulatorStartOptions,
  EmulatorStartResult,
  EmulatorStatus,
  EmulatorStopOptions,
  EmulatorStopResult,
} from "./types.js";

export type { CreateEmulatorOptions } from "./context.js";
export { describeConfigWriteBack } from "./lifecycle/bridge-session.js";
export { EMULATOR_ACCEL_TIMEOUT_MS, EMULATOR_TCG_TIMEOUT_MS } from "./lifecycle/wait-ready.js";
export {
  EMULATOR_DEFAULT_CPUS,
  EMULATOR_DEFAULT_MEMORY_MB,
  EMULATOR_NO_SNAPSHOT_ENV,
} from "./settings/runtime-settings.js";
export type * from "./types.js";

/** One emulator instance: each method is one use case (lifecycle/, inspect/) run on this instance's context. */
export class Emulator {
  readonly #ctx: EmulatorContext;

  constructor(options: CreateEmulatorOptions = {}) {
    this.#ctx = createEmulatorContext(options);
  }

  get home(): string {
    return this.#ctx.home;
  }

  get instanceName(): string {
    return this.#ctx.instanceName;
  }

  get vm(): VmInstance {
    return this.#ctx.vm;
  }

  get paths(): InstancePaths {
    return this.#ctx.paths;
  }

  /** The lock a start holds while it runs (`EMULATOR_START_LOCK_FILE`). */
  get startLockFile(): string {
    return this.#ctx.startLockFile;
  }

  /** The snapshot record file of this instance. */
  get recordFile(): string {
    return this.#ctx.recordFile;
  }

  /** Closes this object's QMP connection (the VM keeps running). */
  close(): void {
    this.#ctx.vm.close();
  }

  start(options: EmulatorStartOptions = {}): Promise<EmulatorStartResult> {
    return start(this.#ctx, options);
  }

  stop(options: EmulatorStopOptions = {}): Promise<EmulatorStopResult> {
    return stop(this.#ctx, options);
  }

  reset(options: EmulatorResetOptions = {}): Promise<EmulatorResetResult> {
    return reset(this.#ctx, options);
  }

  status(options: { arch?: Arch; signal?: AbortSignal } = {}): Promise<EmulatorStatus> {
    return status(this.#ctx, options);
  }

  /** Lines of the guest console (`serial`) or of the services in the guest (`services`, through the guest agent). */
  logs(options: EmulatorLogsOptions): AsyncIterable<string> {
    return logs(this.#ctx, options);
  }
}

export function createEmulator(options: CreateEmulatorOptions = {}): Emulator {
  return new Emulator(options);
}
