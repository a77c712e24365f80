/**
 * The start-plan decision (issue 8), pure: given what is on disk and the
 * machine about to run, resume which snapshot, or boot cold and why. Every
 * cold boot carries a reason the user sees; a fallback is never silent.
 */
import { compareFingerprints, describeDifferences, type VmFingerprint } from "../machine/fingerprint.js";
import type { SavedSnapshot, SnapshotName, SnapshotRecord } from "../store/snapshot-record.js";

export interface StartPlanInput {
  /** `noSnapshot` option or `EMULATOR_NO_SNAPSHOT=1`: the plain cold path. */
  readonly noSnapshot: boolean;
  readonly overlayExists: boolean;
  readonly record: SnapshotRecord;
  /** Snapshot names really present in the overlay (`qemu-img snapshot -l`): the record is trusted only where they agree. */
  readonly presentSnapshots: readonly string[];
  readonly fingerprint: VmFingerprint;
}

export interface ResumePlan {
  readonly kind: "resume";
  readonly snapshot: SnapshotName;
  readonly saved: SavedSnapshot;
  readonly reason: string;
}

export interface ColdPlan {
  readonly kind: "cold";
  readonly reason: string;
  /** The overlay does not exist (or must be recreated): start from the base image. */
  readonly newOverlay: boolean;
  /** Revert the disk to this snapshot's disk state before booting (reset with a mismatched `fresh`). */
  readonly revertDiskTo?: SnapshotName;
  /** Snapshots to delete before booting: stale ones that must never be resumed later. */
  readonly drop: readonly SnapshotName[];
  /** Save `fresh` once all services are healthy (first boot, or a cold boot of the fresh disk). */
  readonly saveFreshWhenHealthy: boolean;
}

export type StartPlan = ResumePlan | ColdPlan;

function usable(input: StartPlanInput, name: SnapshotName): SavedSnapshot | undefined {
  const saved = input.record.snapshots[name];
  return saved !== undefined && input.presentSnapshots.includes(name) ? saved : undefined;
}

/** Snapshot names present in the overlay that are not ours or not recorded (pruned: at most one suspend and one fresh). */
function strays(input: StartPlanInput, keep: readonly SnapshotName[]): SnapshotName[] {
  return (["suspend", "fresh"] as const).filter((n) => input.presentSnapshots.includes(n) && !keep.includes(n));
}

/**
 * Why the existing overlay cannot run on the installed base image, or undefined when it can (or nothing is recorded).
 * Pure; the caller refuses to start rather than boot user data against the wrong base.
 */
export function overlayBaseMismatch(
  input: Pick<StartPlanInput, "overlayExists" | "record" | "fingerprint">,
): string | undefined {
  const recorded = input.record.overlayBaseSha256;
  if (!input.overlayExists || recorded === undefined || recorded === input.fingerprint.baseImageSha256)
    return undefined;
  return `the emulator's data disk was created on base image ${recorded.slice(0, 12)}, but the installed image is ${input.fingerprint.baseImageSha256.slice(0, 12)}`;
}

export function decideStartPlan(input: StartPlanInput): StartPlan {
  const { record } = input;
  if (!input.overlayExists) {
    return {
      kind: "cold",
      reason: "first start: a new overlay on the base image (no saved state yet)",
      newOverlay: true,
      drop: [],
      saveFreshWhenHealthy: !input.noSnapshot,
    };
  }

  const fresh = usable(input, "fresh");
  const suspend = usable(input, "suspend");

  if (input.noSnapshot) {
    const revert = record.resetPending && fresh !== undefined;
    return {
      kind: "cold",
      reason: `snapshots are off (--no-snapshot or EMULATOR_NO_SNAPSHOT=1): booting the disk cold${revert ? " after reverting it to the fresh state" : ""}`,
      newOverlay: false,
      ...(revert ? { revertDiskTo: "fresh" as const } : {}),
      // A suspend taken before would be stale once this disk runs: never resume it later.
      drop: strays(input, ["fresh"]),
      saveFreshWhenHealthy: false,
    };
  }

  if (record.resetPending) {
    if (fresh === undefined) {
      return {
        kind: "cold",
        reason: "reset: there is no fresh snapshot to revert to, so the overlay is recreated and booted cold",
        newOverlay: true,
        drop: [],
        saveFreshWhenHealthy: true,
      };
    }
    const differences = compareFingerprints(fresh.fingerprint, input.fingerprint);
    if (differences.length === 0) {
      return { kind: "resume", snapshot: "fresh", saved: fresh, reason: "reset: resuming the fresh snapshot" };
    }
    return {
      kind: "cold",
      reason: `reset: the fresh snapshot was saved on a different machine (${describeDifferences(differences)}), so its disk is booted cold`,
      newOverlay: false,
      revertDiskTo: "fresh",
      drop: strays(input, []),
      saveFreshWhenHealthy: true,
    };
  }

  if (suspend !== undefined) {
    const differences = compareFingerprints(suspend.fingerprint, input.fingerprint);
    if (differences.length === 0) {
      return {
        kind: "resume",
        snapshot: "suspend",
        saved: suspend,
        reason: `resuming the state saved at stop (${suspend.savedAt})`,
      };
    }
    return {
      kind: "cold",
      reason: `the saved state does not fit this machine (${describeDifferences(differences)}): booting the same disk cold`,
      newOverlay: false,
      drop: strays(input, fresh !== undefined ? ["fresh"] : []),
      saveFreshWhenHealthy: fresh === undefined,
    };
  }

  let why: string;
  if (record.running) {
    why = "the previous run ended without a stop (QEMU was killed or crashed)";
  } else if (record.lastStop?.kind === "poweroff") {
    why = "the last stop saved no state (--no-snapshot)";
  } else if (record.lastStop?.kind === "interrupted") {
    why = "the last start was interrupted before it finished, and its VM was stopped";
  } else if (record.lastStop?.kind === "suspend-failed") {
    why = `saving the state at the last stop failed (${record.lastStop.detail ?? "unknown error"})`;
  } else if (record.snapshots.suspend !== undefined) {
    why = "the saved state is missing from the overlay";
  } else {
    why = "there is no saved state";
  }
  return {
    kind: "cold",
    reason: `${why}: booting the disk cold; services recover from their own journals`,
    newOverlay: false,
    drop: strays(input, fresh !== undefined ? ["fresh"] : []),
    saveFreshWhenHealthy: fresh === undefined,
  };
}

/**
 * The plan after resuming `plan.snapshot` failed (`error` says how): boot the same disk cold, never silently.
 * A failed `fresh` reverts the disk to its `fresh` state and saves `fresh` again once healthy; a failed `suspend`
 * is dropped (its state can never be resumed), the disk kept as it is.
 */
export function planAfterFailedResume(plan: ResumePlan, error: string): ColdPlan {
  return {
    kind: "cold",
    reason: `resuming the ${plan.snapshot} snapshot failed (${error}): booting the same disk cold`,
    newOverlay: false,
    ...(plan.snapshot === "fresh" ? { revertDiskTo: "fresh" as const } : {}),
    drop: plan.snapshot === "suspend" ? ["suspend"] : [],
    saveFreshWhenHealthy: plan.snapshot === "fresh",
  };
}
