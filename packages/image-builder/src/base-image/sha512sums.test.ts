import { HexclaveError } from "@hexclave/qemu-core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cloudImageFileName, normaliseMirrorUrl } from "./cloud.js";
import { parseSha512Sums } from "./sha512sums.js";

const A = "a".repeat(128);
const B = "0123456789ABCDEF".repeat(8);

describe("parseSha512Sums", () => {
  it("parses GNU lines, binary markers, BSD lines and blank lines", () => {
    const text = [
      `${A}  debian-13-generic-amd64.qcow2`,
      "",
      `${B} *debian-13-generic-arm64.qcow2`,
      "   ",
      `SHA512 (debian-13-nocloud-amd64.raw) = ${A}`,
      "",
    ].join("\r\n");
    expect(parseSha512Sums(text)).toEqual(
      new Map([
        ["debian-13-generic-amd64.qcow2", A],
        ["debian-13-generic-arm64.qcow2", B.toLowerCase()],
        ["debian-13-nocloud-amd64.raw", A],
      ]),
    );
  });

  it("keeps spaces inside file names", () => {
    expect(parseSha512Sums(`${A}  a file.qcow2\n`).get("a file.qcow2")).toBe(A);
  });

  it("rejects malformed lines, naming each with its line number", () => {
    const text = `${A}  ok.qcow2\n${"a".repeat(127)}  short.qcow2\n\nrubbish\n${A}  ok.qcow2\n${"b".repeat(128)}  ok.qcow2\n`;
    let error: unknown;
    try {
      parseSha512Sums(text);
    } catch (e) {
      error = e;
    }
    expect(HexclaveError.is(error) && error.code).toBe("SHA512SUMS_MALFORMED");
    const message = (error as HexclaveError).message;
    expect(message).toContain("line 2");
    expect(message).toContain("line 4");
    expect(message).toContain("line 6: ok.qcow2 is listed twice");
    expect(message).not.toContain("line 5");
  });

  it("round-trips any set of names and digests", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9._-][A-Za-z0-9._ -]{0,30}[A-Za-z0-9._-]$/);
    const hex = fc.stringMatching(/^[0-9a-f]{128}$/);
    fc.assert(
      fc.property(fc.dictionary(name, hex), (entries) => {
        const text = Object.entries(entries)
          .map(([n, h]) => `${h}  ${n}`)
          .join("\n");
        expect(Object.fromEntries(parseSha512Sums(text))).toEqual(entries);
      }),
    );
  });
});

describe("cloud image names", () => {
  it("names Debian 13's published files", () => {
    expect(cloudImageFileName("generic", "amd64")).toBe("debian-13-generic-amd64.qcow2");
    expect(cloudImageFileName("genericcloud", "arm64")).toBe("debian-13-genericcloud-arm64.qcow2");
    expect(cloudImageFileName("nocloud", "amd64")).toBe("debian-13-nocloud-amd64.qcow2");
  });

  it("resolves names inside the mirror directory whether or not it ends in a slash", () => {
    for (const mirror of [
      "https://m.example/images/cloud/trixie/latest",
      "https://m.example/images/cloud/trixie/latest/",
    ]) {
      expect(new URL("SHA512SUMS", normaliseMirrorUrl(mirror)).href).toBe(
        "https://m.example/images/cloud/trixie/latest/SHA512SUMS",
      );
    }
  });
});
