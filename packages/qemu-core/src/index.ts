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
export * from "./instance-layout.js";
export * from "./instance-lock.js";
export * from "./iso9660.js";
export * from "./private-files.js";
export * from "./probe-guests.js";
export * from "./process-identity.js";
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
export * from "./state-file-migration.js";
export * from "./vm-instance.js";
export * from "./vm-spec.js";
