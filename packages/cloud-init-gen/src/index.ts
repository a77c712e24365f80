export type {
  AptConfig,
  AptMirror,
  AptSource,
  ChpasswdConfig,
  ChpasswdUser,
  CloudConfig,
  CloudInitCommand,
  GrowpartConfig,
  MountEntry,
  PackageSpec,
  PhoneHomeConfig,
  PhoneHomeKey,
  PowerStateConfig,
  SwapConfig,
  UserConfig,
  WriteFile,
  WriteFileEncoding,
} from "./cloud-config.js";
export { TYPED_CLOUD_CONFIG_KEYS } from "./cloud-config.js";
export { CloudInitGenError, type CloudInitGenErrorOptions } from "./errors.js";
export { type CloudInitErrorCode, cloudInitErrorCatalogue } from "./errors-data.js";
export { type MimePart, type MultipartOptions, renderMultipart } from "./mime-multipart.js";
export {
  dhcpNetworkConfig,
  type EthernetConfig,
  type NetworkConfigV2,
  type NetworkMatch,
  type NetworkNameservers,
  type NetworkRoute,
} from "./network-config.js";
export {
  CLOUD_CONFIG_HEADER,
  type MetaData,
  renderMetaData,
  renderNetworkConfig,
  renderUserData,
} from "./render-documents.js";
export { type SeedFiles, type SeedInput, seedFiles } from "./seed-files.js";
export {
  type RawShell,
  raw,
  ShellScript,
  type ShellScriptOptions,
  type ShellValue,
  sh,
  shCommand,
  shQuote,
} from "./shell-script.js";
export {
  type EnableOptions,
  renderSystemdUnit,
  type SystemdSection,
  type SystemdUnit,
  type SystemdValue,
  systemdEnableCommands,
  systemdUnitFiles,
} from "./systemd-units.js";
export { assertValidCloudConfig, validate } from "./validate-cloud-config.js";
export { formatProblem, type ValidationProblem, type ValidationResult } from "./validation-problems.js";
export { toYamlText } from "./yaml-text.js";
