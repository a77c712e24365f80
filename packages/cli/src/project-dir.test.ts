import { describe, expect, it } from "vitest";
import { defaultProjectDirRefusal, sharingLine } from "./project-dir.js";

const userHome = "/home/dev";

describe("defaultProjectDirRefusal", () => {
  it("refuses /, the home directory and its ancestors, saying how to share on purpose", () => {
    for (const dir of ["/", "/home/dev", "/home"]) {
      const refusal = defaultProjectDirRefusal({ dir, userHome, entries: ["package.json", ".git"] });
      expect(refusal, dir).toBeDefined();
      expect(refusal).toContain("--project-dir DIR");
      expect(refusal).toContain("--no-file-bridge");
    }
    expect(defaultProjectDirRefusal({ dir: "/home/dev", userHome, entries: [] })).toContain("~/.ssh");
    expect(defaultProjectDirRefusal({ dir: "/", userHome, entries: [] })).toContain("root of the file system");
  });

  it("requires package.json, .git or stack.config.* in any other directory", () => {
    expect(defaultProjectDirRefusal({ dir: "/home/dev/app", userHome, entries: ["src", "notes.txt"] })).toMatch(
      /does not look like a project \(no package\.json, \.git, stack\.config\.\*\)/,
    );
    for (const marker of ["package.json", ".git", "stack.config.ts", "stack.config.json"]) {
      expect(defaultProjectDirRefusal({ dir: "/home/dev/app", userHome, entries: ["src", marker] }), marker).toBe(
        undefined,
      );
    }
    // A sibling whose name starts like the home directory is not its ancestor.
    expect(defaultProjectDirRefusal({ dir: "/home/de", userHome, entries: ["package.json"] })).toBeUndefined();
  });
});

describe("sharingLine", () => {
  it("names the shared directory and exactly what the guest may write", () => {
    expect(sharingLine({ enabled: true, projectDir: "/p", writable: [] })).toBe(
      "Sharing /p with the guest (read access); the guest may write nothing.\n",
    );
    expect(
      sharingLine({ enabled: true, projectDir: "/p", configFile: "/p/stack.config.ts", writable: ["/p/data"] }),
    ).toBe("Sharing /p with the guest (read access); the guest may write only /p/stack.config.ts, /p/data.\n");
    expect(sharingLine({ enabled: false, projectDir: "/p", writable: [] })).toContain("off");
  });
});
