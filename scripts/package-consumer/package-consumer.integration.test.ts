/**
 * The packages as a stranger gets them from npm: pack the five packages with pnpm (which rewrites `workspace:^`
 * and `catalog:`), install the tarballs into a scratch project with plain npm (third-party dependencies from the
 * npm registry), then use them from ESM, from require(), from a strict TypeScript file (skipLibCheck: false) and
 * through the `stack` bin, and run publint, @arethetypeswrong/cli and `npm publish --dry-run --provenance` on the
 * tarballs. Needs `pnpm build` first (the test command runs it).
 */
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const fixture = fileURLToPath(new URL("./fixture", import.meta.url));
const REPOSITORY_URL = "git+https://github.com/hexclave/emulator.git";
const PACKAGES = ["qemu-core", "cloud-init-gen", "image-builder", "emulator", "cli"] as const;
const MINUTES = 60_000;
/** A known npm (the root devDependency, npm 11: trusted publishing needs >= 11.5.1), whatever the machine has. */
const NPM_CLI = join(repo, "node_modules", "npm", "bin", "npm-cli.js");

interface Packed {
  readonly dir: (typeof PACKAGES)[number];
  readonly name: string;
  readonly version: string;
  readonly tarball: string;
  readonly bytes: number;
}

/** npm settings a machine may need to reach its registry; every other npm_* / pnpm_* variable comes from pnpm. */
const KEPT_NPM_SETTINGS = /^npm_config_(registry|proxy|https_proxy|noproxy|cafile|ca|strict_ssl)$/i;

/** The environment of a user's shell: no npm_* / pnpm_* variables leaking in from the pnpm that runs the tests. */
function userEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || (/^(npm|pnpm)_/i.test(key) && !KEPT_NPM_SETTINGS.test(key))) continue;
    env[key] = value;
  }
  return { ...env, NO_UPDATE_NOTIFIER: "1", NO_COLOR: "1" };
}

let work = "";
let consumer = "";
const packed: Packed[] = [];
let installMs = 0;

beforeAll(async () => {
  for (const dir of PACKAGES) {
    if (!existsSync(join(repo, "packages", dir, "dist", "index.js"))) {
      throw new Error(`packages/${dir}/dist is missing: run "pnpm build" before this test.`);
    }
  }
  work = await mkdtemp(join(tmpdir(), "hexclave-consumer-"));
  const tarballs = join(work, "tarballs");
  await mkdir(tarballs);
  for (const dir of PACKAGES) {
    const cwd = join(repo, "packages", dir);
    const manifest = JSON.parse(await readFile(join(cwd, "package.json"), "utf8")) as { name: string; version: string };
    await execa("pnpm", ["pack", "--pack-destination", tarballs], { cwd, env: userEnv() });
    const tarball = join(tarballs, `${manifest.name.replace("@", "").replace("/", "-")}-${manifest.version}.tgz`);
    packed.push({ dir, name: manifest.name, version: manifest.version, tarball, bytes: (await stat(tarball)).size });
  }

  consumer = join(work, "consumer");
  await cp(fixture, consumer, { recursive: true });
  await writeFile(join(consumer, "package.json"), `${JSON.stringify({ name: "consumer", private: true }, null, 2)}\n`);
  const npmVersion = (await execa("node", [NPM_CLI, "--version"], { env: userEnv() })).stdout.trim();
  const started = performance.now();
  await execa(
    "node",
    [
      NPM_CLI,
      "install",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      ...packed.map((p) => p.tarball),
      "@types/node@^22",
    ],
    { cwd: consumer, env: userEnv(), timeout: 15 * MINUTES },
  );
  installMs = performance.now() - started;
  console.log(
    [
      "package consumer:",
      ...packed.map((p) => `  ${p.name}@${p.version}  ${p.bytes} B packed`),
      `  npm ${npmVersion} install of the ${packed.length} tarballs + @types/node: ${(installMs / 1000).toFixed(1)} s`,
    ].join("\n"),
  );
}, 20 * MINUTES);

afterAll(async () => {
  if (work !== "") await rm(work, { recursive: true, force: true });
});

async function tarList(tarball: string): Promise<string[]> {
  return (await execa("tar", ["-tzf", tarball])).stdout.split("\n").filter((line) => line !== "");
}

async function packedManifest(tarball: string): Promise<Record<string, unknown>> {
  return JSON.parse((await execa("tar", ["-xOzf", tarball, "package/package.json"])).stdout) as Record<string, unknown>;
}

describe("packed packages", () => {
  it("carry LICENSE, README and dist, and no sources, tests or fixtures", async () => {
    for (const p of packed) {
      const files = await tarList(p.tarball);
      expect(files, p.name).toContain("package/LICENSE");
      expect(files, p.name).toContain("package/README.md");
      expect(files, p.name).toContain("package/dist/index.js");
      expect(files, p.name).toContain("package/dist/index.d.ts");
      const unwanted = files.filter((file) => /\.test\.|\/src\/|test-support|fixture|\.tsbuildinfo$/.test(file));
      expect(unwanted, p.name).toEqual([]);
    }
  });

  it("have the metadata a provenance publish needs, a default export condition and resolved dependency ranges", async () => {
    for (const p of packed) {
      const manifest = await packedManifest(p.tarball);
      expect(manifest.license, p.name).toBe("MIT");
      expect(manifest.repository, p.name).toEqual({ type: "git", url: REPOSITORY_URL, directory: `packages/${p.dir}` });
      expect(existsSync(join(repo, `packages/${p.dir}`, "package.json")), "repository.directory exists").toBe(true);
      expect(manifest.homepage, p.name).toMatch(/^https:\/\/github\.com\/hexclave\/emulator\//);
      expect(manifest.bugs, p.name).toEqual({ url: "https://github.com/hexclave/emulator/issues" });
      expect(manifest.publishConfig, p.name).toMatchObject({ access: "public" });
      const root = (manifest.exports as Record<string, Record<string, string>>)["."]!;
      expect(Object.keys(root), p.name).toEqual(["types", "default"]);
      const ranges = Object.values({
        ...(manifest.dependencies as Record<string, string> | undefined),
        ...(manifest.peerDependencies as Record<string, string> | undefined),
      });
      expect(
        ranges.filter((range) => range.startsWith("workspace:") || range.startsWith("catalog:")),
        p.name,
      ).toEqual([]);
      for (const [name, range] of Object.entries((manifest.dependencies ?? {}) as Record<string, string>)) {
        if (name.startsWith("@hexclave/")) expect(range, `${p.name} -> ${name}`).toMatch(/^\^\d/);
      }
    }
  });
});

describe("a plain npm consumer", () => {
  const expected = {
    arch: "amd64",
    qemu: "7.2.0",
    cd001: "CD001",
    userData: "#cloud-config\nhostname: consumer\n",
    errorCode: "INVALID_ARCH",
  };

  it("imports @hexclave/qemu-core and @hexclave/cloud-init-gen from ESM", async () => {
    const { stdout } = await execa("node", ["esm.mjs"], { cwd: consumer, env: userEnv() });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ style: "esm", ...expected });
    expect(result.isoBytes).toBeGreaterThan(32774);
  });

  it("requires them from CommonJS", async () => {
    const { stdout } = await execa("node", ["cjs.cjs"], { cwd: consumer, env: userEnv() });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ style: "cjs", ...expected });
  });

  it(
    "type-checks a strict TypeScript file against them with skipLibCheck: false",
    async () => {
      const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
      const result = await execa("node", [tsc, "-p", "tsconfig.json"], {
        cwd: consumer,
        env: userEnv(),
        reject: false,
      });
      expect(`${result.stdout}${result.stderr}`).toBe("");
      expect(result.exitCode).toBe(0);
    },
    5 * MINUTES,
  );

  it("runs the stack bin", async () => {
    const cli = packed.find((p) => p.dir === "cli")!;
    const { stdout } = await execa(join(consumer, "node_modules", ".bin", "stack"), ["--version"], { env: userEnv() });
    expect(stdout.trim()).toBe(cli.version);
  });
});

describe("publish checks on the tarballs", () => {
  it(
    "publint --strict finds nothing",
    async () => {
      for (const p of packed) {
        const result = await execa("pnpm", ["exec", "publint", "run", p.tarball, "--strict"], {
          cwd: repo,
          reject: false,
        });
        expect(result.exitCode, `${p.name}\n${result.stdout}\n${result.stderr}`).toBe(0);
        expect(result.stdout, p.name).toContain("All good!");
      }
    },
    5 * MINUTES,
  );

  it(
    // Profile node16: node10 resolution (no `exports`) cannot see subpath entries such as
    // @hexclave/image-builder/image, and no supported Node (engines >= 22.12) resolves that way.
    "@arethetypeswrong/cli finds no problem (require of ESM is allowed: Node >= 22.12 loads it)",
    async () => {
      for (const p of packed) {
        const result = await execa(
          "pnpm",
          [
            "exec",
            "attw",
            p.tarball,
            "--format",
            "ascii",
            "--ignore-rules",
            "cjs-resolves-to-esm",
            "--profile",
            "node16",
          ],
          { cwd: repo, reject: false, env: { ...process.env, NO_COLOR: "1" } },
        );
        expect(result.exitCode, `${p.name}\n${result.stdout}\n${result.stderr}`).toBe(0);
      }
    },
    5 * MINUTES,
  );

  it(
    "npm publish --dry-run --provenance accepts every tarball",
    async () => {
      for (const p of packed) {
        const result = await execa("node", [NPM_CLI, "publish", "--dry-run", "--provenance", p.tarball], {
          cwd: work,
          env: userEnv(),
          reject: false,
        });
        const output = `${result.stdout}\n${result.stderr}`;
        expect(result.exitCode, `${p.name}\n${output}`).toBe(0);
        expect(output).toContain(`name: ${p.name}`);
        expect(output).toContain("with tag latest and public access (dry-run)");
      }
    },
    5 * MINUTES,
  );
});
