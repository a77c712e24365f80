/**
 * How long the warm boot's guest waits for every service's health check
 * (the provisioning script's `services-healthy` stage).
 */
import type { BuildProfile } from "../profiles.js";

/**
 * The supervisor's own worst case for a start: its stages run one after the
 * other, each waiting up to its slowest service's deadline
 * (`buildStartTimeoutSeconds` in the build's warm boot, which runs migrations
 * and seed; else `startTimeoutSeconds`, else the profile's default).
 */
export function supervisorStartBudgetSeconds(
  profile: Pick<BuildProfile, "services" | "startTimeoutSeconds">,
  buildMode: boolean,
): number {
  const perStage = new Map<number, number>();
  for (const s of profile.services) {
    const deadline =
      (buildMode ? s.buildStartTimeoutSeconds : undefined) ?? s.startTimeoutSeconds ?? profile.startTimeoutSeconds;
    perStage.set(s.stage, Math.max(perStage.get(s.stage) ?? 0, deadline));
  }
  let total = 0;
  for (const deadline of perStage.values()) total += deadline;
  return total;
}

/**
 * The guest's deadline: never shorter than the supervisor's budget (a build
 * whose migrations may take an hour must not be cut at 15 minutes while the
 * supervisor still waits), and at least five default deadlines or 10 minutes.
 * The warm boot's own host-side deadline still bounds the whole boot.
 */
export function warmBootHealthTimeoutSeconds(
  profile: Pick<BuildProfile, "services" | "startTimeoutSeconds">,
  buildMode: boolean,
): number {
  return Math.max(profile.startTimeoutSeconds * 5, 600, supervisorStartBudgetSeconds(profile, buildMode));
}
