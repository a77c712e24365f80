import { describe, expect, it } from "vitest";
import { parseMarker } from "./markers.js";

describe("parseMarker", () => {
  it("reads stage, healthy, failed and done markers", () => {
    expect(parseMarker("HEXCLAVE-STAGE payload-loaded 41.27")).toEqual({
      kind: "stage",
      stage: "payload-loaded",
      uptimeSeconds: 41.27,
    });
    expect(parseMarker("HEXCLAVE-STAGE disk-grown")).toEqual({ kind: "stage", stage: "disk-grown" });
    expect(parseMarker("HEXCLAVE-HEALTHY backend")).toEqual({ kind: "healthy", service: "backend" });
    expect(parseMarker("HEXCLAVE-FAILED payload-loaded 125")).toEqual({
      kind: "failed",
      stage: "payload-loaded",
      exitCode: 125,
    });
    expect(parseMarker("HEXCLAVE-FAILED")).toEqual({ kind: "failed", stage: "unknown" });
    expect(parseMarker("HEXCLAVE-DONE\r")).toEqual({ kind: "done" });
  });
  it("finds a marker after console noise and ignores other lines", () => {
    expect(parseMarker("[   12.3] cloud-init[456]: HEXCLAVE-STAGE trimmed 99.5")).toEqual({
      kind: "stage",
      stage: "trimmed",
      uptimeSeconds: 99.5,
    });
    expect(parseMarker("Welcome to Debian GNU/Linux 13 (trixie)!")).toBeUndefined();
    expect(parseMarker("HEXCLAVE-STAGE")).toBeUndefined();
  });
});
