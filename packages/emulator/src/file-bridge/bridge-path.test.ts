import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeBridgePath, parseBridgePath } from "./bridge-path.js";

const hasControlOrSeparator = (s: string) =>
  [...s].some((c) => c === "/" || c === "\\" || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

describe("parseBridgePath", () => {
  it.each([
    ["stack.config.ts", ["stack.config.ts"]],
    ["src/app/page.tsx", ["src", "app", "page.tsx"]],
    ["with%20space/%C3%A9t%C3%A9.txt", ["with space", "été.txt"]],
    ["..foo/bar..", ["..foo", "bar.."]],
    [".env", [".env"]],
    // Decoding happens once: an encoded percent stays a literal `%2e%2e` name.
    ["%252e%252e/x", ["%2e%2e", "x"]],
  ])("accepts %s", (encoded, segments) => {
    expect(parseBridgePath(encoded)).toEqual({ ok: true, segments });
  });

  it.each([
    ["..", 403, "traversal"],
    ["../etc/passwd", 403, "traversal"],
    ["a/../../b", 403, "traversal"],
    ["a/..", 403, "traversal"],
    ["%2e%2e/secret", 403, "traversal"],
    ["%2E%2E%2Fsecret", 403, "traversal"],
    ["..%2fsecret", 403, "traversal"],
    ["a/%2e%2e%2f%2e%2e%2fsecret", 403, "traversal"],
    ["./a", 403, "traversal"],
    ["..%5csecret", 403, "traversal"],
    ["/etc/passwd", 403, "absolute"],
    ["%2Fetc%2Fpasswd", 403, "absolute"],
    ["%5Cserver%5Cshare", 403, "absolute"],
    ["C:%5CWindows", 403, "absolute"],
    ["c:/x", 403, "absolute"],
    ["a%00b", 400, "bad-character"],
    ["a%0Ab", 400, "bad-character"],
    ["a%5Cb", 400, "bad-character"],
    ["a//b", 400, "empty-segment"],
    ["a/", 400, "empty-segment"],
    ["", 400, "empty-segment"],
    ["%E0%A4%A", 400, "bad-encoding"],
    ["%zz", 400, "bad-encoding"],
    [`${"x".repeat(256)}`, 400, "too-long"],
    [Array.from({ length: 65 }, () => "d").join("/"), 400, "too-long"],
  ])("refuses %s with %i %s", (encoded, status, reason) => {
    expect(parseBridgePath(encoded)).toEqual({ ok: false, status, reason });
  });

  it("accepts the root (empty, or a trailing slash) only when asked", () => {
    expect(parseBridgePath("", { allowRoot: true })).toEqual({ ok: true, segments: [] });
    expect(parseBridgePath("src/", { allowRoot: true })).toEqual({ ok: true, segments: ["src"] });
    expect(parseBridgePath("%2e%2e", { allowRoot: true })).toMatchObject({ ok: false, status: 403 });
  });

  it("never yields a segment that could leave the root, for any input", () => {
    fc.assert(
      // Inputs built from the pieces of traversal tricks: dots, slashes, their encodings (once and twice), NUL.
      fc.property(
        fc
          .array(
            fc.constantFrom(".", "/", "\\", "%2e", "%2E", "%2f", "%2F", "%5c", "%252e", "%00", "%", "a", "C:", ":"),
            {
              maxLength: 12,
            },
          )
          .map((parts) => parts.join("")),
        (input) => {
          const parsed = parseBridgePath(input);
          return !parsed.ok || parsed.segments.every((s) => s !== ".." && s !== "." && s !== "" && !/[/\\\0]/.test(s));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("round-trips with encodeBridgePath", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc
            .string({ minLength: 1, maxLength: 12 })
            .filter((s) => !hasControlOrSeparator(s) && s !== "." && s !== ".."),
          { minLength: 1, maxLength: 5 },
        ),
        (segments) => {
          fc.pre(!/^[A-Za-z]:/.test(segments[0] as string));
          expect(parseBridgePath(encodeBridgePath(segments.join("/")))).toEqual({ ok: true, segments });
        },
      ),
    );
  });
});
