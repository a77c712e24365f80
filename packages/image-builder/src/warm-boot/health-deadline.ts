/**
 * How long the warm boot's guest waits for every service's health check
 * (the provisioning script's `services-healthy` stage).
 */
import type { Arch } from "@hexclave/qemu-core";
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

/**
 * What a warm boot does besides waiting for the services: the guest's boot, provisioning, loading the payload into
 * Docker, the final flush. Measured here under TCG on 2 loaded cores: the payload was loaded 22 min into an arm64
 * warm boot (arm64 on amd64), and 4-10 min into an amd64 one.
 */
export const WARM_BOOT_WORK_SECONDS = 30 * 60;
/** TCG emulating another architecture (arm64 on an amd64 host, or the reverse) runs about this many times slower. */
export const FOREIGN_ARCH_SLOWDOWN = 3;

/**
 * How many times longer every start deadline of a guest is (pure): {@link FOREIGN_ARCH_SLOWDOWN} for a guest of
 * another architecture than the host's, else 1. The one place this is decided: the warm boot's host deadline and
 * guest health wait, the emulator's readiness wait, and the guest supervisor's `HEXCLAVE_START_TIMEOUT_FACTOR`.
 */
export function startTimeoutFactor(guestArch: Arch, hostArch: Arch): number {
  return guestArch === hostArch ? 1 : FOREIGN_ARCH_SLOWDOWN;
}

/**
 * The host-side deadline of a whole warm boot when the caller sets none (pure): the work above plus the guest's
 * own health wait, times the guest's {@link startTimeoutFactor}. A fixed 30 min cut an arm64 build on an amd64 host
 * after its services had started, and was shorter than the Hexclave profile's own health wait (4,440 s).
 */
export function warmBootDeadlineMs(healthTimeoutSeconds: number, factor: number): number {
  return (WARM_BOOT_WORK_SECONDS + healthTimeoutSeconds) * 1000 * factor;
}
