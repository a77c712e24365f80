/**
 * The emulator runtime's error catalogue: every code it throws, with its default hint.
 * Add new codes here (keep them grouped by area); never reuse or rename one. The codes the runtime shares with the
 * build (downloads, manifest, release pointer, runtime environment, accelerator verdicts) stay in image-builder's
 * catalogue and come through its subpaths.
 */
import { imageBuilderErrors } from "@hexclave/image-builder/image";
import { defineErrorCatalogue, type HexclaveError } from "@hexclave/qemu-core";

export const emulatorErrors = defineErrorCatalogue({
  // Emulator runtime (start, stop, reset, status, logs, bench)
  EMULATOR_IMAGE_MISSING: {
    title: "No emulator image installed",
    hint: "Get one with `stack emulator pull`, or build it with `stack build-image` (offline: --profile selftest --base bootstrap).",
  },
  EMULATOR_MANIFEST_INVALID: {
    title: "The image manifest cannot drive a VM",
    hint: "Pull or build the image again; the manifest beside it is damaged or from an unknown format.",
  },
  EMULATOR_SETTING_INVALID: {
    title: "Invalid emulator setting",
    hint: "Fix the flag, option or environment variable named in the message (--cpus/EMULATOR_CPUS, --memory/EMULATOR_RAM_MB, EMULATOR_ARCH, EMULATOR_*_PORT).",
  },
  EMULATOR_NOT_RUNNING: {
    title: "The emulator is not running",
    hint: "Start it with `stack emulator start`.",
  },
  EMULATOR_NO_LOGS: {
    title: "No logs to show",
    hint: "Start the emulator once; the serial log is written from the first boot.",
  },
  EMULATOR_START_IN_PROGRESS: {
    title: "Another start of this emulator is in progress",
    hint: "Wait for it (`stack emulator status` shows it as starting), or end it: Ctrl-C in its terminal, or `stack emulator stop`.",
  },
  EMULATOR_STOPPED_DURING_START: {
    title: "The emulator was stopped while start waited for it",
    hint: "Another command (`stack emulator stop` or `reset`) stopped it; run `stack emulator start` again when you want it.",
  },
  EMULATOR_EXITED_DURING_START: {
    title: "QEMU exited while start waited for the services",
    hint: "Read the serial log (`stack emulator logs --serial`); `stack emulator start` boots the same disk again.",
  },
  EMULATOR_BASE_CHANGED: {
    title: "The base image changed under the emulator's data",
    hint: "Your data lives in an overlay of the previous image. Run `stack emulator reset --hard` to start fresh on the new image (this deletes the emulator's data).",
  },
  // Pulling published images (src/image-store)
  RELEASE_NOT_FOUND: {
    title: "Release not found",
    hint: "Check --channel, --version and --from (or HEXCLAVE_EMULATOR_RELEASES); a mirror needs emulator-<channel>.json and <version>/ with the release files.",
  },
  RELEASE_ARCH_MISSING: {
    title: "The release has no image for this architecture",
    hint: "Pull the other architecture with --arch, or pick a release that has it with --version.",
  },
  PULL_NO_SPACE: {
    title: "Not enough free disk space to pull the image",
    hint: "Free space on the file system of the emulator home (HEXCLAVE_EMULATOR_HOME), or move the home elsewhere; the installed image was not touched.",
  },
  PULL_EMULATOR_RUNNING: {
    title: "The emulator is running on the image to replace",
    hint: "Stop it first with `stack emulator stop`, then pull again.",
  },
  PULL_SOURCE_INVALID: {
    title: "Invalid pull source",
    hint: "--from takes an http(s):// base URL or an existing local directory; HEXCLAVE_EMULATOR_RELEASES takes owner/name or an http(s):// base URL.",
  },
  // File bridge and --config-file sync (src/file-bridge)
  FILE_BRIDGE_ROOT_INVALID: {
    title: "The file bridge's project directory is not usable",
    hint: "Pass an existing directory with --project-dir (default: the current directory).",
  },
  FILE_BRIDGE_OPTION_INVALID: {
    title: "Invalid file bridge option",
    hint: "Fix the option named in the message: the bridge listens on 127.0.0.1 only, on a port from 0 to 65535, with a token of 32 to 512 URL-safe characters.",
  },
  FILE_BRIDGE_LISTEN_FAILED: {
    title: "The file bridge could not listen",
    hint: "Another process holds the port named in the message; pick another port or use 0 for a free one.",
  },
  CONFIG_FILE_INVALID: {
    title: "The config file cannot be used",
    hint: "Pass an existing regular file with --config-file (for example ./stack.config.ts), no larger than the size named in the message.",
  },
  CONFIG_FILE_CONFLICT: {
    title: "The config file changed on the host while the emulator ran",
    hint: "Both versions were kept: compare the host file with the emulator's copy beside it (named in the message), merge them by hand, and delete the copy.",
  },
  CONFIG_FILE_WRITE_FAILED: {
    title: "Writing the config file back to the host failed",
    hint: "Check permissions and free space in the file's directory; the host copy was left as it was.",
  },
  FILE_BRIDGE_PROCESS_FAILED: {
    title: "The file bridge process did not start",
    hint: "Read run/<instance>/bridge.log in the emulator home; start without the bridge with --no-file-bridge meanwhile.",
  },
  // Cancellation
  ABORTED: { title: "Aborted", hint: "The operation was cancelled; nothing was left half-done." },
});

export type EmulatorErrorCode = keyof typeof emulatorErrors.catalogue;

/**
 * Whether `error` is one the runtime or the image contract it reads throws on purpose (a code of either
 * catalogue), as opposed to a failure from below that still needs wrapping.
 */
export function isCataloguedError(error: unknown): error is HexclaveError {
  return emulatorErrors.is(error) || imageBuilderErrors.is(error);
}
