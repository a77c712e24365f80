/** `stack emulator start --project-dir/--config-file/--no-file-bridge` and stop's write-back line (issue 10). */
import { describe, expect, it } from "vitest";
import { configWriteBackLine } from "./commands/emulator/stop.js";
import { resolveFileBridgeSettings } from "./emulator-settings.js";
import { UsageError } from "./usage-error.js";

describe("resolveFileBridgeSettings", () => {
  it("defaults to the current directory, resolves relative paths against it", () => {
    expect(resolveFileBridgeSettings({}, "/work/app")).toEqual({
      enabled: true,
      projectDir: "/work/app",
      writable: [],
    });
    expect(resolveFileBridgeSettings({ projectDir: "../other", configFile: "stack.config.ts" }, "/work/app")).toEqual({
      enabled: true,
      projectDir: "/work/other",
      configFile: "/work/app/stack.config.ts",
      writable: [],
    });
    expect(resolveFileBridgeSettings({ fileBridge: false }, "/w").enabled).toBe(false);
  });

  it("--bridge-writable: once or repeated, resolved against the current directory", () => {
    expect(resolveFileBridgeSettings({ bridgeWritable: "data" }, "/work/app").writable).toEqual(["/work/app/data"]);
    expect(resolveFileBridgeSettings({ bridgeWritable: [".", "/work/app/x"] }, "/work/app").writable).toEqual([
      "/work/app",
      "/work/app/x",
    ]);
    expect(() => resolveFileBridgeSettings({ bridgeWritable: "" }, "/w")).toThrow(/--bridge-writable takes a path/);
    expect(() => resolveFileBridgeSettings({ fileBridge: false, bridgeWritable: "d" }, "/w")).toThrow(UsageError);
  });

  it("--config-file with --no-file-bridge, or an empty path, is a usage error", () => {
    expect(() => resolveFileBridgeSettings({ fileBridge: false, configFile: "c.ts" }, "/w")).toThrow(UsageError);
    expect(() => resolveFileBridgeSettings({ projectDir: "" }, "/w")).toThrow(/take a path/);
  });
});

describe("configWriteBackLine", () => {
  it("names the backup when written, and both files on a conflict", () => {
    expect(configWriteBackLine({ outcome: "written", hostPath: "/p/c.ts", backupPath: "/p/c.ts.bak" })).toBe(
      "Config file written back to /p/c.ts (previous copy: /p/c.ts.bak).\n",
    );
    const conflict = configWriteBackLine({
      outcome: "conflict",
      hostPath: "/p/c.ts",
      guestCopyPath: "/p/c.ts.emulator-20250101T000000Z",
      reason: "host-changed",
      message: "m",
    });
    expect(conflict).toMatch(/^warning: .*\/p\/c\.ts .*\/p\/c\.ts\.emulator-20250101T000000Z/);
  });
});
