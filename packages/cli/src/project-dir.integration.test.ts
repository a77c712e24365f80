/**
 * `stack emulator start` from `/`, from the home directory and from a
 * directory that is no project: refused (exit 2) before anything starts, with
 * a message that says how to share a directory on purpose.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "./cli-io.js";
import { runCli } from "./run-cli.js";

let work: string;
let userHome: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hx-project-dir-"));
  userHome = join(work, "home", "dev");
  await mkdir(join(userHome, ".ssh"), { recursive: true });
  await writeFile(join(userHome, "package.json"), "{}\n"); // a marker does not make the home shareable
  await mkdir(join(work, "plain"), { recursive: true });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function start(cwd: string, extra: string[] = []): Promise<{ exit: number; stderr: string }> {
  let stderr = "";
  const io: CliIo = {
    stdout: { write: () => {} },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
      },
    },
    env: { HEXCLAVE_EMULATOR_HOME: join(work, "emulator-home"), NO_COLOR: "1" },
    isTTY: false,
    cwd,
    signal: new AbortController().signal,
  };
  const exit = await runCli(["emulator", "start", ...extra], io, { userHome });
  return { exit, stderr };
}

describe("stack emulator start refuses to share a directory that is no project by default", () => {
  it.each([
    ["/", "root of the file system"],
    ["HOME", "your home directory"],
    ["HOME_PARENT", "holds your home directory"],
    ["PLAIN", "does not look like a project"],
  ])("from %s", async (where, reason) => {
    const cwd =
      where === "HOME"
        ? userHome
        : where === "HOME_PARENT"
          ? join(work, "home")
          : where === "PLAIN"
            ? join(work, "plain")
            : where;
    const { exit, stderr } = await start(cwd);
    expect(exit).toBe(2);
    expect(stderr).toContain(reason);
    expect(stderr).toContain("--project-dir DIR");
    expect(stderr).not.toContain("Sharing");
  });

  it("shares a directory named with --project-dir (then needs an image), and none with --no-file-bridge", async () => {
    const named = await start(userHome, ["--project-dir", userHome]);
    expect(named.stderr).not.toContain("does not look like a project");
    expect(named.stderr).not.toContain("your home directory (");
    expect(named.stderr).toMatch(/image/i); // past the check: no image is installed in this emulator home
    const off = await start("/", ["--no-file-bridge"]);
    expect(off.stderr).not.toContain("root of the file system");
  });
});
