/**
 * The pure half of `--config-file` sync: what to do at stop with the guest's
 * version of the file, given digests of the start copy, the host file now,
 * and the guest's version. No file system access here.
 */

export type ConfigWriteBackDecision =
  /** Nothing to write: the guest did not change the file, or the host already holds the guest's bytes. */
  | { readonly action: "unchanged"; readonly reason: "guest-unchanged" | "already-equal" }
  /** The host file is as it was at start: replace it, keeping the previous copy as `<name>.bak`. */
  | { readonly action: "write" }
  /** The host file changed (or vanished) since start: keep it, and put the guest's version beside it. */
  | { readonly action: "conflict"; readonly reason: "host-changed" | "host-deleted" };

export interface ConfigWriteBackInput {
  /** sha256 of the host file when the session started. */
  readonly startDigest: string;
  /** sha256 of the host file now, or null when it no longer exists. */
  readonly hostDigest: string | null;
  /** sha256 of the guest's version. */
  readonly guestDigest: string;
}

export function decideConfigWriteBack({
  startDigest,
  hostDigest,
  guestDigest,
}: ConfigWriteBackInput): ConfigWriteBackDecision {
  if (guestDigest === startDigest) return { action: "unchanged", reason: "guest-unchanged" };
  if (hostDigest === guestDigest) return { action: "unchanged", reason: "already-equal" };
  if (hostDigest === null) return { action: "conflict", reason: "host-deleted" };
  if (hostDigest !== startDigest) return { action: "conflict", reason: "host-changed" };
  return { action: "write" };
}

/** Where the previous host copy goes on a clean write-back: `<file>.bak` (replaced each time). */
export function configBackupPath(hostPath: string): string {
  return `${hostPath}.bak`;
}

/**
 * Where the guest's version goes on a conflict: `<file>.emulator-<UTC time>`
 * (`stack.config.ts.emulator-20250102T030405Z`), with `-2`, `-3`... when taken.
 * No `:` in the name, so it is valid on every host file system.
 */
export function configGuestCopyPath(hostPath: string, at: Date, attempt = 1): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  return `${hostPath}.emulator-${stamp}${attempt > 1 ? `-${attempt}` : ""}`;
}
