import { describe, expect, it } from "vitest";
import { configBackupPath, configGuestCopyPath, decideConfigWriteBack } from "./config-write-back.js";

describe("decideConfigWriteBack", () => {
  it.each([
    // start, host now, guest -> decision
    ["A", "A", "A", { action: "unchanged", reason: "guest-unchanged" }],
    ["A", "B", "A", { action: "unchanged", reason: "guest-unchanged" }],
    ["A", null, "A", { action: "unchanged", reason: "guest-unchanged" }],
    ["A", "B", "B", { action: "unchanged", reason: "already-equal" }],
    ["A", "A", "B", { action: "write" }],
    ["A", "C", "B", { action: "conflict", reason: "host-changed" }],
    ["A", null, "B", { action: "conflict", reason: "host-deleted" }],
  ] as const)("start %s, host %s, guest %s", (startDigest, hostDigest, guestDigest, expected) => {
    expect(decideConfigWriteBack({ startDigest, hostDigest, guestDigest })).toEqual(expected);
  });
});

describe("write-back file names", () => {
  it("backs up to <file>.bak", () => {
    expect(configBackupPath("/p/stack.config.ts")).toBe("/p/stack.config.ts.bak");
  });

  it("names the conflict copy with a colon-free UTC stamp, numbered when taken", () => {
    const at = new Date("2025-01-02T03:04:05.678Z");
    expect(configGuestCopyPath("/p/stack.config.ts", at)).toBe("/p/stack.config.ts.emulator-20250102T030405Z");
    expect(configGuestCopyPath("/p/stack.config.ts", at, 3)).toBe("/p/stack.config.ts.emulator-20250102T030405Z-3");
  });
});
