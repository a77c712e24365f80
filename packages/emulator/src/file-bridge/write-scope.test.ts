import { describe, expect, it } from "vitest";
import { decideWrite, grantSegments, guestWriteMode, isProtectedPath } from "./write-scope.js";

describe("isProtectedPath", () => {
  it("VCS metadata, hooks and tool directories at any depth, in any case", () => {
    for (const path of [
      ".git/config",
      ".git/hooks/pre-commit",
      "sub/.GIT/config",
      ".hg/hgrc",
      ".svn/entries",
      ".husky/pre-commit",
      "node_modules/.bin/tsc",
      "packages/a/node_modules/.bin/vitest",
      ".vscode/tasks.json",
      ".envrc",
      "deep/.npmrc",
      ".yarnrc.yml",
    ]) {
      expect(isProtectedPath(path.split("/")), path).toBe(true);
    }
  });

  it("ordinary project files are not protected", () => {
    for (const path of ["stack.config.ts", "src/git/config.ts", "node_modules/pkg/index.js", "docs/.gitignore"]) {
      expect(isProtectedPath(path.split("/")), path).toBe(false);
    }
  });
});

describe("decideWrite", () => {
  it("nothing is writable without a grant", () => {
    expect(decideWrite([], ["stack.config.ts"])).toEqual({ allowed: false, reason: "read-only" });
  });

  it("a grant covers its subtree only, never a protected path inside it", () => {
    const grants = [["data"], ["notes.md"]];
    expect(decideWrite(grants, ["data", "a", "b.json"])).toEqual({ allowed: true });
    expect(decideWrite(grants, ["notes.md"])).toEqual({ allowed: true });
    expect(decideWrite(grants, ["database.json"])).toEqual({ allowed: false, reason: "read-only" });
    expect(decideWrite(grants, ["data", ".git", "config"])).toEqual({ allowed: false, reason: "protected-path" });
    expect(decideWrite([[]], [".git", "config"])).toEqual({ allowed: false, reason: "protected-path" });
    expect(decideWrite([[]], ["src", "index.ts"])).toEqual({ allowed: true });
  });
});

describe("grantSegments", () => {
  it("relative to the real root; outside or protected is refused with the value named", () => {
    expect(grantSegments("/p", "/p", ".")).toEqual({ ok: true, segments: [] });
    expect(grantSegments("/p", "/p/data/x", "data/x")).toEqual({ ok: true, segments: ["data", "x"] });
    const outside = grantSegments("/p", "/other", "../other");
    expect(outside.ok === false && outside.message).toMatch(/--bridge-writable \.\.\/other is outside/);
    const git = grantSegments("/p", "/p/.git", ".git");
    expect(git.ok === false && git.message).toMatch(/--bridge-writable \.git is a protected path/);
  });
});

describe("guestWriteMode", () => {
  it("new files 0644; a replaced file loses setuid, setgid, sticky and execute bits", () => {
    expect(guestWriteMode(undefined)).toBe(0o644);
    expect(guestWriteMode(0o4755)).toBe(0o644);
    expect(guestWriteMode(0o6775)).toBe(0o664);
    expect(guestWriteMode(0o600)).toBe(0o600);
  });
});
