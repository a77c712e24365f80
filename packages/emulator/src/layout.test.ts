import { homedir } from "node:os";
import { join } from "node:path";
import { instancePaths } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import {
  BRIDGE_CONFIG_GUEST_FILE,
  BRIDGE_FW_CFG_FILE,
  BRIDGE_LOG_FILE,
  BRIDGE_RECORD_FILE,
  DEFAULT_INSTANCE,
  EMULATOR_START_LOCK_FILE,
  emulatorHome,
  HOME_ENV,
  imagePaths,
  probeCacheDir,
  RUNTIME_ENV_FW_CFG_FILE,
  RUNTIME_SECRETS_FILE,
  SNAPSHOT_RECORD_FILE,
} from "./layout.js";

describe("emulatorHome", () => {
  it.each([
    // [HEXCLAVE_EMULATOR_HOME, the home]
    [undefined, join(homedir(), ".hexclave", "emulator")],
    ["", join(homedir(), ".hexclave", "emulator")],
    ["/srv/emu", "/srv/emu"],
    ["relative/home", join(process.cwd(), "relative/home")],
  ] as const)("%j: %s", (value, home) => {
    expect(emulatorHome(value === undefined ? {} : { [HOME_ENV]: value })).toBe(home);
  });
});

describe("the home's layout (the same paths users have today)", () => {
  it("puts the images, the probe cache and the secrets in the home", () => {
    expect(imagePaths("/h", "arm64")).toEqual({
      dir: "/h/images",
      image: "/h/images/stack-emulator-arm64.qcow2",
      manifest: "/h/images/stack-emulator-arm64.json",
      kernel: "/h/images/stack-emulator-arm64.vmlinuz",
      initrd: "/h/images/stack-emulator-arm64.initrd",
    });
    expect(probeCacheDir("/h")).toBe("/h/cache");
    expect(join("/h", RUNTIME_SECRETS_FILE)).toBe("/h/runtime-secrets.json");
  });

  it("puts the runtime's files beside qemu-core's in run/vm/", () => {
    const dir = instancePaths("/h", DEFAULT_INSTANCE).dir;
    expect(dir).toBe("/h/run/vm");
    const files = [
      SNAPSHOT_RECORD_FILE,
      EMULATOR_START_LOCK_FILE,
      BRIDGE_FW_CFG_FILE,
      BRIDGE_RECORD_FILE,
      BRIDGE_CONFIG_GUEST_FILE,
      BRIDGE_LOG_FILE,
      RUNTIME_ENV_FW_CFG_FILE,
    ];
    expect(files).toEqual([
      "snapshots.json",
      "start.lock",
      "bridge.fwcfg",
      "bridge.json",
      "bridge-config.guest",
      "bridge.log",
      "runtime-env.fwcfg",
    ]);
  });
});
