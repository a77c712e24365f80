/**
 * Progress events of the emulator runtime (a discriminated union on `type`).
 * `elapsedMs` always counts from the start of the call that emits it.
 */
import type { Accelerator, VmInstanceEvent } from "@hexclave/qemu-core";
import type { BootKind, SnapshotName } from "./store/snapshot-record.js";

export type EmulatorEvent =
  /** The accelerator qemu-core's probe chose, and why (for example why KVM was not used). */
  | { readonly type: "accelerator"; readonly accel: Accelerator; readonly reason: string }
  /**
   * The hardware accelerator could not run the guest (QEMU's run state or words say so): the VM was stopped and the
   * start goes on under tcg; the verdict is cached with the accelerator probe, so later starts and builds use tcg.
   */
  | {
      readonly type: "accelerator-fallback";
      readonly from: Accelerator;
      readonly to: "tcg";
      readonly reason: string;
      /** From QEMU's spawn to the failure being seen. */
      readonly detectedAfterMs: number;
    }
  /** Resume a snapshot or boot cold, and why. Always emitted before QEMU starts: a fallback is never silent. */
  | { readonly type: "boot-mode"; readonly mode: BootKind; readonly reason: string; readonly snapshot?: SnapshotName }
  /** A resume failed; the start continues with a cold boot of the same disk (a `boot-mode` event follows). */
  | { readonly type: "resume-failed"; readonly snapshot: SnapshotName; readonly error: string }
  /** A named phase began (`overlay`, `qemu`, `boot`, `guest-fixup`, `services`, `snapshot`, `flush`, `stop`). */
  | { readonly type: "stage-start"; readonly stage: string; readonly label?: string }
  | { readonly type: "stage-end"; readonly stage: string; readonly durationMs: number; readonly detail?: string }
  /** QEMU answers on QMP. */
  | { readonly type: "qemu-up"; readonly pid: number | null; readonly elapsedMs: number }
  /** The guest agent answers (the guest's userspace is up). */
  | { readonly type: "guest-booted"; readonly elapsedMs: number }
  /** A service's health changed. */
  | {
      readonly type: "service-health";
      readonly service: string;
      readonly up: boolean;
      readonly url: string;
      readonly detail: string;
      readonly elapsedMs: number;
    }
  /** All services answered. */
  | { readonly type: "ready"; readonly elapsedMs: number }
  | { readonly type: "snapshot-saved"; readonly name: SnapshotName; readonly durationMs: number }
  | { readonly type: "snapshot-deleted"; readonly name: SnapshotName }
  /**
   * A step of qemu-core's `VmInstance` (lifecycle/vm-events.ts): `warn` for what a user should see (files of an
   * earlier QEMU cleaned up, a stop that escalated), `debug` for steps the stages above already report.
   */
  | {
      readonly type: "vm";
      readonly level: "info" | "warn" | "debug";
      readonly text: string;
      readonly event: VmInstanceEvent;
    }
  /** Anything else worth a line. */
  | { readonly type: "message"; readonly level: "info" | "warn"; readonly text: string };

export type EmulatorEventListener = (event: EmulatorEvent) => void;
