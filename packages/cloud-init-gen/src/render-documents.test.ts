import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FULL_CONFIG, MINIMAL_CONFIG, STATIC_NETWORK, TRICKY_CONFIG } from "../test-support/example-documents.js";
import { cloudConfigToDocument } from "./cloud-config.js";
import { CloudInitGenError } from "./errors.js";
import { dhcpNetworkConfig } from "./network-config.js";
import { renderMetaData, renderNetworkConfig, renderUserData } from "./render-documents.js";

const body = (doc: string) => {
  expect(doc.startsWith("#cloud-config\n")).toBe(true);
  return parse(doc.slice("#cloud-config\n".length));
};

describe("renderUserData", () => {
  it("round-trips every typed module and passes extra modules through at the top level", () => {
    const doc = renderUserData(FULL_CONFIG);
    const { extraModules, ...typed } = FULL_CONFIG;
    expect(body(doc)).toEqual({ ...typed, ...extraModules });
    expect(body(doc)).toEqual(cloudConfigToDocument(FULL_CONFIG));
  });

  it("keeps permissions and misleading words as strings and file contents as block scalars", () => {
    const doc = renderUserData(FULL_CONFIG);
    expect(doc).toContain('permissions: "0644"');
    expect(doc).toContain('permissions: "0755"');
    expect(doc).toMatch(/content: \|\n {6}Welcome\n {6}to the emulator\n/);
    const parsed = body(doc) as { write_files: { permissions?: unknown }[] };
    expect(parsed.write_files[0]?.permissions).toBe("0644");
  });

  it("round-trips the tricky strings", () => {
    expect(body(renderUserData(TRICKY_CONFIG))).toEqual(cloudConfigToDocument(TRICKY_CONFIG));
  });

  it("renders an empty config as an empty mapping, not null", () => {
    expect(renderUserData(MINIMAL_CONFIG)).toBe("#cloud-config\n{}\n");
    expect(body(renderUserData(MINIMAL_CONFIG))).toEqual({});
  });

  it("matches its snapshot (the structure is asserted above)", () => {
    const doc = renderUserData({
      hostname: "web-1",
      runcmd: [["echo", "yes"]],
      write_files: [{ path: "/a", content: "x\ny\n" }],
    });
    expect(body(doc)).toEqual({
      hostname: "web-1",
      runcmd: [["echo", "yes"]],
      write_files: [{ path: "/a", content: "x\ny\n" }],
    });
    expect(doc).toMatchInlineSnapshot(`
      "#cloud-config
      hostname: web-1
      write_files:
        - path: /a
          content: |
            x
            y
      runcmd:
        - - echo
          - "yes"
      "
    `);
  });

  it("refuses an invalid config before rendering, listing every problem", () => {
    const bad = { hostname: "no spaces allowed", write_files: [{ path: "rel", permissions: "644x" }] } as const;
    let error: unknown;
    try {
      renderUserData(bad);
    } catch (e) {
      error = e;
    }
    expect(CloudInitGenError.is(error)).toBe(true);
    const e = error as CloudInitGenError;
    expect(e.code).toBe("INVALID_CLOUD_CONFIG");
    expect(e.hint).not.toBe("");
    expect(e.message).toContain("hostname: must be a host name");
    expect(e.message).toContain("write_files[0].path: must be an absolute path");
    expect(e.message).toContain('write_files[0].permissions: must be an octal string like "0644"');
    expect(e.details.problems).toHaveLength(3);
  });
});

describe("renderMetaData", () => {
  it("writes instance-id and local-hostname", () => {
    const text = renderMetaData({ instanceId: "iid-0755", localHostname: "emulator" });
    expect(parse(text)).toEqual({ "instance-id": "iid-0755", "local-hostname": "emulator" });
    expect(parse(text, { version: "1.1" })).toEqual({ "instance-id": "iid-0755", "local-hostname": "emulator" });
  });

  it("refuses an empty instance id and a bad host name together", () => {
    expect(() => renderMetaData({ instanceId: " ", localHostname: "a b" })).toThrowError(
      /instanceId: must be a non-empty string; localHostname: must be a host name/,
    );
  });
});

describe("renderNetworkConfig", () => {
  it("round-trips a static and the default DHCP config", () => {
    expect(parse(renderNetworkConfig(STATIC_NETWORK))).toEqual(STATIC_NETWORK);
    expect(parse(renderNetworkConfig(dhcpNetworkConfig()))).toEqual({
      version: 2,
      ethernets: { primary: { match: { name: "e*" }, dhcp4: true } },
    });
  });

  it("refuses bad addresses with their paths", () => {
    let error: CloudInitGenError | undefined;
    try {
      renderNetworkConfig({ version: 2, ethernets: { lan: { match: {}, addresses: ["10.0.2.15"] } } });
    } catch (e) {
      error = e as CloudInitGenError;
    }
    expect(error?.code).toBe("INVALID_NETWORK_CONFIG");
    expect(error?.details.problems).toEqual([
      { path: "ethernets.lan.match", message: "must set name, macaddress or driver" },
      {
        path: "ethernets.lan.addresses[0]",
        message: 'must be an address in CIDR form like 10.0.2.15/24, got "10.0.2.15"',
      },
    ]);
  });
});
