import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentVariableCheck, stackOnPathCheck } from "./environment-checks.js";
import { findStackOnPath } from "./stack-on-path.js";

let root: string;
const dir = (name: string) => join(root, name);

async function executable(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await chmod(path, 0o755);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "stack-on-path-"));
  for (const name of ["haskell", "npm-global", "pnpm-global", "empty", "not-executable", "package/dist"]) {
    await mkdir(dir(name), { recursive: true });
  }
  // Haskell's Stack: a native program.
  await executable(join(dir("haskell"), "stack"), "\u007fELF\u0002\u0001\u0001 not a script");
  // npm's global bin: a symlink to the package's bin.js.
  await executable(join(dir("package/dist"), "bin.js"), "#!/usr/bin/env node\n");
  await mkdir(join(root, "lib/node_modules/@hexclave/cli/dist"), { recursive: true });
  await executable(join(root, "lib/node_modules/@hexclave/cli/dist/bin.js"), "#!/usr/bin/env node\n");
  await symlink(join(root, "lib/node_modules/@hexclave/cli/dist/bin.js"), join(dir("npm-global"), "stack"));
  // pnpm's shim: a shell script naming the package directory.
  await executable(
    join(dir("pnpm-global"), "stack"),
    '#!/bin/sh\nexec node "$basedir/global/5/.pnpm/@hexclave+cli@0.1.0/node_modules/@hexclave/cli/dist/bin.js" "$@"\n',
  );
  await writeFile(join(dir("not-executable"), "stack"), "#!/bin/sh\n");
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("findStackOnPath", () => {
  it("finds none on a PATH without stack (a non-executable file does not count)", async () => {
    expect(await findStackOnPath([dir("empty"), dir("not-executable")].join(":"), undefined)).toEqual({
      first: null,
      firstIsOurs: false,
      ours: null,
    });
  });

  it("sees another program first, and this CLI later", async () => {
    const found = await findStackOnPath([dir("haskell"), "relative/dir", dir("npm-global")].join(":"), undefined);
    expect(found).toEqual({
      first: join(dir("haskell"), "stack"),
      firstIsOurs: false,
      ours: join(dir("npm-global"), "stack"),
    });
  });

  it("recognises this CLI through pnpm's shim, and through the script this process runs", async () => {
    expect((await findStackOnPath(dir("pnpm-global"), undefined)).firstIsOurs).toBe(true);
    const self = join(dir("package/dist"), "bin.js");
    await symlink(self, join(dir("empty"), "stack"));
    try {
      expect(await findStackOnPath(`${dir("empty")}:${dir("haskell")}`, self)).toEqual({
        first: join(dir("empty"), "stack"),
        firstIsOurs: true,
        ours: join(dir("empty"), "stack"),
      });
    } finally {
      await rm(join(dir("empty"), "stack"));
    }
  });
});

describe("environment checks", () => {
  it("a bad variable is a failed check with a fix", () => {
    const check = environmentVariableCheck({
      variable: "EMULATOR_CPUS",
      value: "lots",
      message: 'environment variable EMULATOR_CPUS must be a whole number from 1 to 256, got "lots".',
    });
    expect(check).toMatchObject({ id: "env:emulator-cpus", category: "environment", verdict: "fail" });
    expect(check.summary).toContain("must be a whole number from 1 to 256");
    expect(check.fix).toContain("unset EMULATOR_CPUS");
  });

  it("another program first on PATH is a warning naming it and where this CLI is", () => {
    const check = stackOnPathCheck({ first: "/usr/bin/stack", firstIsOurs: false, ours: "/home/u/.npm/bin/stack" });
    expect(check.verdict).toBe("warn");
    expect(check.summary).toContain("/usr/bin/stack");
    expect(check.summary).toContain("Haskell's Stack");
    expect(check.summary).toContain("/home/u/.npm/bin/stack");
    expect(check.fix).toContain("before /usr/bin on PATH");
    expect(stackOnPathCheck({ first: null, firstIsOurs: false, ours: null }).verdict).toBe("ok");
    expect(stackOnPathCheck({ first: "/a/stack", firstIsOurs: true, ours: "/a/stack" }).fix).toBeNull();
  });
});
