/**
 * Linux's own words for a dead kernel on the serial console, and the kernel
 * command-line options that turn one into a reboot. Pure.
 *
 * Under TCG a guest kernel can, rarely, die early in boot (seen: an `int3`
 * Oops while the kernel patches its static keys with several vCPUs). A boot
 * that waits for services would then wait out its whole deadline; a kernel
 * that reboots at once on a panic (`panic=-1`), and that treats an Oops as a
 * panic (`oops=panic`), turns it into a short delay or a quick failure.
 */
import { withKernelOptions } from "./kernel-command-line.js";

/** `panic=-1`: reboot at once on a panic; `oops=panic`: an Oops is a panic (its task would otherwise die half-way). */
export const REBOOT_ON_PANIC_OPTIONS = ["panic=-1", "oops=panic"] as const;

/** The kernel command line with {@link REBOOT_ON_PANIC_OPTIONS} added, keeping any `panic=`/`oops=` already set. */
export function withRebootOnPanic(append: string): string {
  return withKernelOptions(append, REBOOT_ON_PANIC_OPTIONS);
}

const PANIC_LINE = /^(?:\[\s*\d+\.\d+\]\s*)?Kernel panic - not syncing:?\s*(.*)$/;

/**
 * The reason of a kernel panic when `line` is the console line that
 * announces it (`[    2.71] Kernel panic - not syncing: Fatal exception`
 * gives `Fatal exception`); undefined for any other line, including the
 * closing `---[ end Kernel panic ... ]---`.
 */
export function kernelPanicReason(line: string): string | undefined {
  const match = PANIC_LINE.exec(line.trim());
  if (match === null) return undefined;
  const reason = (match[1] ?? "").trim();
  return reason === "" ? "no reason given" : reason;
}
