import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { checkDependencyDirection, checkImport, importsOf } from "./check.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const root = "/r";
const src = (pkg: string, file: string) => `/r/packages/${pkg}/src/${file}`;

describe("checkImport", () => {
  it.each([
    // [package, file, specifier, allowed]
    ["qemu-core", "vm.ts", "./qemu-args.js", true],
    ["qemu-core", "vm.ts", "@hexclave/image-builder", false],
    ["cloud-init-gen", "seed.ts", "@hexclave/qemu-core", false],
    ["image-builder", "pipeline.ts", "@hexclave/qemu-core", true],
    ["image-builder", "pipeline.ts", "@hexclave/cloud-init-gen", true],
    ["image-builder", "pipeline.ts", "@hexclave/emulator", false],
    ["image-builder", "pipeline.ts", "@hexclave/cli", false],
    ["image-builder", "pipeline.ts", "../../emulator/src/emulator.js", false],
    ["image-builder", "pipeline.e2e.test.ts", "@hexclave/emulator", false],
    ["emulator", "emulator.ts", "@hexclave/image-builder", false],
    ["emulator", "emulator.ts", "@hexclave/image-builder/image", true],
    ["emulator", "emulator.ts", "@hexclave/image-builder/release", true],
    ["emulator", "emulator.ts", "@hexclave/image-builder/download", true],
    ["emulator", "emulator.ts", "@hexclave/image-builder/payload", false],
    ["emulator", "emulator.ts", "@hexclave/cli", false],
    ["emulator", "emulator.ts", "@hexclave/emulator", false],
    ["emulator", "emulator.ts", "#fixtures/image-builder/tiny-kernels.js", false],
    ["emulator", "emulator.e2e.test.ts", "@hexclave/image-builder", true],
    ["emulator", "emulator.e2e.test.ts", "#fixtures/image-builder/tiny-kernels.js", true],
    ["emulator", "emulator.e2e.test.ts", "../../image-builder/test-support/tiny-kernels.js", false],
    ["emulator", "lifecycle/start.ts", "../machine/vm-spec.js", true],
    ["cli", "cli-deps.ts", "@hexclave/emulator", true],
    ["cli", "cli-deps.ts", "@hexclave/image-builder", true],
    ["cli", "cli-deps.ts", "node:fs", true],
    ["cli", "cli-deps.ts", "citty", true],
  ] as const)("%s %s imports %s: allowed %s", (pkg, file, specifier, allowed) => {
    expect(checkImport(root, pkg, src(pkg, file), specifier) === undefined).toBe(allowed);
  });
});

describe("importsOf", () => {
  it("finds static, type-only, side-effect, dynamic imports and re-exports", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "@hexclave/b";',
      'import "./side.js";',
      'const c = await import("@hexclave/c");',
      'export * from "./d.js";',
      'export { e } from "./e.js";',
    ].join("\n");
    expect(importsOf(text)).toEqual(["./a.js", "@hexclave/b", "./side.js", "@hexclave/c", "./d.js", "./e.js"]);
  });
});

describe("checkDependencyDirection", () => {
  let tree = "";
  afterEach(async () => {
    if (tree !== "") await rm(tree, { recursive: true, force: true });
  });

  const plant = async (files: Record<string, string>) => {
    tree = await mkdtemp(join(tmpdir(), "dependency-direction-"));
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(tree, path)), { recursive: true });
      await writeFile(join(tree, path), text);
    }
  };

  it("fails on a planted wrong import, naming the file and the import", async () => {
    await plant({
      "packages/qemu-core/src/ok.ts": 'import { x } from "./x.js";\n',
      "packages/qemu-core/src/wrong.ts": 'import { buildImage } from "@hexclave/image-builder";\n',
      "packages/emulator/src/start.ts": 'import { readManifest } from "@hexclave/image-builder/image";\n',
      "packages/emulator/src/status.ts": 'import { readManifest } from "@hexclave/image-builder";\n',
    });
    const violations = await checkDependencyDirection(tree);
    expect(violations.map((v) => [v.file, v.specifier])).toEqual([
      ["packages/emulator/src/status.ts", "@hexclave/image-builder"],
      ["packages/qemu-core/src/wrong.ts", "@hexclave/image-builder"],
    ]);
  });

  it("passes on the repository itself", async () => {
    expect(await checkDependencyDirection(repo)).toEqual([]);
  });
});
