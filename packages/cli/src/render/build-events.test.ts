import { describe, expect, it } from "vitest";
import { buildEventToProgress } from "./build-events.js";

describe("buildEventToProgress", () => {
  it("turns a warm-boot retry after a guest kernel panic into a warning naming the reason and the kept console", () => {
    const progress = buildEventToProgress({
      type: "warm-boot-retry",
      arch: "amd64",
      attempt: 2,
      reason: "Fatal exception in interrupt",
      serialLog: "/w/serial.attempt-1.log",
    });
    expect(progress).toEqual({
      type: "message",
      level: "warn",
      text: expect.stringContaining("(Fatal exception in interrupt); starting it again (attempt 2"),
    });
    expect(progress?.type === "message" && progress.text).toContain("/w/serial.attempt-1.log");
  });

  it("turns a warm-boot stage marker into a marker and stage ends into stage ends", () => {
    expect(
      buildEventToProgress({ type: "warm-boot-stage", arch: "amd64", stage: "payload-loaded", elapsedMs: 5 }),
    ).toEqual({ type: "marker", name: "payload-loaded", elapsedMs: 5 });
    expect(
      buildEventToProgress({ type: "build-stage-done", arch: "arm64", stage: "compaction", durationMs: 7 }),
    ).toEqual({
      type: "stage-end",
      stage: "arm64 compaction",
      durationMs: 7,
    });
  });

  it("shows mmdebstrap's phase with its package count and elapsed time", () => {
    expect(
      buildEventToProgress({
        type: "mmdebstrap-progress",
        arch: "arm64",
        phase: "installing remaining packages inside the chroot",
        step: "set up",
        done: 40,
        total: 212,
        elapsedMs: 185_000,
      }),
    ).toEqual({
      type: "message",
      level: "info",
      text: "mmdebstrap arm64: installing remaining packages inside the chroot 40/212 packages set up (3 min 5 s)",
    });
    expect(
      buildEventToProgress({
        type: "mmdebstrap-progress",
        arch: "amd64",
        phase: "running apt-get update",
        step: undefined,
        done: 0,
        total: undefined,
        elapsedMs: 2_000,
      }),
    ).toEqual({ type: "message", level: "info", text: "mmdebstrap amd64: running apt-get update (2.0 s)" });
  });
});
