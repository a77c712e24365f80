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
 * Run: `node scripts/dependency-direction/check.ts [root]`; exits 1 and names each wrong import.
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

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", ".."));
  const violations = await checkDependencyDirection(root);
  for (const v of violations) process.stderr.write(`${v.file}: imports "${v.specifier}": ${v.reason}\n`);
  if (violations.length > 0) {
    process.stderr.write(
      `dependency-direction: ${violations.length} wrong import(s) (cli -> emulator -> image-builder -> qemu-core, cloud-init-gen)\n`,
    );
    process.exit(1);
  }
  process.stdout.write("dependency-direction: every import points down\n");
}
