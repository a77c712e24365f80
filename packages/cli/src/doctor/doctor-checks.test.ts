import { describe, expect, it } from "vitest";
import { ACCEL_OVERRIDE_TEXT, acceleratorCheck } from "./doctor-checks.js";

describe("acceleratorCheck", () => {
  it("shows a cached runtime verdict (a real guest failed under kvm) and how to override it", () => {
    const check = acceleratorCheck(
      {
        ok: true,
        value: {
          accel: "tcg",
          reason:
            "kvm cannot run this guest on this host: KVM internal error. Suberror: 1; emulation failure; using tcg",
          tried: [{ accel: "kvm", ok: false, reason: "a real guest failed under kvm: ...", durationMs: 0 }],
          fromCache: true,
          verdict: "runtime",
        },
      },
      null,
    );
    expect(check.verdict).toBe("warn");
    expect(check.summary).toContain("kvm cannot run this guest on this host: KVM internal error. Suberror: 1");
    expect(check.summary).toContain("cached verdict of a failed real guest");
    expect(check.summary).toContain(ACCEL_OVERRIDE_TEXT);
    expect(check.fix).toContain("--accel");
    expect(check.details).toMatchObject({ verdict: "runtime", fromCache: true });
  });

  it("a working kvm still says how to choose another accelerator", () => {
    const check = acceleratorCheck(
      {
        ok: true,
        value: { accel: "kvm", reason: "kvm works", tried: [], fromCache: false },
      },
      null,
    );
    expect(check.verdict).toBe("ok");
    expect(check.summary).toBe(`KVM in use: kvm works (${ACCEL_OVERRIDE_TEXT})`);
  });
});
