import { describe, expect, it } from "vitest";
import { abortableSleep } from "./abortable-sleep.js";

describe("abortableSleep", () => {
  it.each<[string, () => AbortSignal | undefined, number]>([
    ["an already aborted signal resolves it at once", () => AbortSignal.abort(), 60_000],
    ["no signal: it waits its time", () => undefined, 1],
    ["a signal that never aborts: it waits its time", () => new AbortController().signal, 1],
  ])("%s", async (_name, signal, ms) => {
    await expect(abortableSleep(ms, signal())).resolves.toBeUndefined();
  });

  it("an abort while waiting resolves it", async () => {
    const controller = new AbortController();
    const slept = abortableSleep(60_000, controller.signal);
    controller.abort();
    await expect(slept).resolves.toBeUndefined();
  });
});
