import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { confirmOnTerminal } from "./terminal-confirm.js";

function streams() {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = "";
  output.on("data", (chunk: Buffer) => {
    written += chunk.toString();
  });
  return { input, output, written: () => written };
}

describe("confirmOnTerminal", () => {
  it.each([
    ["y\n", true],
    ["YES\n", true],
    [" yes \n", true],
    ["n\n", false],
    ["\n", false],
    ["yep\n", false],
  ])("answers %j -> %s, asking with the default shown", async (typed, expected) => {
    const io = streams();
    const answer = confirmOnTerminal("Wipe all emulator data?", io);
    io.input.write(typed);
    expect(await answer).toBe(expected);
    expect(io.written()).toBe("Wipe all emulator data? [y/N] ");
  });

  it("answers no at the end of input and when the signal aborts (Ctrl-C)", async () => {
    const closed = streams();
    const atEnd = confirmOnTerminal("Reset?", closed);
    closed.input.end();
    expect(await atEnd).toBe(false);

    const interrupted = streams();
    const controller = new AbortController();
    const answer = confirmOnTerminal("Reset?", { ...interrupted, signal: controller.signal });
    controller.abort();
    expect(await answer).toBe(false);
  });
});
