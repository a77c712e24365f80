import { describe, expect, it } from "vitest";
import { splitLines } from "./serial-follower.js";

describe("splitLines", () => {
  it("returns complete lines and carries the rest", () => {
    expect(splitLines("", "a\r\nb\nc")).toEqual({ lines: ["a", "b"], carry: "c" });
    expect(splitLines("c", "d\n")).toEqual({ lines: ["cd"], carry: "" });
    expect(splitLines("", "")).toEqual({ lines: [], carry: "" });
  });
});
