import { describe, expect, it } from "vitest";
import { readMigrationProgress, shellQuote, stateFileLoadUri, stateFileSaveUri } from "./state-file.js";

describe("state file migration URIs", () => {
  it("single-quotes the path for sh, including quotes, spaces and $", () => {
    expect(shellQuote("/h/run/vm/suspend.vmstate")).toBe("'/h/run/vm/suspend.vmstate'");
    expect(shellQuote("/it's $HOME/a b")).toBe("'/it'\\''s $HOME/a b'");
    expect(stateFileSaveUri("/h/x y/s.vmstate.tmp")).toBe("exec:cat > '/h/x y/s.vmstate.tmp'");
    expect(stateFileLoadUri("/h/x,y/s.vmstate")).toBe("exec:cat '/h/x,y/s.vmstate'");
  });
});

describe("readMigrationProgress", () => {
  it("reads completed with the bytes transferred, and running states", () => {
    expect(readMigrationProgress({ status: "completed", ram: { transferred: 665_000_000 } })).toEqual({
      kind: "completed",
      bytes: 665_000_000,
    });
    expect(readMigrationProgress({ status: "active" })).toEqual({ kind: "running", status: "active" });
    expect(readMigrationProgress({})).toEqual({ kind: "running", status: "none" });
    expect(readMigrationProgress(null)).toEqual({ kind: "running", status: "none" });
  });

  it("reads failed and cancelled with QEMU's error text", () => {
    expect(readMigrationProgress({ status: "failed", "error-desc": "Unable to write to command" })).toEqual({
      kind: "failed",
      status: "failed",
      error: "Unable to write to command",
    });
    expect(readMigrationProgress({ status: "cancelled" })).toEqual({
      kind: "failed",
      status: "cancelled",
      error: "migration cancelled",
    });
  });
});
