import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { TRICKY_STRINGS } from "../test-support/example-documents.js";
import { toYamlText } from "./yaml-text.js";

/** Reads YAML back as YAML 1.1 would (yes/on/0755 resolve to non-strings there) and as YAML 1.2 core. */
const readBoth = (text: string) => [parse(text), parse(text, { version: "1.1" })];

describe("toYamlText", () => {
  it.each(TRICKY_STRINGS.map((s) => [JSON.stringify(s), s]))("keeps %s a string in YAML 1.1 and 1.2", (_name, s) => {
    const text = toYamlText({ value: s, list: [s], [s]: "as key" });
    for (const back of readBoth(text)) expect(back).toEqual({ value: s, list: [s], [s]: "as key" });
  });

  it("quotes the strings YAML would misread, and leaves ordinary words plain", () => {
    const text = toYamlText({ a: "yes", b: "0755", c: "1e3", d: "~", e: "", f: "*x", g: "plain words", h: "on" });
    expect(text).toBe('a: "yes"\nb: "0755"\nc: "1e3"\nd: "~"\ne: ""\nf: "*x"\ng: plain words\nh: "on"\n');
  });

  it("writes multi-line strings as literal block scalars", () => {
    const text = toYamlText({ content: "line 1\n  line 2\n", stripped: "a\nb" });
    expect(text).toBe("content: |\n  line 1\n    line 2\nstripped: |-\n  a\n  b\n");
    expect(parse(text)).toEqual({ content: "line 1\n  line 2\n", stripped: "a\nb" });
  });

  it("double-quotes multi-line strings with lines of only spaces, and multi-line keys", () => {
    expect(toYamlText({ a: " \n", b: "x\n \ny" })).toBe('a: "\\ \\n"\nb: "x\\n\\ \\ny"\n');
    expect(toYamlText({ "k\ney": 1 })).toBe('"k\\ney": 1\n');
  });

  it("double-quotes one-line strings with a tab, which PyYAML refuses in some plain scalars", () => {
    // Found by the PyYAML property test: `- a<TAB>-` is "found character '\t' that cannot start any token".
    expect(toYamlText({ k: ["a\t-", "x\ty"] })).toBe('k:\n  - "a\\t-"\n  - "x\\ty"\n');
    expect(parse(toYamlText({ k: ["a\t-"] }))).toEqual({ k: ["a\t-"] });
  });

  it("escapes what PyYAML refuses or reads as a line break, inside double quotes", () => {
    const text = toYamlText({ s: "a\u0085b\u2028c\u007fd\ufffee\ufeff" });
    expect(text).toBe('s: "a\\x85b\\u2028c\\x7fd\\ufffee\\ufeff"\n');
    expect(/[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/u.test(text)).toBe(false);
  });

  it("writes no anchors for repeated objects and does not fold long lines", () => {
    const shared = { x: 1 };
    const long = "word ".repeat(60).trim();
    const text = toYamlText({ a: shared, b: shared, long });
    expect(text).not.toMatch(/[&*]a\d/);
    expect(text.split("\n").some((l) => l === `long: ${long}`)).toBe(true);
  });

  it("round-trips arbitrary strings (full unicode, control characters, newlines) byte for byte", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.fullUnicodeString(),
          fc.string({
            unit: fc.constantFrom("\n", "\r", " ", "\t", "#", ":", "-", "'", '"', "a", "0", "\u0085", "\u2028"),
          }),
          fc.constantFrom(...TRICKY_STRINGS),
        ),
        (s) => {
          const data = { key: s, seq: [s, { nested: s }], [s]: s };
          const text = toYamlText(data);
          for (const back of readBoth(text)) expect(back).toEqual(data);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("round-trips arbitrary JSON-like data", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const data = { value };
        // JSON -0 has no YAML spelling that stays -0 through every reader; compare as JSON does.
        expect(JSON.stringify(parse(toYamlText(data)))).toBe(JSON.stringify(data));
      }),
      { numRuns: 500 },
    );
  });
});
