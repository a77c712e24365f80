/**
 * qemu-core's error catalogue: every code it throws, with its default hint.
 * Add new codes here (keep them grouped by area); never reuse or rename one.
 */
import { defineErrorCatalogue } from "./errors.js";

export const qemuErrors = defineErrorCatalogue({
  // Input validation
  INVALID_ARCH: { title: "Unknown architecture", hint: "Use amd64 or arm64 (x86_64 and aarch64 are accepted too)." },
  INVALID_VM_SPEC: { title: "Invalid VM spec", hint: "Fix the field named in the message; see the VmSpec type." },
  // Host and binaries
  UNSUPPORTED_HOST: {
    title: "Unsupported host",
    hint: "Run on Linux, macOS or Windows, on an amd64 or arm64 machine.",
  },
  QEMU_NOT_FOUND: { title: "QEMU binary not found", hint: "Install QEMU (see the message for your OS's package)." },
  QEMU_TOO_OLD: { title: "QEMU too old", hint: "Upgrade QEMU to the minimum version named in the message." },
  QEMU_VERSION_UNREADABLE: {
    title: "Could not read QEMU's version",
    hint: "Check that the binary runs: <binary> --version.",
  },
  FIRMWARE_NOT_FOUND: {
    title: "UEFI firmware not found",
    hint: "Install the firmware package for your OS, or point the environment variable named in the message at it.",
  },
  ACCEL_PROBE_FAILED: { title: "No accelerator works", hint: "Even TCG failed: check that QEMU runs at all." },
  ACCEL_UNAVAILABLE: {
    title: "The chosen accelerator cannot work here",
    hint: "Choose another with --accel (auto probes; tcg always works), or unset EMULATOR_ACCEL.",
  },
  // ISO
  ISO_INVALID_INPUT: {
    title: "Invalid ISO input",
    hint: "Use ISO 9660 compatible names and a volume id of at most 32 characters.",
  },
  // Processes
  COMMAND_FAILED: {
    title: "A command failed",
    hint: "Read the command's output in the message; run it by hand to see more.",
  },
  ABORTED: { title: "Aborted", hint: "The operation was cancelled; nothing was left half-done." },
  // QMP
  QMP_CONNECT_FAILED: { title: "Could not connect to QMP", hint: "Is the VM running? Check its serial log." },
  QMP_TIMEOUT: { title: "QMP command timed out", hint: "The VM may be hung; stop it and check its serial log." },
  QMP_COMMAND_FAILED: { title: "QMP command failed", hint: "Read QEMU's error in the message." },
  QMP_DISCONNECTED: { title: "QMP connection closed", hint: "QEMU exited or closed the socket; check the serial log." },
  // qemu-img
  QEMU_IMG_FAILED: { title: "qemu-img failed", hint: "Read qemu-img's error in the message." },
  IMAGE_NOT_FOUND: { title: "Disk image not found", hint: "Check the path; pull or build the image first." },
  // Instances
  LOCK_HELD: {
    title: "Lock held",
    hint: "Another process holds the lock named in the message; wait for it to finish, or stop it.",
  },
  LOCK_LOST: {
    title: "Lock lost",
    hint: "The lock file was removed or replaced while this process held it; nothing was installed. Run the command again.",
  },
  INSTANCE_LOCKED: {
    title: "Instance busy",
    hint: "Another command is changing this instance; wait for it or stop it.",
  },
  INSTANCE_ALREADY_RUNNING: { title: "Instance already running", hint: "Stop it first, or use it as it is." },
  INSTANCE_NOT_RUNNING: { title: "Instance not running", hint: "Start it first." },
  PORT_IN_USE: {
    title: "Host port in use",
    hint: "Stop the process named in the message, or move the port with its environment variable.",
  },
  VM_START_FAILED: { title: "QEMU did not start", hint: "Read QEMU's output in the message and the serial log." },
  VM_STOP_FAILED: { title: "QEMU did not stop", hint: "Kill the process named in the message by hand." },
  SNAPSHOT_FAILED: {
    title: "Snapshot operation failed",
    hint: "Read QEMU's error; every writable drive must be qcow2.",
  },
  STATE_SAVE_FAILED: {
    title: "Saving the VM state failed",
    hint: "Read QEMU's error in the message; the VM is left paused with its state unsaved (cont resumes it).",
  },
  STATE_LOAD_FAILED: {
    title: "Loading the saved VM state failed",
    hint: "The state file does not fit this QEMU or machine, or is damaged: boot cold instead (it is not reusable).",
  },
  SNAPSHOT_NOT_FOUND: {
    title: "Snapshot not found",
    hint: "List the snapshots (listSnapshots) and use one of them, or boot cold.",
  },
  INSTANCE_RECORD_INVALID: {
    title: "Instance record unreadable",
    hint: "Stop the instance and delete the instance.json named in the message.",
  },
  GUEST_AGENT_FAILED: {
    title: "Guest agent failed",
    hint: "Is qemu-guest-agent installed and running in the guest? Read its error in the message.",
  },
  INVALID_ARGUMENT: { title: "Invalid argument", hint: "Fix the argument named in the message." },
  // Readiness
  READINESS_TIMEOUT: { title: "Not ready in time", hint: "Read which probes failed; check the guest's logs." },
});

export type QemuErrorCode = keyof typeof qemuErrors.catalogue;
