import { describe, expect, it } from "vitest";
import { MAX_PANIC_RESTARTS, panicMessage, panicResponse } from "./panic-restart.js";

describe("panicResponse", () => {
  it.each([
    ["a start that attached to a running VM only reports it", "attached", 0, { kind: "reported" }],
    ["a kernel boot restarts by itself (panic=-1), however often", "kernel", 5, { kind: "guest-restarts" }],
    ["a firmware boot's first panic: QEMU resets it", "firmware", 0, { kind: "host-restarts", attempt: 1 }],
    ["a firmware boot's second panic: once more", "firmware", 1, { kind: "host-restarts", attempt: 2 }],
    ["a firmware boot's third panic: the start gives up", "firmware", 2, { kind: "give-up", restarts: 2 }],
  ] as const)("%s", (_, boot, restartsSoFar, expected) => {
    expect(panicResponse(boot, restartsSoFar)).toEqual(expected);
  });

  it("gives up after MAX_PANIC_RESTARTS resets", () => {
    const responses = Array.from({ length: MAX_PANIC_RESTARTS + 1 }, (_, i) => panicResponse("firmware", i).kind);
    expect(responses).toEqual([...Array(MAX_PANIC_RESTARTS).fill("host-restarts"), "give-up"]);
  });
});

describe("panicMessage", () => {
  it.each([
    [
      { kind: "guest-restarts" },
      "The guest kernel panicked (Fatal exception); it restarts by itself (console: /s.log)",
    ],
    [
      { kind: "host-restarts", attempt: 1 },
      "The guest kernel panicked (Fatal exception); resetting the VM (restart 1 of 2; console: /s.log)",
    ],
    [
      { kind: "give-up", restarts: 2 },
      "The guest kernel panicked (Fatal exception) again after 2 restarts; the start gives up waiting (console: /s.log)",
    ],
    [{ kind: "reported" }, "The guest kernel panicked (Fatal exception) (console: /s.log)"],
  ] as const)("%j", (response, expected) => {
    expect(panicMessage("Fatal exception", response, "/s.log")).toBe(expected);
  });
});
