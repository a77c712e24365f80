/**
 * The real cloud-init validator for tests: Debian trixie's cloud-init (25.x)
 * in a small chroot made by mmdebstrap, cached under
 * `<repo>/.cache/cloud-init-trixie/<recipe hash>/` and shared by parallel test
 * files (a lock directory; built in a temp directory, then renamed).
 * Needs root (chroot) and mmdebstrap with the Debian mirror.
 *
 *   const { ok, output } = await cloudInitSchemaCheck(renderUserData(config));
 *
 * `ok` means exit code 0 AND no deprecation or warning text: cloud-init 25.x
 * prints "Cloud config schema deprecations: ..." yet exits 0 for those.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

export const CLOUD_INIT_CHROOT_RECIPE = {
  suite: "trixie",
  variant: "minbase",
  include: ["cloud-init"],
  mirror: process.env.DEBIAN_MIRROR ?? "http://deb.debian.org/debian",
} as const;

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const cacheRoot = process.env.CLOUD_INIT_CHROOT_CACHE ?? path.join(repoRoot, ".cache", "cloud-init-trixie");

function recipeHash(): string {
  return createHash("sha256").update(JSON.stringify(CLOUD_INIT_CHROOT_RECIPE)).digest("hex").slice(0, 16);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** mkdir-based lock shared by processes; a lock whose owner died is taken over. */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, "pid"), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number.parseInt(await readFile(path.join(lockDir, "pid"), "utf8").catch(() => ""), 10);
      if (Number.isInteger(owner) && !pidAlive(owner)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${lockDir} (held by pid ${owner})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

let chrootPromise: Promise<string> | undefined;

/** The chroot directory with cloud-init installed, built on first use (about 30 to 60 s), then reused. */
export function ensureCloudInitChroot(): Promise<string> {
  chrootPromise ??= (async () => {
    const dir = path.join(cacheRoot, recipeHash());
    const ready = () => existsSync(path.join(dir, "usr", "bin", "cloud-init"));
    if (ready()) return dir;
    await mkdir(cacheRoot, { recursive: true });
    await withLock(`${dir}.lock`, async () => {
      if (ready()) return;
      const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
      try {
        const r = CLOUD_INIT_CHROOT_RECIPE;
        await execa(
          "mmdebstrap",
          [`--variant=${r.variant}`, `--include=${r.include.join(",")}`, "--quiet", r.suite, tmp, r.mirror],
          { all: true },
        );
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    });
    return dir;
  })();
  chrootPromise.catch(() => {
    chrootPromise = undefined;
  });
  return chrootPromise;
}

/** Runs a command inside the chroot; `input` goes to stdin. */
export async function runInCloudInitChroot(
  argv: readonly string[],
  input?: string,
): Promise<{ exitCode: number; stdout: string; stderr: string; all: string }> {
  const dir = await ensureCloudInitChroot();
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error("runInCloudInitChroot: empty command");
  const r = await execa("chroot", [dir, cmd, ...args], {
    reject: false,
    all: true,
    stripFinalNewline: false,
    ...(input === undefined ? {} : { input }),
    env: { LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, all: r.all ?? "" };
}

export interface SchemaCheckResult {
  /** Exit code 0 and no warning or deprecation in the output. */
  readonly ok: boolean;
  readonly exitCode: number;
  readonly output: string;
}

/** `cloud-init schema --config-file FILE` (cloud-config by default, or network-config) on `text`. */
export async function cloudInitSchemaCheck(
  text: string,
  options: { readonly schemaType?: "cloud-config" | "network-config" } = {},
): Promise<SchemaCheckResult> {
  const dir = await ensureCloudInitChroot();
  const name = `cloud-init-gen-${process.pid}-${randomBytes(6).toString("hex")}.yaml`;
  const hostFile = path.join(dir, "tmp", name);
  await writeFile(hostFile, text);
  try {
    const r = await runInCloudInitChroot([
      "cloud-init",
      "schema",
      "--schema-type",
      options.schemaType ?? "cloud-config",
      "--config-file",
      `/tmp/${name}`,
    ]);
    const output = r.all.trim();
    return { ok: r.exitCode === 0 && !/deprecat|warning/i.test(output), exitCode: r.exitCode, output };
  } finally {
    await rm(hostFile, { force: true });
  }
}

/**
 * Parses YAML with the PyYAML `safe_load` cloud-init uses (in the chroot) and
 * returns the data as JSON would carry it. Values JSON cannot carry (dates,
 * bytes) come back as `{"__python__": "repr"}`, so a misread shows.
 */
export async function pyYamlLoad(text: string): Promise<unknown> {
  const script = [
    "import sys, json, yaml",
    "data = yaml.safe_load(sys.stdin.buffer.read().decode('utf-8'))",
    "print(json.dumps(data, ensure_ascii=True, default=lambda o: {'__python__': repr(o)}))",
  ].join("\n");
  const r = await runInCloudInitChroot(["python3", "-c", script], text);
  if (r.exitCode !== 0) throw new Error(`PyYAML could not load the document:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}
