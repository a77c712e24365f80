import { describe, expect, it } from "vitest";
import { CloudInitGenError } from "./errors.js";
import { raw, ShellScript, sh, shCommand, shQuote } from "./shell-script.js";

describe("shQuote", () => {
  it.each([
    ["/srv/image.tar", "/srv/image.tar"],
    ["", "''"],
    ["a b", "'a b'"],
    ["it's", "'it'\\''s'"],
    ["$HOME", "'$HOME'"],
    ["`id`", "'`id`'"],
    ["a\nb", "'a\nb'"],
    ["=x", "'=x'"],
    ["é", "'é'"],
    ["*", "'*'"],
    ["~", "'~'"],
  ])("%j -> %s", (input, quoted) => {
    expect(shQuote(input)).toBe(quoted);
  });

  it("refuses NUL bytes with a typed error", () => {
    expect(() => shQuote("a\0b")).toThrow(CloudInitGenError);
    try {
      shQuote("a\0b");
    } catch (e) {
      expect((e as CloudInitGenError).code).toBe("INVALID_SHELL_VALUE");
    }
  });
});

describe("sh", () => {
  it("quotes each interpolated value as one word, arrays as several, raw as is", () => {
    const path = "/srv/my image's.tar";
    expect(sh`docker load -i ${path}`).toBe("docker load -i '/srv/my image'\\''s.tar'");
    expect(sh`rm -f ${["a b", "c"]} ${raw("2>/dev/null")}`).toBe("rm -f 'a b' c 2>/dev/null");
    expect(sh`sleep ${5} && ${true}`).toBe("sleep 5 && true");
  });
});

describe("ShellScript", () => {
  it("builds a strict script with quoted commands and assignments", () => {
    const text = new ShellScript()
      .assign("DIR", "/a b")
      .command(["ls", "-l", "$DIR"])
      .line(sh`cd ${"/x y"}`)
      .toString();
    expect(text).toBe("#!/bin/sh\nset -eu\nDIR='/a b'\nls -l '$DIR'\ncd '/x y'\n");
    expect(new ShellScript({ shell: "/bin/bash", strict: false }).line("true").toString()).toBe("#!/bin/bash\ntrue\n");
    expect(shCommand(["printf", "%s", ""])).toBe("printf %s ''");
  });

  it("refuses a bad variable name", () => {
    expect(() => new ShellScript().assign("1x", "v")).toThrow(/Not a shell variable name/);
  });
});
