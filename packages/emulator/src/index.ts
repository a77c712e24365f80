/**
 * @hexclave/emulator: what the CLI (and tests) use, nothing more. The image
 * store (`pullImage`, which loads got) is the `@hexclave/emulator/pull`
 * subpath, so commands that do not pull never load it.
 */

export type { CreateEmulatorOptions } from "./context.js";
// The runtime: one facade over the use cases, its options, results and events.
export { createEmulator, Emulator } from "./emulator.js";
export type { EmulatorErrorCode } from "./errors-data.js";
export { emulatorErrors } from "./errors-data.js";
export type { EmulatorEvent, EmulatorEventListener } from "./events.js";
// The file bridge process (the docker/ contract tests drive it directly).
export { startBridgeProcess, stopBridgeProcess } from "./file-bridge/bridge-process.js";
export type { GuestProgram } from "./inspect/guest-programs.js";
export type { ServiceHealthCheck } from "./inspect/service-health.js";
export {
  DEFAULT_GUEST_NETWORK_MODE,
  describeGuestNetwork,
  GUEST_NETWORK_MODES,
  type GuestNetworkMode,
  type GuestNetworkSettings,
} from "./machine/guest-network.js";

// Settings: the one bounds table and its resolver; the guest network's modes.
export {
  MACHINE_SETTINGS,
  type MachineFlags,
  type MachineSettingName,
  type MachineSettings,
  PORT_BOUNDS,
  resolveSettings,
  type SettingSource,
} from "./settings/machine-settings.js";
export type { BootKind, LastStart, SnapshotName } from "./store/snapshot-record.js";
export type {
  EmulatorConfigWriteBack,
  EmulatorFileBridgeInfo,
  EmulatorHealth,
  EmulatorLogsOptions,
  EmulatorResetOptions,
  EmulatorResetResult,
  EmulatorStartFileBridgeOptions,
  EmulatorStartOptions,
  EmulatorStartResult,
  EmulatorStatus,
  EmulatorStopOptions,
  EmulatorStopResult,
  StartPhases,
} from "./types.js";
