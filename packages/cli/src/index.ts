/**
 * @hexclave/cli: the `stack` command as a library. `runCli` runs it in-process
 * (tests, wrappers); the rest are the contracts its commands use.
 */
export type * from "./bench/whole-command-stats.js";
export { BENCH_SCHEMA_VERSION, summariseConfig } from "./bench/whole-command-stats.js";
export { type BuildImage, type CliDeps, defaultCliDeps } from "./cli-deps.js";
export { type CliErrorCode, cliErrors } from "./cli-errors.js";
export type { CliIo, OutputStream } from "./cli-io.js";
export type * from "./doctor/doctor-report.js";
export { DOCTOR_SCHEMA_VERSION, overallVerdict } from "./doctor/doctor-report.js";
export type * from "./emulator-runtime.js";
export {
  DEFAULT_CPUS,
  DEFAULT_MEMORY_MB,
  DEFAULT_PORTS,
  type EmulatorFlags,
  type EmulatorSettings,
  PORT_ENV,
  resolveEmulatorSettings,
  resolvePorts,
  SERVICE_NAMES,
  type ServiceName,
  type SettingsContext,
  serviceUrls,
} from "./emulator-settings.js";
export { ExitCode } from "./exit-codes.js";
export { type ImageManifestSummary, readImageManifest, requireInstalledImage } from "./image-store.js";
export { renderBenchReportHtml } from "./render/bench-report-html.js";
export { renderWholeBenchTables } from "./render/bench-whole-table.js";
export type { ProgressEvent } from "./render/progress-events.js";
export { createPlainRenderer, type ProgressRenderer } from "./render/progress-renderer.js";
export { createProgressRenderer, createTtyRenderer } from "./render/tty-renderer.js";
export { reportError, runCli } from "./run-cli.js";
export type * from "./status-report.js";
export { STATUS_SCHEMA_VERSION, statusExitCode } from "./status-report.js";
export { UsageError } from "./usage-error.js";
