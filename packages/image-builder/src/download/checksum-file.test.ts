import { HexclaveError } from "@hexclave/qemu-core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseChecksumFile } from "./checksum-file.js";

const parseSha512Sums = (text: string) =>
  parseChecksumFile(text, { algorithm: "sha512", errorCode: "SHA512SUMS_MALFORMED" });

const A = "a".repeat(128);
const B = "0123456789ABCDEF".repeat(8);

describe("parseChecksumFile, sha512 (Debian's SHA512SUMS)", () => {
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

describe("parseChecksumFile, per algorithm", () => {
  const cases = [
    { algorithm: "sha256", hex: "c".repeat(64), other: "c".repeat(128), source: "SHA256SUMS" },
    { algorithm: "sha512", hex: "c".repeat(128), other: "c".repeat(64), source: "SHA512SUMS" },
  ] as const;
  for (const { algorithm, hex, other, source } of cases) {
    it(`${algorithm}: reads GNU and BSD lines, refuses the other algorithm's digest length`, () => {
      const tag = algorithm.toUpperCase();
      const options = { algorithm, errorCode: "RELEASE_INVALID" } as const;
      expect([...parseChecksumFile(`${hex}  a.qcow2\n${tag} (b.json) = ${hex.toUpperCase()}\n`, options)]).toEqual([
        ["a.qcow2", hex],
        ["b.json", hex],
      ]);
      expect(() => parseChecksumFile(`${other}  a.qcow2\n`, options)).toThrow(`${source} is malformed: line 1`);
    });
  }

  it("refuses names the caller rejects, naming the line", () => {
    const options = {
      algorithm: "sha256",
      source: "https://m.example/SHA256SUMS",
      errorCode: "RELEASE_INVALID",
      isValidName: (name: string) => !name.includes("/"),
    } as const;
    expect(() => parseChecksumFile(`${"d".repeat(64)}  ok\n${"d".repeat(64)}  ../x\n`, options)).toThrow(
      'https://m.example/SHA256SUMS is malformed: line 2: "../x" is not a plain file name',
    );
  });
});
