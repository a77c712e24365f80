import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { checkDependencyDirection, checkImport, checkQemuCoreNames, importsOf, productNamesIn } from "./check.js";

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

describe("productNamesIn", () => {
  it.each([
    // [line, the name found, or undefined]
    ['export const HOME_ENV = "HEXCLAVE_EMULATOR_HOME";', "HEXCLAVE_EMULATOR_HOME"],
    ['export const DEFAULT_HOME_SEGMENTS = [".hexclave", "emulator"] as const;', ".hexclave"],
    [" * in `~/.hexclave/emulator/cache`", ".hexclave"],
    ["const cache = join(emulatorHome(env), 'cache');", "emulatorHome"],
    ['const image = "stack-emulator-amd64.qcow2";', "stack-emulator"],
    ['export const RUNTIME_SECRETS_FILE = "runtime-secrets.json";', "runtime-secrets"],
    ['export const RUNTIME_ENV_FW_CFG_FILE = "runtime-env.fwcfg";', "runtime-env.fwcfg"],
    ['export const SNAPSHOT_RECORD_FILE = "snapshots.json";', "snapshots.json"],
    ['export const BRIDGE_FW_CFG_FILE = "bridge.fwcfg";', "bridge.fwcfg"],
    ['export const BRIDGE_RECORD_FILE = "bridge.json";', "bridge.json"],
    ['export const BRIDGE_CONFIG_GUEST_FILE = "bridge-config.guest";', "bridge-config.guest"],
    ['export const BRIDGE_LOG_FILE = "bridge.log";', "bridge.log"],
    // The org's generic names stay.
    ['export const TEMP_FILE_SUFFIX = ".hexclave-tmp";', undefined],
    ['export const NO_ACCEL_CACHE_ENV = "HEXCLAVE_NO_ACCEL_CACHE";', undefined],
    ['throw new HexclaveError("x");', undefined],
    ['import { x } from "@hexclave/qemu-core";', undefined],
    ["/** Must start with `opt/` (for example `opt/hexclave/bridge`). */", undefined],
    ['export const OVERLAY_FILE = "disk.qcow2";', undefined],
  ] as const)("%s: %s", (line, name) => {
    expect(productNamesIn("f.ts", `// first\n${line}\n`).map((h) => h.match)).toEqual(name === undefined ? [] : [name]);
  });

  it("names the file and the 1-based line", () => {
    expect(productNamesIn("src/a.ts", 'ok\n"stack-emulator-amd64.json"\n')).toEqual([
      { file: "src/a.ts", line: 2, match: "stack-emulator", what: expect.stringContaining("image") },
    ]);
  });
});

describe("checkQemuCoreNames", () => {
  let tree = "";
  afterEach(async () => {
    if (tree !== "") await rm(tree, { recursive: true, force: true });
  });

  it("finds a planted name in a source file, not in a test", async () => {
    tree = await mkdtemp(join(tmpdir(), "qemu-core-names-"));
    const files = {
      "packages/qemu-core/src/ok.ts": 'export const LOCK_FILE = "lock";\n',
      "packages/qemu-core/src/instance/wrong.ts": '\nexport const HOME_ENV = "HEXCLAVE_EMULATOR_HOME";\n',
      "packages/qemu-core/src/wrong.test.ts": 'const home = "HEXCLAVE_EMULATOR_HOME";\n',
      "packages/emulator/src/layout.ts": 'export const HOME_ENV = "HEXCLAVE_EMULATOR_HOME";\n',
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(tree, path)), { recursive: true });
      await writeFile(join(tree, path), text);
    }
    expect(await checkQemuCoreNames(tree)).toEqual([
      expect.objectContaining({ file: "packages/qemu-core/src/instance/wrong.ts", line: 2 }),
    ]);
  });

  it("finds none in this repository's qemu-core", async () => {
    expect(await checkQemuCoreNames(repo)).toEqual([]);
  });
});
