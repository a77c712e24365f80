/**
 * Every document the tests generate goes through the REAL validator:
 * `cloud-init schema` from Debian trixie's cloud-init 25.x (in a cached
 * mmdebstrap chroot), and the YAML through the PyYAML cloud-init reads it with.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  cloudInitSchemaCheck,
  ensureCloudInitChroot,
  pyYamlLoad,
  runInCloudInitChroot,
} from "../test-support/cloud-init-schema.js";
import {
  FULL_CONFIG,
  INVALID_CONFIG,
  MINIMAL_CONFIG,
  STATIC_NETWORK,
  TRICKY_CONFIG,
  TRICKY_STRINGS,
} from "../test-support/example-documents.js";
import { cloudConfigToDocument } from "./cloud-config.js";
import { renderMultipart } from "./mime-multipart.js";
import { dhcpNetworkConfig } from "./network-config.js";
import { renderNetworkConfig, renderUserData } from "./render-documents.js";
import { seedFiles } from "./seed-files.js";
import { validate } from "./validate-cloud-config.js";
import { formatProblem } from "./validation-problems.js";
import { toYamlText } from "./yaml-text.js";

beforeAll(async () => {
  await ensureCloudInitChroot();
}, 600_000);

describe("cloud-init schema (trixie's cloud-init 25.x) accepts every generated document with no warning", () => {
  it("reports cloud-init 25", async () => {
    const r = await runInCloudInitChroot(["cloud-init", "--version"]);
    expect(r.all).toMatch(/cloud-init 25\.\d/);
  });

  it.each([
    ["the full config", FULL_CONFIG],
    ["the tricky strings", TRICKY_CONFIG],
    ["the empty config", MINIMAL_CONFIG],
  ])("user-data: %s", async (_name, config) => {
    const result = await cloudInitSchemaCheck(renderUserData(config));
    expect(result.output).toMatch(/^Valid schema/);
    expect(result).toMatchObject({ ok: true, exitCode: 0 });
  });

  it("seed files: user-data and vendor-data as cloud-config, network-config as network-config", async () => {
    for (const networkConfig of [undefined, STATIC_NETWORK]) {
      const files = seedFiles({
        userData: FULL_CONFIG,
        metaData: { instanceId: "iid-1", localHostname: "emulator" },
        ...(networkConfig === undefined ? {} : { networkConfig }),
      });
      for (const name of ["user-data", "vendor-data"] as const) {
        expect(await cloudInitSchemaCheck(files[name]), name).toMatchObject({ ok: true });
      }
      expect(await cloudInitSchemaCheck(files["network-config"], { schemaType: "network-config" })).toMatchObject({
        ok: true,
      });
      expect(await pyYamlLoad(files["meta-data"])).toEqual({ "instance-id": "iid-1", "local-hostname": "emulator" });
    }
    const dhcp = await cloudInitSchemaCheck(renderNetworkConfig(dhcpNetworkConfig()), { schemaType: "network-config" });
    expect(dhcp).toMatchObject({ ok: true });
  });

  it("multi-part: cloud-init's own UserDataProcessor reads back every part with its type and bytes; the cloud-config part validates", async () => {
    const parts = [
      { type: "text/cloud-config", content: FULL_CONFIG },
      { type: "text/x-shellscript", content: "#!/bin/sh\necho 'é ✓ $HOME'\n", filename: "hello.sh" },
      { type: "text/cloud-boothook", content: "#!/bin/sh\necho boot > /run/boothook\n" },
    ] as const;
    const text = renderMultipart(parts, { boundary: "==fixed-boundary==" });
    const script = [
      "import sys, json",
      "from cloudinit.helpers import Paths",
      "from cloudinit.user_data import UserDataProcessor",
      "from cloudinit import util",
      "msg = UserDataProcessor(Paths({})).process(sys.stdin.read())",
      "out = [[p.get_content_type(), util.fully_decoded_payload(p)] for p in msg.walk() if not p.is_multipart()]",
      "print(json.dumps(out))",
    ].join("\n");
    const r = await runInCloudInitChroot(["python3", "-c", script], text);
    expect(r.exitCode, r.stderr).toBe(0);
    const read = JSON.parse(r.stdout) as [string, string][];
    expect(read).toEqual([
      ["text/cloud-config", renderUserData(FULL_CONFIG)],
      ["text/x-shellscript", parts[1].content],
      ["text/cloud-boothook", parts[2].content],
    ]);
    expect(await cloudInitSchemaCheck(read[0]![1])).toMatchObject({ ok: true });
  });
});

describe("an invalid document", () => {
  it("is rejected by the real validator and by validate, each naming the paths", async () => {
    // Rendered without the library's guard, as a hand-written file would be.
    const { extraModules: _dup, frobnicate: _unknown, ...rest } = INVALID_CONFIG;
    const text = `#cloud-config\n${toYamlText({ ...rest, frobnicate: true })}`;
    const real = await cloudInitSchemaCheck(text);
    expect(real.ok).toBe(false);
    expect(real.exitCode).toBe(1);
    for (const path of [
      "hostname",
      "write_files.2.permissions",
      "power_state.mode",
      "resize_rootfs",
      "frobnicate",
      "packages",
    ])
      expect(real.output).toContain(path);

    const ours = validate(INVALID_CONFIG).problems.map(formatProblem);
    for (const path of [
      "hostname:",
      "write_files[2].permissions:",
      "power_state.mode:",
      "resize_rootfs:",
      "frobnicate:",
      "packages:",
    ])
      expect(
        ours.some((p) => p.startsWith(path)),
        path,
      ).toBe(true);
  });

  it("counts a deprecation as a failure although cloud-init exits 0", async () => {
    const result = await cloudInitSchemaCheck("#cloud-config\nchpasswd:\n  list: |\n    root:secret\n");
    expect(result.exitCode).toBe(0);
    expect(result.output).toMatch(/deprecat/i);
    expect(result.ok).toBe(false);
  });
});

describe("PyYAML (cloud-init's reader) reads back exactly what was rendered", () => {
  it("the example documents", async () => {
    for (const config of [FULL_CONFIG, TRICKY_CONFIG])
      expect(await pyYamlLoad(renderUserData(config))).toEqual(cloudConfigToDocument(config));
  });

  it("the tricky strings as values and keys", async () => {
    const data = { values: TRICKY_STRINGS, keys: Object.fromEntries(TRICKY_STRINGS.map((s, i) => [s, i])) };
    expect(await pyYamlLoad(toYamlText(data))).toEqual(data);
  });

  it("arbitrary strings (full unicode, control characters, newlines) byte for byte", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.fullUnicodeString({ maxLength: 40 }),
            fc.string({
              unit: fc.constantFrom(
                "\n",
                "\r",
                " ",
                "\t",
                "#",
                ":",
                "-",
                "'",
                '"',
                "a",
                "0",
                "\u0085",
                "\u2028",
                "\ufeff",
              ),
            }),
            fc.constantFrom(...TRICKY_STRINGS),
          ),
          { minLength: 100, maxLength: 400 },
        ),
        async (strings) => {
          const data = {
            write_files: strings.map((content, i) => ({ path: `/f/${i}`, content })),
            keys: Object.fromEntries(strings.map((s) => [s, s])),
          };
          expect(await pyYamlLoad(toYamlText(data))).toEqual(data);
        },
      ),
      { numRuns: 8 },
    );
  });

  it("documents with arbitrary strings in every free-text field still pass cloud-init schema", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.fullUnicodeString({ maxLength: 30 }), { minLength: 20, maxLength: 60 }),
        async (strings) => {
          const config = {
            write_files: strings.map((content, i) => ({ path: `/f/${i}`, content })),
            runcmd: strings.map((s) => ["printf", "%s", s]),
            final_message: strings.join(" "),
          };
          const result = await cloudInitSchemaCheck(renderUserData(config));
          expect(result.output).toMatch(/^Valid schema/);
          expect(result.ok).toBe(true);
        },
      ),
      { numRuns: 3 },
    );
  });
});
