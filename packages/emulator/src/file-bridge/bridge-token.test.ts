import { describe, expect, it } from "vitest";
import { bearerMatches, generateBridgeToken, isValidBridgeToken } from "./bridge-token.js";

describe("bridge token", () => {
  it("generates 64 hex characters, new every time", () => {
    const a = generateBridgeToken();
    const b = generateBridgeToken();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
    expect(isValidBridgeToken(a)).toBe(true);
  });

  it("rejects short tokens and tokens with characters unsafe in a header or fw_cfg string", () => {
    expect(isValidBridgeToken("short")).toBe(false);
    expect(isValidBridgeToken(`${"a".repeat(40)},x`)).toBe(false);
    expect(isValidBridgeToken(`${"a".repeat(40)} x`)).toBe(false);
    expect(isValidBridgeToken(`${"a".repeat(40)}\nx`)).toBe(false);
  });

  it("matches only `Bearer <token>` exactly", () => {
    const token = generateBridgeToken();
    expect(bearerMatches(`Bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(`bearer ${token}`, token)).toBe(true);
    expect(bearerMatches(undefined, token)).toBe(false);
    expect(bearerMatches("", token)).toBe(false);
    expect(bearerMatches(token, token)).toBe(false);
    expect(bearerMatches(`Basic ${token}`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token}x`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token.slice(0, -1)}`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${token} extra`, token)).toBe(false);
    expect(bearerMatches(`Bearer ${generateBridgeToken()}`, token)).toBe(false);
  });
});
