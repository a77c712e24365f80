import { describe, expect, it } from "vitest";
import {
  describeGuestNetwork,
  GUEST_CONNECT_MODULE_FILE,
  guestConnectorFiles,
  guestNetworkOf,
  guestNetworkSpec,
} from "./guest-network.js";

describe("guestNetworkOf", () => {
  it.each([
    { title: "isolated, no port", settings: { mode: "isolated" as const, reach: [] } },
    { title: "isolated with ports", settings: { mode: "isolated" as const, reach: [3000, 5173] } },
    { title: "open with a port", settings: { mode: "open" as const, reach: [8080] } },
  ])("reads back the settings of a spec: $title", ({ settings }) => {
    expect(guestNetworkOf(guestNetworkSpec(settings, "/h/run/vm"))).toEqual(settings);
  });

  it("a spec without the fields (an older record) is open with no port", () => {
    expect(guestNetworkOf({})).toEqual({ mode: "open", reach: [] });
  });
});

describe("describeGuestNetwork", () => {
  it.each([
    {
      settings: { mode: "isolated" as const, reach: [] },
      text: "isolated: no host, LAN or internet access (file bridge and forwarded ports only)",
    },
    {
      settings: { mode: "isolated" as const, reach: [5173, 3000] },
      text: "isolated: no host, LAN or internet access (file bridge and forwarded ports only; host ports 3000, 5173 at 10.0.2.100)",
    },
    {
      settings: { mode: "open" as const, reach: [] },
      text: "open: the host's 127.0.0.1 (as 10.0.2.2), the LAN and the internet",
    },
  ])("$text", ({ settings, text }) => {
    expect(describeGuestNetwork(settings)).toBe(text);
  });
});

describe("guestConnectorFiles", () => {
  it("the wrapper runs this Node on the program beside it, quoted, with its stderr (the guest's connection) silenced", () => {
    const { wrapper, module } = guestConnectorFiles("/h/it's/run/vm", "/opt/node 24/bin/node");
    expect(wrapper.startsWith("#!/bin/sh\n")).toBe(true);
    expect(wrapper).toContain(
      `exec '/opt/node 24/bin/node' '/h/it'\\''s/run/vm/${GUEST_CONNECT_MODULE_FILE}' "$@" 2>/dev/null\n`,
    );
    expect(module).toContain('new URL("./bridge.json", import.meta.url)');
    expect(module).toContain('connect({ host: "127.0.0.1", port');
  });
});
