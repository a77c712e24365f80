/**
 * The CLI's own error codes (failures found by the CLI itself, before or
 * around a library call). Printed by the error boundary like any library's.
 */
import { defineErrorCatalogue } from "@hexclave/qemu-core";

export const cliErrors = defineErrorCatalogue({
  IMAGE_NOT_INSTALLED: {
    title: "No emulator image installed",
    hint: "Get one: `stack emulator pull` (published image) or `stack build-image <arch> --profile selftest --base bootstrap` (build it here).",
  },
  IMAGE_CORRUPT: {
    title: "The installed image does not match its manifest",
    hint: "Remove it and get it again: `stack emulator pull`, or rebuild it with `stack build-image`.",
  },
  MANIFEST_UNREADABLE: {
    title: "The image manifest cannot be read",
    hint: "Get the image again with `stack emulator pull` or `stack build-image`.",
  },
  CONFIRMATION_REQUIRED: {
    title: "Confirmation required",
    hint: "Run it again with --yes to confirm without a terminal.",
  },
  CANCELLED: { title: "Cancelled", hint: "Nothing was changed." },
  BENCH_COMMAND_FAILED: {
    title: "A command the bench ran failed",
    hint: "Run that command yourself (`stack emulator status`, `stack emulator logs --serial`) to see why; the emulator is left as the failing command left it.",
  },
  BENCH_REPORT_UNWRITABLE: {
    title: "The bench report cannot be written",
    hint: "Pick a --report path in a directory you can write to.",
  },
});

export type CliErrorCode = keyof typeof cliErrors.catalogue;
