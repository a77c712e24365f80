/**
 * The names the guest's payload runs under, which the emulator runtime reads (logs, guest programs) without
 * loading the user-data generator (and with it cloud-init-gen's YAML library).
 */

/** The systemd unit that runs the payload container on every boot. */
export const SERVICE_UNIT = "hexclave.service";
export const CONTAINER_NAME = "hexclave";

/**
 * The guest's directory for the container's health report, under /run: the unit names it in `RuntimeDirectory=`,
 * so systemd makes it fresh on every start (no container sees an old report), and binds it into the container at
 * the same path.
 */
export const HEALTH_REPORT_RUNTIME_DIRECTORY = "hexclave-health";
export const HEALTH_REPORT_DIR = `/run/${HEALTH_REPORT_RUNTIME_DIRECTORY}`;
/**
 * The supervisor's health report (docker/supervisor/supervise.sh, `HEXCLAVE_HEALTH_REPORT`): the epoch seconds
 * of the check, `hexclave-health`'s lines, `exit <code>`; rewritten (temp, then rename) after every check of its
 * health monitor, the first as soon as the start-up ends. The same path in the guest and in the container.
 */
export const HEALTH_REPORT_FILE = `${HEALTH_REPORT_DIR}/programs`;
/** The container's variable that names {@link HEALTH_REPORT_FILE}. */
export const HEALTH_REPORT_ENV = "HEXCLAVE_HEALTH_REPORT";
