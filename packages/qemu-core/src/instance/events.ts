/** Typed progress of a VM instance's start, stop and snapshot operations. */
export type VmInstanceEvent =
  | { readonly type: "lock-acquired"; readonly purpose: string }
  | { readonly type: "stale-cleaned"; readonly files: readonly string[]; readonly reason: string }
  | { readonly type: "ports-checked"; readonly ports: readonly number[] }
  | { readonly type: "overlay-created"; readonly file: string; readonly backingFile: string }
  | { readonly type: "memory-file-prepared"; readonly file: string; readonly plan: "empty" | "keep" | "copy-from" }
  | { readonly type: "qemu-spawned"; readonly pid: number; readonly binary: string; readonly args: readonly string[] }
  | { readonly type: "qmp-ready"; readonly status: string; readonly elapsedMs: number }
  | { readonly type: "powerdown-requested"; readonly graceMs: number }
  /** The guest agent took the shutdown: the guest's grace grew to `graceMs` in all. */
  | { readonly type: "powerdown-extended"; readonly graceMs: number }
  | { readonly type: "stop-escalated"; readonly step: "quit" | "sigterm" | "sigkill"; readonly reason: string }
  | { readonly type: "stopped"; readonly how: string; readonly elapsedMs: number }
  | { readonly type: "snapshot-saved"; readonly name: string; readonly elapsedMs: number }
  | { readonly type: "snapshot-deleted"; readonly name: string };

/** Calls `onEvent` if given: use cases emit through this. */
export function emitter(onEvent: ((event: VmInstanceEvent) => void) | undefined): (event: VmInstanceEvent) => void {
  return onEvent ?? (() => {});
}
