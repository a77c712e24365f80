export * from "./abortable-sleep.js";
export * from "./accelerator.js";
export * from "./atomic-file.js";
export * from "./byte-size.js";
export * from "./command-runner.js";
export * from "./errors.js";
export * from "./errors-data.js";
export * from "./file-lock.js";
export * from "./firmware.js";
export * from "./guest-agent-client.js";
export * from "./guest-console/kernel-command-line.js";
export * from "./guest-console/kernel-panic.js";
export * from "./guest-console/serial-follower.js";
export * from "./host.js";
export * from "./host-ports.js";
export type { InstanceContext } from "./instance/context.js";
export type { VmInstanceEvent } from "./instance/events.js";
export {
  type InstanceVmSpec,
  type InstanceVmSpecOptions,
  instanceVmSpec,
} from "./instance/instance-vm-spec.js";
export { type MemoryFilePlan, memoryFilePlan, sparseCopyCommand } from "./instance/memory-file.js";
export { type InstanceRecord, parseRecord } from "./instance/record.js";
export { pickWritableQcow2, primaryDrive, type SnapshotOptions, validateSnapshotName } from "./instance/snapshots.js";
export { type StartOptions, type StartResult, validateStartOptions } from "./instance/start.js";
export {
  INCOMING_DEFERRED,
  type MigrationProgress,
  readMigrationProgress,
  STATE_FILE_MAX_BANDWIDTH_BYTES_PER_S,
  type StateFileSaveOptions,
  shellQuote,
  stateFileLoadUri,
  stateFileSaveUri,
} from "./instance/state-file.js";
export { type InstanceStatus, type VmState, vmStateOf } from "./instance/status.js";
export { STOP_DEFAULTS, type StopOptions, type StopResult, stopDeadlines } from "./instance/stop.js";
export { removeInstanceDir, VmInstance, type VmInstanceOptions } from "./instance/vm-instance.js";
export * from "./instance-layout.js";
export * from "./instance-lock.js";
export * from "./iso9660.js";
export * from "./private-files.js";
export * from "./probe-guests.js";
export * from "./process-identity.js";
export { readQcow2Snapshots } from "./qcow2-snapshots.js";
export * from "./qemu-args.js";
export * from "./qemu-binary.js";
export * from "./qemu-img.js";
export * from "./qemu-img-info.js";
export {
  QmpClient,
  type QmpCommandOptions,
  type QmpConnectOptions,
  type QmpEvent,
  type QmpGreeting,
  type QmpJobInfo,
  type QmpSnapshotOptions,
  type QmpStatus,
  type QmpWaitOptions,
} from "./qmp-client.js";
export * from "./readiness.js";
export * from "./run-state-watch.js";
export * from "./vm-spec.js";
