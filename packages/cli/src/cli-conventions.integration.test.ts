// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the completion test drives bash, where ${...} is bash syntax.
/**
 * The conventions users expect of a CLI, on the BUILT `stack`: `--version` / `-v`, `help [command]`, shell
 * completion run in a real bash, NO_COLOR / FORCE_COLOR, and progress on a real pseudo-terminal (util-linux
 * `script`) that reports zero columns, where ora used to loop for ever.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/cli/dist/bin.js");
const ESC = String.fromCharCode(27);
let work: string;

/** The colour and style sequences (SGR: ESC [ ... m) in a text; cursor and line control are not counted. */
const sgrCount = (text: string) =>
  text
    .split(ESC)
    .slice(1)
    .filter((sequence) => /^\[[0-9;]*m/.test(sequence)).length;

const baseEnv = (extra: Record<string, string> = {}) => {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !["NO_COLOR", "FORCE_COLOR", "CI", "GITHUB_ACTIONS", "TERM"].includes(key)) {
      env[key] = value;
    }
  }
  return { ...env, HEXCLAVE_EMULATOR_HOME: join(work, "home"), TERM: "xterm-256color", ...extra };
};

function stack(args: string[], env: Record<string, string> = {}) {
  return execa("node", [bin, ...args], { reject: false, env: baseEnv(env), extendEnv: false, timeout: 120_000 });
}

/**
 * Runs a shell command line on a fresh pty (`script`), which has 0 columns unless the command sets them.
 * `typed` is what the user types on that terminal.
 */
function onPty(commandLine: string, env: Record<string, string> = {}, typed?: string) {
  return execa("script", ["-qfec", commandLine, "/dev/null"], {
    reject: false,
    env: baseEnv(env),
    extendEnv: false,
    // A hang (the bug this guards against) ends as a failure here, not as a stuck test run.
    timeout: 120_000,
    ...(typed === undefined ? { stdin: "ignore" as const } : { input: typed }),
  });
}

beforeAll(async () => {
  if (!existsSync(bin)) await execa("pnpm", ["--filter", "@hexclave/cli", "build"], { cwd: repo });
  work = await mkdtemp(join(tmpdir(), "stack-conventions-"));
}, 300_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("version and help", () => {
  it("--version and -v print the package version", async () => {
    const { version } = JSON.parse(await readFile(join(repo, "packages/cli/package.json"), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-v"]) {
      const result = await stack([flag]);
      expect(result.exitCode, flag).toBe(0);
      expect(result.stdout, flag).toBe(version);
    }
  });

  it("help [command] prints the same text as --help", async () => {
    const pairs: [string[], string[]][] = [
      [["help"], ["--help"]],
      [
        ["help", "emulator"],
        ["emulator", "--help"],
      ],
      [
        ["help", "emulator", "start"],
        ["emulator", "start", "--help"],
      ],
    ];
    for (const [helpArgs, flagArgs] of pairs) {
      const viaHelp = await stack(helpArgs);
      const viaFlag = await stack(flagArgs);
      expect(viaHelp.exitCode, helpArgs.join(" ")).toBe(0);
      expect(viaHelp.stdout).toBe(viaFlag.stdout);
      expect(viaHelp.stdout).toContain(["stack", ...flagArgs.slice(0, -1)].join(" "));
    }
    const root = await stack(["--help"]);
    expect(root.stdout).toMatch(/help\s+Show help/);
    expect(root.stdout).toMatch(/completion\s+Print a shell completion script/);
    const unknown = await stack(["help", "emulator", "launch"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('unknown command "launch" for stack emulator');
  });
});

describe("shell completion", () => {
  /** Sources `stack completion bash` in a bash and returns what completing `line` offers (COMPREPLY). */
  async function complete(line: string): Promise<string[]> {
    const script = join(work, "stack.bash");
    if (!existsSync(script)) {
      const generated = await stack(["completion", "bash"]);
      expect(generated.exitCode).toBe(0);
      await writeFile(script, generated.stdout);
    }
    const program = [
      `source ${JSON.stringify(script)}`,
      'read -r -a COMP_WORDS <<< "$LINE"',
      '[[ "$LINE" == *" " ]] && COMP_WORDS+=("")',
      "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))",
      'COMP_LINE="$LINE"; COMP_POINT=${#LINE}',
      "_stack_completion",
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join("\n");
    const result = await execa("bash", ["--norc", "--noprofile", "-c", program], {
      env: { ...process.env, LINE: line },
      cwd: work,
    });
    return result.stdout.split("\n").filter((word) => word !== "");
  }

  it("bash: `complete -p stack` names the generated function", async () => {
    const generated = await stack(["completion", "bash"]);
    const script = join(work, "registered.bash");
    await writeFile(script, generated.stdout);
    const result = await execa("bash", ["--norc", "--noprofile", "-c", `source ${script} && complete -p stack`]);
    expect(result.stdout).toBe("complete -F _stack_completion stack");
  });

  it("bash: completes subcommands, flags and flag values", async () => {
    expect(await complete("stack ")).toEqual(
      expect.arrayContaining(["emulator", "build-image", "help", "completion", "--help", "--version", "-v"]),
    );
    expect((await complete("stack emulator st")).sort()).toEqual(["start", "status", "stop"]);
    expect(await complete("stack emulator start --")).toEqual(
      expect.arrayContaining(["--arch", "--cpus", "--memory", "--no-snapshot", "--json", "--project-dir", "--help"]),
    );
    expect((await complete("stack emulator start --c")).sort()).toEqual(["--config-file", "--cpus"]);
    expect((await complete("stack emulator start --arch ")).sort()).toEqual(["amd64", "arm64"]);
    expect((await complete("stack emulator start --arch arm64 --js")).sort()).toEqual(["--json"]);
    expect(await complete("stack build-image ")).toEqual(
      expect.arrayContaining(["amd64", "arm64", "both", "--profile"]),
    );
    expect((await complete("stack build-image amd64 --profile s")).sort()).toEqual(["selftest"]);
    expect((await complete("stack completion ")).sort()).toEqual(["--help", "-h", "bash", "fish", "zsh"]);
    expect(await complete("stack emulator logs -")).toEqual(expect.arrayContaining(["--follow", "-f"]));
  });

  it("zsh and fish: scripts for every command, and a usage error for another shell", async () => {
    const zsh = await stack(["completion", "zsh"]);
    expect(zsh.exitCode).toBe(0);
    expect(zsh.stdout.startsWith("#compdef stack\n")).toBe(true);
    expect(zsh.stdout).toContain("compdef _stack stack");
    expect(zsh.stdout).toContain("'emulator start'");
    const fish = await stack(["completion", "fish"]);
    expect(fish.exitCode).toBe(0);
    expect(fish.stdout).toContain("complete -c stack");
    expect(fish.stdout).toMatch(/-l arch -x -a 'amd64 arm64'/);
    const other = await stack(["completion", "tcsh"]);
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toContain("tcsh");
  });
});

describe("colour", () => {
  it("help and status are coloured on a terminal, plain with NO_COLOR=1; NO_COLOR= (empty) counts as unset", async () => {
    const cmd = `stty cols 100; node ${bin} --help`;
    const coloured = await onPty(cmd);
    expect(coloured.exitCode).toBe(0);
    expect(sgrCount(coloured.stdout)).toBeGreaterThan(0);
    const plain = await onPty(cmd, { NO_COLOR: "1" });
    expect(plain.stdout).toContain("USAGE");
    expect(sgrCount(plain.stdout)).toBe(0);
    // no-color.org: an empty NO_COLOR is unset (status is ours; citty renders help and reads NO_COLOR itself).
    const status = `stty cols 100; node ${bin} emulator status`;
    const empty = await onPty(status, { NO_COLOR: "" });
    expect(empty.stdout).toContain("stopped");
    expect(sgrCount(empty.stdout)).toBeGreaterThan(0);
    expect(sgrCount((await onPty(status, { NO_COLOR: "1" })).stdout)).toBe(0);
  });

  it("FORCE_COLOR=1 colours a pipe; NO_COLOR wins over it; FORCE_COLOR=0 turns a terminal's colour off", async () => {
    expect(sgrCount((await stack(["--help"])).stdout)).toBe(0);
    expect(sgrCount((await stack(["--help"], { FORCE_COLOR: "1" })).stdout)).toBeGreaterThan(0);
    expect(sgrCount((await stack(["--help"], { FORCE_COLOR: "1", NO_COLOR: "1" })).stdout)).toBe(0);
    const off = await onPty(`stty cols 100; node ${bin} --help`, { FORCE_COLOR: "0" });
    expect(off.stdout).toContain("USAGE");
    expect(sgrCount(off.stdout)).toBe(0);
  });
});

describe("doctor and status with a bad environment", () => {
  it("doctor reports a bad EMULATOR_* value as a failed check instead of refusing to run", async () => {
    const result = await stack(["emulator", "doctor", "--json"], { EMULATOR_CPUS: "lots", CI: "1" });
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as { checks: { id: string; verdict: string; summary: string }[] };
    const env = report.checks.find((check) => check.id === "env:emulator-cpus");
    expect(env?.verdict).toBe("fail");
    expect(env?.summary).toContain('must be a whole number from 1 to 256, got "lots"');
    expect(report.checks.map((check) => check.id)).toContain("qemu-binary");
  });

  it("status still answers, with a warning on stderr", async () => {
    const result = await stack(["emulator", "status", "--json"], { EMULATOR_RAM_MB: "plenty" });
    expect(result.exitCode).toBe(4);
    expect(JSON.parse(result.stdout)).toMatchObject({ health: "stopped" });
    expect(result.stderr).toContain("warning: environment variable EMULATOR_RAM_MB must be");
  });

  it("doctor says when the first stack on PATH is another program", async () => {
    const fakeBin = join(work, "haskell-bin");
    await mkdir(fakeBin, { recursive: true });
    await writeFile(join(fakeBin, "stack"), "#!/bin/sh\necho 'Version 2.9.3, Git revision (Haskell Stack)'\n", {
      mode: 0o755,
    });
    const result = await stack(["emulator", "doctor", "--json"], { PATH: `${fakeBin}:${process.env.PATH ?? ""}` });
    const report = JSON.parse(result.stdout) as { checks: { id: string; verdict: string; summary: string }[] };
    const onPath = report.checks.find((check) => check.id === "stack-on-path");
    expect(onPath?.verdict).toBe("warn");
    expect(onPath?.summary).toContain(join(fakeBin, "stack"));
  });
});

describe("a reader that goes away", () => {
  it("status into a pipe closed before it writes: its own exit code, no stack trace", async () => {
    const child = stack(["emulator", "status", "--json"]);
    // The read end closes at once; node takes a tenth of a second and more to load before its first write.
    child.stdout?.destroy();
    const result = await child;
    expect(result.stderr).not.toMatch(/EPIPE|Unhandled 'error' event|at .*\.js:\d+/);
    expect(result.exitCode).toBe(4);
  });
});

describe("the yes/no prompt (node:readline/promises) on a real pty", () => {
  it("reset asks, and only y or yes goes ahead", async () => {
    const cmd = `node ${bin} emulator reset`;
    const declined = await onPty(cmd, { HEXCLAVE_EMULATOR_HOME: join(work, "reset-home") }, "n\n");
    expect(declined.stdout).toContain("Wipe all emulator data in");
    expect(declined.stdout).toContain("[y/N]");
    expect(declined.stdout).toContain("Cancelled; nothing was changed.");
    expect(declined.exitCode).toBe(1);
    const accepted = await onPty(cmd, { HEXCLAVE_EMULATOR_HOME: join(work, "reset-home") }, "yes\n");
    expect(accepted.stdout).not.toContain("Cancelled");
    expect(accepted.exitCode).toBe(0);
  });
});

describe("progress on a real pty", () => {
  /**
   * `stack emulator stop` through runCli with the process's own streams (as bin.ts passes them) and a runtime
   * that reports one stage lasting 0.6 s, so the spinner really spins.
   */
  async function stopScript(): Promise<string> {
    const file = join(work, "stop-on-pty.mjs");
    await writeFile(
      file,
      `import { runCli } from ${JSON.stringify(join(repo, "packages/cli/dist/index.js"))};
const runtime = {
  async stop({ onEvent }) {
    onEvent({ type: "stage-start", stage: "save", label: "saving the VM state" });
    await new Promise((resolve) => setTimeout(resolve, 600));
    onEvent({ type: "stage-end", stage: "save", durationMs: 600 });
    return { wasRunning: true, suspended: true, durationMs: 600, method: "suspend" };
  },
  close() {},
};
process.stderr.write("columns=" + process.stderr.columns + " tty=" + process.stderr.isTTY + "\\n");
process.exitCode = await runCli(["emulator", "stop"], {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: process.stdout.isTTY === true && process.stderr.isTTY === true,
  cwd: process.cwd(),
  signal: new AbortController().signal,
}, { loadRuntime: async () => runtime });
`,
    );
    return file;
  }

  it("a terminal with zero columns gets plain lines and the command ends", async () => {
    const script = await stopScript();
    const result = await onPty(`stty cols 0; node ${script}`);
    expect(result.timedOut).toBe(false);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("columns=0 tty=true");
    expect(result.stdout).toMatch(/\d\d:\d\d:\d\d saving the VM state\.\.\./);
    expect(result.stdout).toContain("its state is saved");
  });

  it("a sized terminal gets the spinner, coloured unless NO_COLOR is set", async () => {
    const script = await stopScript();
    const coloured = await onPty(`stty cols 100; node ${script}`);
    expect(coloured.exitCode).toBe(0);
    expect(coloured.stdout).toContain("columns=100 tty=true");
    expect(coloured.stdout).toContain("✔");
    expect(sgrCount(coloured.stdout)).toBeGreaterThan(0);
    const plain = await onPty(`stty cols 100; node ${script}`, { NO_COLOR: "1" });
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toContain("✔");
    expect(sgrCount(plain.stdout)).toBe(0);
  });
});
