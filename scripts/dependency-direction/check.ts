/**
 * The packages' dependency direction, checked on every import in their sources (run by `pnpm lint`):
 *
 *   cli -> emulator -> image-builder -> { qemu-core, cloud-init-gen }
 *
 * - qemu-core and cloud-init-gen import none of ours;
 * - image-builder imports qemu-core and cloud-init-gen (its `/shell-script` subpath where the runtime reads it,
 *   so the runtime never loads YAML), never the runtime or the CLI;
 * - emulator imports qemu-core, and image-builder only through its subpaths (`/image`, `/release`, `/download`,
 *   `/accelerator-fallback`), so starting or inspecting a VM never loads the build pipeline (dockerode);
 * - cli may import every package below it;
 * - a relative import never leaves its package; tests reach shared fixtures as `#fixtures/<package>/...`.
 *
 * Tests (`*.test.ts`) may import a lower package's main entry (the emulator's tests build images), never a higher one.
 * The same run checks that qemu-core's sources spell none of the emulator's names ({@link checkQemuCoreNames}).
 * Run: `node scripts/dependency-direction/check.ts [root]`; exits 1 and names each wrong import and each such name.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** For each package, the packages (or `package/subpath` entries) its sources may import. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  "qemu-core": [],
  "cloud-init-gen": [],
  "image-builder": ["qemu-core", "cloud-init-gen", "cloud-init-gen/shell-script"],
  emulator: [
    "qemu-core",
    "image-builder/image",
    "image-builder/release",
    "image-builder/download",
    "image-builder/accelerator-fallback",
  ],
  cli: [
    "qemu-core",
    "cloud-init-gen",
    "image-builder",
    "image-builder/image",
    "image-builder/download",
    "emulator",
    "emulator/pull",
  ],
};

/** The layers from the bottom: a test may import the main entry of any package on a lower layer than its own. */
const LAYER: Readonly<Record<string, number>> = {
  "qemu-core": 0,
  "cloud-init-gen": 0,
  "image-builder": 1,
  emulator: 2,
  cli: 3,
};

export interface Violation {
  /** The importing file, relative to the root. */
  readonly file: string;
  readonly specifier: string;
  readonly reason: string;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name === "dist") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** The import specifiers of a source text (static, dynamic and side-effect imports, and re-exports). */
export function importsOf(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((m) => m[1] as string);
}

/** Why `specifier`, imported by `file` of package `pkg`, breaks the direction; undefined when it is allowed. */
export function checkImport(root: string, pkg: string, file: string, specifier: string): string | undefined {
  const isTest = /\.test\.ts$/.test(file) || file.split(sep).includes("test-support");
  const packagesDir = join(root, "packages");
  if (specifier.startsWith("@hexclave/")) {
    const target = specifier.slice("@hexclave/".length);
    const targetPkg = target.split("/")[0] as string;
    if (targetPkg === pkg) return "a package imports itself by name; use a relative import";
    if (!(targetPkg in LAYER)) return `unknown package @hexclave/${targetPkg}`;
    if ((ALLOWED[pkg] ?? []).includes(target)) return undefined;
    if (isTest && (LAYER[targetPkg] as number) < (LAYER[pkg] as number)) return undefined;
    const allowed = (ALLOWED[pkg] ?? []).map((a) => `@hexclave/${a}`).join(", ") || "none of ours";
    return `${pkg} may import ${allowed}`;
  }
  if (specifier.startsWith("#fixtures/")) {
    return isTest ? undefined : "#fixtures/ is for tests only";
  }
  if (specifier.startsWith(".")) {
    const target = resolve(dirname(file), specifier);
    const own = join(packagesDir, pkg) + sep;
    if (target.startsWith(own)) return undefined;
    if (isTest && target.startsWith(join(root, "docker", "test-support") + sep)) return undefined;
    return `a relative import leaves packages/${pkg}: import the package (or #fixtures/<package>/ in a test)`;
  }
  return undefined;
}

/** Every wrong import under `root`/packages/*. */
export async function checkDependencyDirection(root: string): Promise<Violation[]> {
  const violations: Violation[] = [];
  const packagesDir = join(root, "packages");
  for (const pkg of (await readdir(packagesDir, { withFileTypes: true })).filter((d) => d.isDirectory())) {
    for (const sub of ["src", "test-support"]) {
      const dir = join(packagesDir, pkg.name, sub);
      const files = await sourceFiles(dir).catch(() => [] as string[]);
      for (const file of files) {
        for (const specifier of importsOf(await readFile(file, "utf8"))) {
          const reason = checkImport(root, pkg.name, file, specifier);
          if (reason !== undefined) violations.push({ file: relative(root, file), specifier, reason });
        }
      }
    }
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file));
}

// qemu-core stays free of the Hexclave emulator's names (issue 16): it is a generic QEMU library, and the emulator
// home, the image's file names and the runtime's files live in the packages above it (the emulator's `layout.ts`,
// image-builder's `image/image-files.ts`). Every source file of qemu-core is read (tests excluded: they may plant
// such names on purpose), and each line that spells one is named. Deliberately allowed: the org's generic names,
// `HEXCLAVE_QEMU_BINARY_*`, `HEXCLAVE_UEFI_*`, `HEXCLAVE_NO_ACCEL_CACHE`, the `HexclaveError` class, the scope.
/** What qemu-core must not spell, and what each is. */
export const PRODUCT_NAMES: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /HEXCLAVE_EMULATOR_HOME/, what: "the emulator home's variable (emulator layout.ts)" },
  { pattern: /\.hexclave(?=["'`/\\])/, what: "the emulator home's directory (emulator layout.ts)" },
  { pattern: /\bemulatorHome\b/, what: "the emulator home (emulator layout.ts)" },
  { pattern: /stack-emulator/, what: "the image's file names (image-builder image/image-files.ts)" },
  { pattern: /runtime-secrets|runtime-env\.fwcfg/, what: "the runtime environment's files (image-builder /image)" },
  { pattern: /snapshots\.json|start\.lock/, what: "the runtime's instance files (emulator layout.ts)" },
  {
    pattern: /\bbridge(?:\.(?:fwcfg|json|log)|-config\.guest)\b/,
    what: "the file bridge's files (emulator layout.ts)",
  },
];

export interface ProductNameHit {
  /** The file, relative to the root given to {@link checkQemuCoreNames} (or as given to {@link productNamesIn}). */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly match: string;
  readonly what: string;
}

/** Every product name in `text`, line by line. Pure. */
export function productNamesIn(file: string, text: string): ProductNameHit[] {
  const hits: ProductNameHit[] = [];
  text.split("\n").forEach((content, index) => {
    for (const { pattern, what } of PRODUCT_NAMES) {
      const found = pattern.exec(content);
      if (found !== null) hits.push({ file, line: index + 1, match: found[0], what });
    }
  });
  return hits;
}

async function qemuCoreSources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await qemuCoreSources(path)));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".d.ts")) {
      out.push(path);
    }
  }
  return out;
}

/** Every product name in `root`/packages/qemu-core/src (tests excluded), sorted by file and line. */
export async function checkQemuCoreNames(root: string): Promise<ProductNameHit[]> {
  const hits: ProductNameHit[] = [];
  for (const file of await qemuCoreSources(join(root, "packages", "qemu-core", "src"))) {
    hits.push(...productNamesIn(relative(root, file), await readFile(file, "utf8")));
  }
  return hits.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", ".."));
  const violations = await checkDependencyDirection(root);
  for (const v of violations) process.stderr.write(`${v.file}: imports "${v.specifier}": ${v.reason}\n`);
  const names = await checkQemuCoreNames(root);
  for (const n of names) process.stderr.write(`${n.file}:${n.line}: spells "${n.match}", ${n.what}\n`);
  if (violations.length > 0) {
    process.stderr.write(
      `dependency-direction: ${violations.length} wrong import(s) (cli -> emulator -> image-builder -> qemu-core, cloud-init-gen)\n`,
    );
  }
  if (names.length > 0) {
    process.stderr.write(
      `dependency-direction: qemu-core spells ${names.length} of the emulator's names; move them up\n`,
    );
  }
  if (violations.length > 0 || names.length > 0) process.exit(1);
  process.stdout.write("dependency-direction: every import points down; qemu-core spells no product names\n");
}
