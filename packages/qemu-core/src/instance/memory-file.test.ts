import { describe, expect, it } from "vitest";
import { memoryFilePlan, sparseCopyCommand } from "./memory-file.js";

describe("memoryFilePlan", () => {
  it.each([
    { title: "a cold start empties the file", options: { incoming: false }, plan: { kind: "empty" } },
    {
      title: "a cold start ignores a memory image",
      options: { incoming: false, incomingMemoryImage: "/h/fresh.ram" },
      plan: { kind: "empty" },
    },
    { title: "a resume keeps the file", options: { incoming: true }, plan: { kind: "keep" } },
    {
      title: "a resume from a saved copy copies it in first",
      options: { incoming: true, incomingMemoryImage: "/h/fresh.ram" },
      plan: { kind: "copy-from", image: "/h/fresh.ram" },
    },
  ])("$title", ({ options, plan }) => {
    expect(memoryFilePlan(options)).toEqual(plan);
  });
});

describe("sparseCopyCommand", () => {
  it.each([
    { platform: "linux" as const, command: ["cp", ["--sparse=always", "/a b", "/c"]] },
    { platform: "darwin" as const, command: ["cp", ["-c", "/a b", "/c"]] },
  ])("$platform", ({ platform, command }) => {
    expect(sparseCopyCommand(platform, "/a b", "/c")).toEqual(command);
  });
});
