/**
 * `@hexclave/image-builder/image`: the published image's contract, what the emulator runtime reads of an image
 * without loading the build pipeline (no dockerode): the manifest, the guest's unit and container names, the
 * runtime environment the guest reads over fw_cfg, the per-install secrets, and the image's file names.
 */
export { imageBuilderErrors } from "../errors-data.js";
export type { RuntimeEnvInput, RuntimeHostPorts, RuntimeSecrets } from "../provisioning/runtime-env.js";
export { parseEnvFile } from "../provisioning/runtime-env.js";
export type { RuntimeEnvRefreshResult } from "../provisioning/runtime-env-fwcfg.js";
export {
  RUNTIME_ENV_FW_CFG_FILE,
  RUNTIME_ENV_FW_CFG_NAME,
  RUNTIME_ENV_GUEST_PATH,
  RUNTIME_ENV_REFRESH_RESULTS,
  RUNTIME_ENV_SCRIPT_PATH,
  runtimeEnvFwCfgEntry,
  writeRuntimeEnvFwCfg,
} from "../provisioning/runtime-env-fwcfg.js";
export { CONTAINER_NAME, HEALTH_REPORT_DIR, HEALTH_REPORT_FILE, SERVICE_UNIT } from "../provisioning/service-names.js";
export { startTimeoutFactor } from "../warm-boot/health-deadline.js";
export * from "./image-files.js";
export * from "./manifest.js";
export * from "./runtime-secrets.js";
