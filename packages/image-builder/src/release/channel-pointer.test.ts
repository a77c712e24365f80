import { describe, expect, it } from "vitest";
import { sampleManifest, sha256Of } from "../../test-support/release-layout.js";
import {
  buildChannelPointer,
  CHANNEL_POINTER_FORMAT_VERSION,
  isReleaseFileName,
  parseChannelPointer,
  parseSha256Sums,
  type ReleaseListing,
} from "./channel-pointer.js";

const image = Buffer.from("qcow2 image bytes");
const kernel = Buffer.from("kernel");
const initrd = Buffer.from("initrd");
const manifestText = JSON.stringify(
  sampleManifest({
    image: { size: image.length, sha256: sha256Of(image) },
    kernelSha256: sha256Of(kernel),
    initrdSha256: sha256Of(initrd),
  }),
);

function listing(overrides: Partial<ReleaseListing> = {}): ReleaseListing {
  const files: Record<string, Buffer | string> = {
    "stack-emulator-amd64.qcow2": image,
    "stack-emulator-amd64.vmlinuz": kernel,
    "stack-emulator-amd64.initrd": initrd,
    "stack-emulator-amd64.json": manifestText,
  };
  return {
    channel: "main",
    version: "emulator-main-20250101-0123abcd",
    baseUrl: "https://github.com/o/r/releases/download/emulator-main-20250101-0123abcd",
    publishedAt: "2025-01-01T12:00:00.000Z",
    sha256sums: Object.entries(files)
      .map(([name, data]) => `${sha256Of(data)}  ${name}`)
      .join("\n"),
    sizes: new Map(Object.entries(files).map(([name, data]) => [name, Buffer.byteLength(data)])),
    manifests: new Map([["stack-emulator-amd64.json", manifestText]]),
    ...overrides,
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe("buildChannelPointer", () => {
  it("lists every file of each arch with URL, size and sha256, image first", () => {
    const pointer = buildChannelPointer(listing());
    expect(pointer.formatVersion).toBe(CHANNEL_POINTER_FORMAT_VERSION);
    const amd64 = pointer.arches.amd64;
    expect(amd64?.manifest).toEqual({
      name: "stack-emulator-amd64.json",
      url: "https://github.com/o/r/releases/download/emulator-main-20250101-0123abcd/stack-emulator-amd64.json",
      size: Buffer.byteLength(manifestText),
      sha256: sha256Of(manifestText),
    });
    expect(amd64?.files.map((f) => [f.role, f.name, f.size, f.sha256])).toEqual([
      ["image", "stack-emulator-amd64.qcow2", image.length, sha256Of(image)],
      ["kernel", "stack-emulator-amd64.vmlinuz", kernel.length, sha256Of(kernel)],
      ["initrd", "stack-emulator-amd64.initrd", initrd.length, sha256Of(initrd)],
    ]);
    expect(pointer.arches.arm64).toBeUndefined();
  });

  it("round-trips through parseChannelPointer", () => {
    const pointer = buildChannelPointer(listing());
    expect(parseChannelPointer(JSON.stringify(pointer))).toEqual(pointer);
  });

  it("refuses a release whose SHA256SUMS disagrees with a manifest", () => {
    const bad = listing({ sha256sums: listing().sha256sums.replace(sha256Of(image), sha256Of("other")) });
    expect(codeOf(() => buildChannelPointer(bad))).toBe("RELEASE_INVALID");
  });

  it("refuses a release missing a file the manifest names", () => {
    const sizes = new Map(listing().sizes);
    sizes.delete("stack-emulator-amd64.initrd");
    expect(codeOf(() => buildChannelPointer(listing({ sizes })))).toBe("RELEASE_INVALID");
  });
});

describe("parseChannelPointer", () => {
  const valid = () => JSON.parse(JSON.stringify(buildChannelPointer(listing()))) as Record<string, unknown>;

  it("refuses an unknown format version with an upgrade hint", () => {
    const text = JSON.stringify({ ...valid(), formatVersion: 2 });
    let error: { code?: string; hint?: string; message?: string } | undefined;
    try {
      parseChannelPointer(text, "emulator-main.json");
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.code).toBe("POINTER_FORMAT_UNSUPPORTED");
    expect(error?.message).toContain("format version 2");
    expect(error?.hint).toMatch(/Upgrade the Hexclave CLI/);
  });

  it("names every problem of a damaged pointer", () => {
    const data = valid();
    const arches = data.arches as Record<string, Record<string, unknown>>;
    (arches.amd64 as { files: { sha256: string }[] }).files[0] = { sha256: "xyz" } as never;
    data.channel = "nightly";
    let message = "";
    try {
      parseChannelPointer(JSON.stringify(data));
    } catch (e) {
      expect((e as { code: string }).code).toBe("POINTER_INVALID");
      message = (e as Error).message;
    }
    expect(message).toContain("channel: must be main or dev");
    expect(message).toContain("arches.amd64.files[0].sha256");
    expect(message).toContain("arches.amd64.files[0].role");
  });

  it("resolves relative URLs against the pointer's location", () => {
    const data = valid();
    const amd64 = (data.arches as Record<string, { files: { url: string }[] }>).amd64;
    if (amd64?.files[0]) amd64.files[0].url = "v1/stack-emulator-amd64.qcow2";
    const pointer = parseChannelPointer(
      JSON.stringify(data),
      "p",
      "https://mirror.example/emulator/emulator-main.json",
    );
    expect(pointer.arches.amd64?.files[0]?.url).toBe("https://mirror.example/emulator/v1/stack-emulator-amd64.qcow2");
  });

  it("ignores arches this CLI does not know", () => {
    const data = valid();
    (data.arches as Record<string, unknown>).riscv64 = { anything: true };
    expect(Object.keys(parseChannelPointer(JSON.stringify(data)).arches)).toEqual(["amd64"]);
  });

  it("rejects a file name that is not a plain file name (a path out of the staging directory)", () => {
    for (const name of ["../../../victim.txt", "..", ".hidden", "a/b", "a\\b", "/etc/passwd", "x..y"]) {
      const data = valid();
      const amd64 = (data.arches as Record<string, { files: { name: string }[] }>).amd64;
      if (amd64?.files[0]) amd64.files[0].name = name;
      expect(
        codeOf(() => parseChannelPointer(JSON.stringify(data))),
        name,
      ).toBe("POINTER_INVALID");
    }
  });

  it("rejects text that is not JSON", () => {
    expect(codeOf(() => parseChannelPointer("<html>rate limited</html>"))).toBe("POINTER_INVALID");
  });
});

describe("parseSha256Sums", () => {
  it("reads sha256sum output, text and binary markers", () => {
    const a = sha256Of("a");
    const b = sha256Of("b");
    const sums = parseSha256Sums(`${a}  one.qcow2\n${b.toUpperCase()} *two.json\n\n`);
    expect([...sums]).toEqual([
      ["one.qcow2", a],
      ["two.json", b],
    ]);
  });

  it("names malformed lines", () => {
    expect(() => parseSha256Sums("abc  file\n")).toThrow(/line 1/);
  });

  it("refuses names that are not plain file names", () => {
    const a = sha256Of("a");
    for (const name of ["../../../victim.txt", "sub/file", "./file", ".."]) {
      expect(() => parseSha256Sums(`${a}  ${name}\n`), name).toThrow(/not a plain file name/);
    }
  });
});

describe("isReleaseFileName", () => {
  it("accepts the names releases use and nothing that leaves a directory", () => {
    for (const name of ["stack-emulator-amd64.qcow2", "stack-emulator-arm64.vmlinuz", "SHA256SUMS", "a+b_c.json"]) {
      expect(isReleaseFileName(name), name).toBe(true);
    }
    for (const name of ["", ".", "..", "../x", "x/../y", "a/b", "a\\b", ".part", "x\0y", "a b", "é"]) {
      expect(isReleaseFileName(name), name).toBe(false);
    }
  });
});
