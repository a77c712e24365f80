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
export {
  type LaunchedBridge,
  launchBridgeProcess,
  startBridgeProcess,
  stopBridgeProcess,
} from "./file-bridge/bridge-process.js";
export type { GuestProgram } from "./inspect/guest-programs.js";
export type { ServiceHealthCheck } from "./inspect/service-health.js";
// The emulator home's layout: every name the runtime adds to it, written once.
export {
  BRIDGE_CONFIG_GUEST_FILE,
  BRIDGE_FW_CFG_FILE,
  BRIDGE_LOG_FILE,
  BRIDGE_RECORD_FILE,
  CACHE_DIR,
  DEFAULT_HOME_SEGMENTS,
  DEFAULT_INSTANCE,
  EMULATOR_START_LOCK_FILE,
  emulatorHome,
  HOME_ENV,
  IMAGES_DIR,
  imagePaths,
  probeCacheDir,
  RUNTIME_ENV_FW_CFG_FILE,
  RUNTIME_SECRETS_FILE,
  SNAPSHOT_RECORD_FILE,
} from "./layout.js";
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
