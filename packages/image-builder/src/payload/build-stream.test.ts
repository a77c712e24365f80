import { describe, expect, it } from "vitest";
import {
  type BuildStreamMessage,
  initialBuildStreamState,
  isRegistryError,
  parseStepLine,
  reduceBuildMessage,
} from "./build-stream.js";
import { dockerignoreFilter } from "./context.js";
import {
  dockerfileInstructions,
  externalBaseImages,
  parseFromInstructions,
  substituteArgs,
} from "./dockerfile-from.js";

function fold(messages: BuildStreamMessage[]) {
  let state = initialBuildStreamState;
  const lines: string[] = [];
  for (const message of messages) {
    const next = reduceBuildMessage(state, message);
    state = next.state;
    lines.push(...next.lines);
  }
  return { state, lines };
}

describe("build stream", () => {
  it("parses step lines", () => {
    expect(parseStepLine("Step 3/5 : RUN make -j2")).toEqual({
      index: 3,
      total: 5,
      instruction: "RUN make -j2",
      line: "Step 3/5 : RUN make -j2",
    });
    expect(parseStepLine(" ---> Running in abc")).toBeUndefined();
  });

  it("names the failing step and keeps the image id", () => {
    const { state, lines } = fold([
      { stream: "Step 1/3 : FROM base\n" },
      { stream: " ---> 1234\n" },
      { stream: "Step 2/3 : RUN exit 3\n" },
      { stream: " ---> Running in abcd\n" },
      { errorDetail: { code: 3, message: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" }, error: "x" },
    ]);
    expect(state.lastStep?.line).toBe("Step 2/3 : RUN exit 3");
    expect(state.error).toBe("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    expect(lines).toContain(" ---> Running in abcd");
    expect(fold([{ aux: { ID: "sha256:ff" } }]).state.imageId).toBe("sha256:ff");
  });

  it("splits multi-line stream chunks and renders pull status", () => {
    const { lines } = fold([{ stream: "a\nb\n\n" }, { status: "Downloading", id: "l1", progress: "[=>  ]" }]);
    expect(lines).toEqual(["a", "b", "l1 Downloading [=>  ]"]);
  });

  it("tells registry failures from build failures", () => {
    expect(
      isRegistryError('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'),
    ).toBe(true);
    expect(isRegistryError("pull access denied for foo, repository does not exist")).toBe(true);
    expect(isRegistryError("The command '/bin/sh -c exit 3' returned a non-zero code: 3")).toBe(false);
  });
});

describe("Dockerfile FROM lines", () => {
  it("joins continuations and skips comments", () => {
    expect(dockerfileInstructions("# c\nRUN a \\\n  # inner\n  b\n\nFROM x\n")).toEqual([
      { line: 2, text: "RUN a b" },
      { line: 6, text: "FROM x" },
    ]);
  });

  it("substitutes global ARGs and build args, and skips stages and scratch", () => {
    const text = [
      "ARG BASE=debian:trixie",
      "ARG TAG",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      "FROM --platform=$BUILDPLATFORM ${BASE} AS build",
      "FROM scratch AS empty",
      "FROM build AS final",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
      "FROM node:${TAG:-22}",
      "FROM registry.example/x:$TAG",
    ].join("\n");
    const froms = parseFromInstructions(text, { TAG: "24" });
    expect(froms.map((f) => f.image)).toEqual([
      "debian:trixie",
      "scratch",
      "build",
      "node:24",
      "registry.example/x:24",
    ]);
    expect(froms[0]).toMatchObject({ stage: "build", line: 3 });
    expect(externalBaseImages(froms)).toEqual(["debian:trixie", "node:24", "registry.example/x:24"]);
    expect(externalBaseImages(parseFromInstructions(text)).slice(-2)).toEqual(["node:22", "registry.example/x:"]);
  });

  it("substitutes like Docker", () => {
    const args = new Map([
      ["A", "1"],
      ["E", ""],
    ]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a template
    expect(substituteArgs("$A-${A}-${B:-d}-${E:-e}-$B", args)).toBe("1-1-d-e-");
  });
});

describe(".dockerignore matching", () => {
  it("follows Docker's rules, never dropping the Dockerfile or .dockerignore", () => {
    const ignored = dockerignoreFilter(
      ["# comment", "node_modules", "/secret*", "logs/", "*.md", "!README.md", "Dockerfile", ""],
      ["Dockerfile", ".dockerignore"],
    );
    expect(ignored("node_modules")).toBe(true);
    expect(ignored("secret.txt")).toBe(true);
    expect(ignored("logs")).toBe(true);
    expect(ignored("NOTES.md")).toBe(true);
    expect(ignored("README.md")).toBe(false);
    expect(ignored("src/index.ts")).toBe(false);
    expect(ignored("Dockerfile")).toBe(false);
    expect(ignored(".dockerignore")).toBe(false);
  });
});
