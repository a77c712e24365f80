import type { UserNetworkSpec } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import { linkBounceReason, runtimeEnvNeedsRefresh } from "./resume-fixup.js";

describe("runtimeEnvNeedsRefresh", () => {
  it.each([
    ["the same environment as the saved run's: no refresh", "a", "a", false],
    ["a moved host port or new secrets (another digest): refresh", "b", "a", true],
    ["a state saved before the digest was recorded: refresh", "a", undefined, true],
  ] as const)("%s", (_, runtimeEnvSha256, savedRuntimeEnvSha256, expected) => {
    expect(runtimeEnvNeedsRefresh({ runtimeEnvSha256, savedRuntimeEnvSha256 })).toBe(expected);
  });
});

describe("linkBounceReason", () => {
  const bridge = { guestAddress: "10.0.2.101", guestPort: 8110, command: "/run/vm/guest-connect bridge" };
  const reach = { guestAddress: "10.0.2.100", guestPort: 3000, command: "/run/vm/guest-connect 3000" };
  const net = (o: Partial<UserNetworkSpec>): UserNetworkSpec => ({ kind: "user", forwards: [], ...o });
  it.each([
    [
      "the same network: kept",
      net({ restrict: true, guestForwards: [bridge] }),
      net({ restrict: true, guestForwards: [bridge] }),
      false,
    ],
    [
      "a moved host port (hostfwd) only: kept",
      net({
        restrict: true,
        forwards: [{ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 26701, guestPort: 8102 }],
      }),
      net({
        restrict: true,
        forwards: [{ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 36701, guestPort: 8102 }],
      }),
      false,
    ],
    [
      "the same forwards in another order, another connector path: kept",
      net({ guestForwards: [bridge, reach] }),
      net({ guestForwards: [{ ...reach, command: "/elsewhere" }, bridge] }),
      false,
    ],
    ["isolated, then open: bounced", net({ restrict: true }), net({ restrict: false }), true],
    ["restrict unset reads as open", net({}), net({ restrict: false }), false],
    [
      "a new --guest-reach port: bounced",
      net({ guestForwards: [bridge] }),
      net({ guestForwards: [bridge, reach] }),
      true,
    ],
    ["no network recorded on either side: kept", undefined, undefined, false],
  ] as const)("%s", (_, saved, current, bounced) => {
    const reason = linkBounceReason(saved, current);
    expect(reason !== undefined).toBe(bounced);
    if (bounced) expect(reason).toMatch(/network reach changed/);
  });
});
