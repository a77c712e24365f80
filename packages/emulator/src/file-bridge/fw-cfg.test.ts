import { buildQemuArgs } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import { BRIDGE_FW_CFG_LENGTH, bridgeFwCfgEntry, formatBridgeFwCfg, parseBridgeFwCfg } from "./fw-cfg.js";

const token = "0123456789abcdef".repeat(4);

describe("bridge fw_cfg payload", () => {
  it("has one fixed length, with or without a bridge, whatever the port", () => {
    const payloads = [
      formatBridgeFwCfg(null),
      formatBridgeFwCfg({ port: 1, token }),
      formatBridgeFwCfg({ port: 8080, token }),
      formatBridgeFwCfg({ port: 65535, token }),
    ];
    expect(payloads.map((p) => p.length)).toEqual([
      BRIDGE_FW_CFG_LENGTH,
      BRIDGE_FW_CFG_LENGTH,
      BRIDGE_FW_CFG_LENGTH,
      BRIDGE_FW_CFG_LENGTH,
    ]);
    expect(payloads[2]).toBe(`hexclave-bridge/1 port=08080 token=${token}\n`);
  });

  it("parses back what it formats, null for no bridge, undefined when malformed", () => {
    expect(parseBridgeFwCfg(formatBridgeFwCfg({ port: 41234, token }))).toEqual({ port: 41234, token });
    expect(parseBridgeFwCfg(formatBridgeFwCfg(null))).toBeNull();
    expect(parseBridgeFwCfg("hexclave-bridge/1 port=99999 token=" + token)).toBeUndefined();
    expect(parseBridgeFwCfg("hexclave-bridge/2 port=08080 token=" + token)).toBeUndefined();
    expect(parseBridgeFwCfg("")).toBeUndefined();
  });

  it("refuses a token or port that would not fit the fixed format", () => {
    expect(() => formatBridgeFwCfg({ port: 8080, token: "A".repeat(64) })).toThrow(
      expect.objectContaining({ code: "FILE_BRIDGE_OPTION_INVALID" }),
    );
    expect(() => formatBridgeFwCfg({ port: 0, token })).toThrow(
      expect.objectContaining({ code: "FILE_BRIDGE_OPTION_INVALID" }),
    );
  });

  it("becomes a -fw_cfg file entry whose arguments never hold the token", () => {
    const entry = bridgeFwCfgEntry("/home/me/.hexclave/emulator/run/vm");
    const args = buildQemuArgs({
      name: "t",
      arch: "amd64",
      accel: "tcg",
      cpus: 1,
      memoryMb: 256,
      drives: [],
      fwCfg: [entry],
    });
    const at = args.indexOf("-fw_cfg");
    expect(args[at + 1]).toBe("name=opt/hexclave/bridge,file=/home/me/.hexclave/emulator/run/vm/bridge.fwcfg");
  });
});
