/**
 * The names the guest's payload runs under, which the emulator runtime reads (logs, guest programs) without
 * loading the user-data generator (and with it cloud-init-gen's YAML library).
 */

/** The systemd unit that runs the payload container on every boot. */
export const SERVICE_UNIT = "hexclave.service";
export const CONTAINER_NAME = "hexclave";
