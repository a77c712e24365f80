/**
 * The guest's runtime-env.sh, run for real by bash: its paths (fw_cfg file,
 * build file, env file) moved into a temporary directory, and `systemctl`
 * and `modprobe` replaced by stubs on PATH that record their arguments.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUILD_PLACEHOLDER_SECRETS, DEFAULT_RUNTIME_HOST_PORTS, parseEnvFile } from "./runtime-env.js";
import { formatRuntimeEnvFwCfg, runtimeEnvGuestScript } from "./runtime-env-fwcfg.js";

let dir: string;
let script: string;
const paths = () => ({
  src: join(dir, "fw_cfg", "raw"),
  build: join(dir, "run", "build.env"),
  env: join(dir, "run", "runtime.env"),
  calls: join(dir, "calls.log"),
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hexclave-runtime-env-sh-"));
  const p = paths();
  const bin = join(dir, "bin");
  await mkdir(bin);
  await mkdir(join(dir, "fw_cfg"));
  for (const tool of ["systemctl", "modprobe"]) {
    await writeFile(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> '${p.calls}'\n`);
    await chmod(join(bin, tool), 0o755);
  }
  // The same script, its four paths moved here.
  script = runtimeEnvGuestScript("hexclave.service")
    .replace(/^SRC=.*$/m, `SRC='${p.src}'`)
    .replace(/^BUILD_ENV=.*$/m, `BUILD_ENV='${p.build}'`)
    .replace(/^DIR=.*$/m, `DIR='${join(dir, "run")}'`)
    .replace(/^DST=.*$/m, `DST='${p.env}'`);
  await writeFile(join(dir, "runtime-env.sh"), script);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const run = (...args: string[]) =>
  execa("bash", [join(dir, "runtime-env.sh"), ...args], {
    reject: false,
    env: { PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}` },
  });
const calls = async () => (await readFile(paths().calls, "utf8").catch(() => "")).trim().split("\n").filter(Boolean);
const fwcfg = (backend: number) =>
  formatRuntimeEnvFwCfg({
    ports: { ...DEFAULT_RUNTIME_HOST_PORTS, backend },
    secrets: BUILD_PLACEHOLDER_SECRETS,
  });

describe("runtime-env.sh", () => {
  it("install: the fw_cfg entry, blank padding dropped, into a 0600 env file", async () => {
    await writeFile(paths().src, fwcfg(26701));
    const r = await run("install");
    expect([r.exitCode, r.stderr]).toEqual([0, ""]);
    const text = await readFile(paths().env, "utf8");
    expect(text).not.toMatch(/\n\n/);
    expect(parseEnvFile(text).get("NEXT_PUBLIC_STACK_API_URL")).toBe("http://localhost:26701");
    expect((await stat(paths().env)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "run"))).mode & 0o777).toBe(0o700);
    expect(await calls()).toEqual(["modprobe qemu_fw_cfg"]);
  });

  it("install without a fw_cfg entry uses the build's file (the warm boot), and fails when neither exists", async () => {
    const missing = await run("install");
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain("neither");
    await mkdir(join(dir, "run"), { recursive: true });
    await writeFile(paths().build, "# hexclave-env/1\nSTACK_SKIP_MIGRATIONS=false\n");
    const r = await run("install");
    expect(r.exitCode).toBe(0);
    expect(await readFile(paths().env, "utf8")).toBe("# hexclave-env/1\nSTACK_SKIP_MIGRATIONS=false\n");
  });

  it("refuses a fw_cfg entry without the magic line, leaving the env file as it was", async () => {
    await writeFile(paths().src, fwcfg(26701));
    await run("install");
    const before = await readFile(paths().env, "utf8");
    await writeFile(paths().src, "hexclave-bridge/1 port=00000\n");
    const r = await run("refresh");
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("does not start with # hexclave-env/1");
    expect(await readFile(paths().env, "utf8")).toBe(before);
    expect(await calls()).not.toContain("systemctl restart hexclave.service");
  });

  it("refresh: unchanged leaves the container alone; a moved port rewrites the file and restarts the unit", async () => {
    await writeFile(paths().src, fwcfg(26701));
    await run("install");
    const same = await run("refresh");
    expect([same.exitCode, same.stdout]).toEqual([0, "unchanged"]);
    expect(await calls()).not.toContain("systemctl restart hexclave.service");

    await writeFile(paths().src, fwcfg(31001));
    const moved = await run("refresh");
    expect([moved.exitCode, moved.stdout]).toEqual([0, "changed"]);
    expect(parseEnvFile(await readFile(paths().env, "utf8")).get("NEXT_PUBLIC_STACK_API_URL")).toBe(
      "http://localhost:31001",
    );
    expect(await calls()).toContain("systemctl restart hexclave.service");
    expect((await stat(paths().env)).mode & 0o777).toBe(0o600);
  });

  it("no temp file is left behind, whatever the outcome", async () => {
    await writeFile(paths().src, fwcfg(26701));
    await run("install");
    await run("refresh");
    await writeFile(paths().src, "garbage\n");
    await run("refresh");
    const { stdout } = await execa("ls", ["-A", join(dir, "run")]);
    expect(stdout.split("\n")).toEqual(["runtime.env"]);
  });
});
