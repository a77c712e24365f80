import { describe, expect, it } from "vitest";
import { loadProfile, type ProfileService } from "../profiles.js";
import {
  startTimeoutFactor,
  supervisorStartBudgetSeconds,
  warmBootDeadlineMs,
  warmBootHealthTimeoutSeconds,
} from "./health-deadline.js";

const health = { kind: "exec", command: ["true"] } as const;
const svc = (name: string, stage: number, extra: Partial<ProfileService> = {}): ProfileService => ({
  name,
  stage,
  health,
  ...extra,
});

describe("supervisorStartBudgetSeconds", () => {
  const services = [
    svc("a", 1),
    svc("b", 1, { startTimeoutSeconds: 300 }),
    svc("c", 2, { startTimeoutSeconds: 300, buildStartTimeoutSeconds: 3600 }),
    svc("d", 3),
  ];
  it.each([
    ["ordinary start: slowest of each stage, stages one after the other", false, 300 + 300 + 180],
    ["build's warm boot: the build deadline where one is set", true, 300 + 3600 + 180],
  ])("%s", (_what, buildMode, want) => {
    expect(supervisorStartBudgetSeconds({ services, startTimeoutSeconds: 180 }, buildMode)).toBe(want);
  });
});

describe("warmBootHealthTimeoutSeconds", () => {
  it.each([
    ["small profile: at least 10 minutes", [svc("a", 1)], 60, false, 600],
    ["five default deadlines when longer", [svc("a", 1)], 180, false, 900],
    ["the supervisor's budget when longer still", [svc("a", 1, { buildStartTimeoutSeconds: 3600 })], 180, true, 3600],
  ])("%s", (_what, services, startTimeoutSeconds, buildMode, want) => {
    expect(warmBootHealthTimeoutSeconds({ services, startTimeoutSeconds }, buildMode)).toBe(want);
  });

  it("gives the Hexclave build's warm boot the app's migration deadline (services.json), not 15 minutes", async () => {
    const profile = await loadProfile("hexclave");
    expect(profile.services.find((s) => s.name === "app")?.buildStartTimeoutSeconds).toBe(3600);
    expect(warmBootHealthTimeoutSeconds(profile, true)).toBeGreaterThan(3600);
    expect(warmBootHealthTimeoutSeconds(profile, false)).toBe(
      Math.max(900, supervisorStartBudgetSeconds(profile, false)),
    );
  });
});

describe("warmBootDeadlineMs", () => {
  it.each([
    ["native: the work plus the health wait", 600, startTimeoutFactor("amd64", "amd64"), (1800 + 600) * 1000],
    [
      "another architecture under TCG: three times that",
      600,
      startTimeoutFactor("arm64", "amd64"),
      3 * (1800 + 600) * 1000,
    ],
    [
      "the Hexclave build's long health wait is inside the deadline",
      4440,
      startTimeoutFactor("arm64", "arm64"),
      (1800 + 4440) * 1000,
    ],
  ])("%s", (_what, healthSeconds, factor, want) => {
    expect(warmBootDeadlineMs(healthSeconds, factor)).toBe(want);
  });

  it("is never shorter than the guest's own health wait", () => {
    for (const health of [600, 900, 4440]) expect(warmBootDeadlineMs(health, 1)).toBeGreaterThan(health * 1000);
  });
});
