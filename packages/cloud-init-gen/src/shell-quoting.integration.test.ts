/** Shell quoting checked by real shells: bash and dash print every quoted value back byte for byte. */
import { execa } from "execa";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TRICKY_STRINGS } from "../test-support/example-documents.js";
import { ShellScript, sh, shQuote } from "./shell-script.js";

const SHELLS = ["bash", "dash"] as const;

/** Runs `printf '%s\0' <quoted>` for each value in one shell process; returns each value's bytes. */
async function echoThrough(shell: string, values: readonly string[]): Promise<Buffer[]> {
  const script = values.map((v) => sh`printf '%s\\0' ${v}`).join("\n");
  const r = await execa(shell, ["-c", script], { encoding: "buffer", env: { LC_ALL: "C" } });
  const out = Buffer.from(r.stdout);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++)
    if (out[i] === 0) {
      parts.push(out.subarray(start, i));
      start = i + 1;
    }
  return parts;
}

const noNul = (s: string) => !s.includes("\0");

describe.each(SHELLS)("%s", (shell) => {
  it("prints the tricky strings back byte for byte", async () => {
    const values = TRICKY_STRINGS.filter(noNul);
    const back = await echoThrough(shell, values);
    expect(back.map((b) => b.toString("hex"))).toEqual(values.map((v) => Buffer.from(v, "utf8").toString("hex")));
  });

  it("prints arbitrary strings back byte for byte (spaces, quotes, $, backticks, newlines, empty, non-ASCII)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.fullUnicodeString().filter(noNul),
            fc.string({
              unit: fc.constantFrom(
                "'",
                '"',
                "$",
                "`",
                "\\",
                "\n",
                " ",
                "!",
                "*",
                "?",
                "~",
                "(",
                ";",
                "&",
                "|",
                "é",
                "a",
              ),
            }),
          ),
          { minLength: 1, maxLength: 200 },
        ),
        async (values) => {
          const back = await echoThrough(shell, values);
          expect(back.map((b) => b.toString("hex"))).toEqual(values.map((v) => Buffer.from(v, "utf8").toString("hex")));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("runs a ShellScript whose assignments and commands keep values intact", async () => {
    const value = 'it\'s $HOME `id` "q"\nline 2 ✓';
    const script = new ShellScript()
      .assign("V", value)
      .line(`printf '%s|' "$V"`)
      .command(["printf", "%s|", value])
      .line(sh`printf '%s|' ${[value, ""]}`)
      .toString();
    const r = await execa(shell, ["-c", script]);
    expect(r.stdout).toBe(`${value}|${value}|${value}||`);
  });
});

it("a quoted value is one word even where globbing and splitting would apply", async () => {
  const r = await execa("bash", ["-c", `set -- ${shQuote("* a  b")}; echo $#`]);
  expect(r.stdout).toBe("1");
});
