/**
 * What a start does when the guest kernel panics while it waits for the
 * services (rare, under TCG, early in boot). Pure.
 *
 * - A direct kernel boot carries `panic=-1` on its command line (the VM
 *   spec adds it): the guest restarts at once by itself.
 * - A firmware boot runs the command line of the image's own boot loader,
 *   which the emulator does not write (Debian's cloud images set no `panic=`,
 *   so a panicked kernel hangs until the readiness deadline): QEMU resets it
 *   (QMP `system_reset`), at most {@link MAX_PANIC_RESTARTS} times a start.
 *   A guest that panics once more is left as it is and the start ends not
 *   ready at once, rather than at its deadline.
 */

/** How many times a start resets a firmware-booted guest whose kernel panicked. */
export const MAX_PANIC_RESTARTS = 2;

/**
 * How the guest's boot was set up: `kernel` (direct boot, the emulator's command line) or `firmware` (UEFI);
 * `attached` when this start did not launch the VM (another start owns its boot: report, never reset).
 */
export type GuestBootKind = "kernel" | "firmware" | "attached";

export type PanicResponse =
  | { readonly kind: "reported" }
  | { readonly kind: "guest-restarts" }
  | { readonly kind: "host-restarts"; readonly attempt: number }
  | { readonly kind: "give-up"; readonly restarts: number };

/** The response to one more panic, given how many times this start has already reset the guest. */
export function panicResponse(boot: GuestBootKind, restartsSoFar: number): PanicResponse {
  if (boot === "attached") return { kind: "reported" };
  if (boot === "kernel") return { kind: "guest-restarts" };
  if (restartsSoFar < MAX_PANIC_RESTARTS) return { kind: "host-restarts", attempt: restartsSoFar + 1 };
  return { kind: "give-up", restarts: restartsSoFar };
}

/** The warning a start reports for a panic and its response. */
export function panicMessage(reason: string, response: PanicResponse, serialLog: string): string {
  const panicked = `The guest kernel panicked (${reason})`;
  const console = `console: ${serialLog}`;
  switch (response.kind) {
    case "reported":
      return `${panicked} (${console})`;
    case "guest-restarts":
      return `${panicked}; it restarts by itself (${console})`;
    case "host-restarts":
      return `${panicked}; resetting the VM (restart ${response.attempt} of ${MAX_PANIC_RESTARTS}; ${console})`;
    case "give-up":
      return `${panicked} again after ${response.restarts} restarts; the start gives up waiting (${console})`;
  }
}
