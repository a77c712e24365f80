/**
 * The identity of a live process: its pid plus its start time and command
 * line. A pid alone can be reused by an unrelated process; pid + start time
 * cannot. Nothing in qemu-core signals a pid whose identity it has not checked.
 *
 * Linux reads `/proc/<pid>/stat` (field 22, start time in clock ticks since
 * boot) and `/proc/<pid>/cmdline`; macOS asks `ps -o lstart=,command=`.
 */
import { readFile } from "node:fs/promises";
import { type CommandRunner, execaRunner } from "./command-runner.js";

export interface ProcessIdentity {
  readonly pid: number;
  /** Opaque start-time token: Linux clock ticks since boot, macOS `lstart` text. */
  readonly startTime: string;
  /** The command line (argv). On macOS a single string, split on spaces. */
  readonly cmdline: readonly string[];
}

export interface ProcessIdentityOptions {
  /** Used on macOS for `ps`. */
  readonly runner?: CommandRunner;
  readonly platform?: NodeJS.Platform;
}

/**
 * Reads the identity of a live process, or `undefined` when no such process
 * runs (a zombie counts as gone).
 */
export async function readProcessIdentity(
  pid: number,
  options: ProcessIdentityOptions = {},
): Promise<ProcessIdentity | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const platform = options.platform ?? process.platform;
  if (platform === "linux") return readLinuxIdentity(pid);
  const runner = options.runner ?? execaRunner;
  const result = await runner("ps", ["-o", "stat=,lstart=,command=", "-p", String(pid)]);
  if (result.exitCode !== 0) return undefined;
  const line = result.stdout.trim();
  // "Ss   Mon Jan  1 10:00:00 2025     /usr/bin/qemu-system-aarch64 -name ..."
  const m = /^(\S+)\s+(\w{3}\s+\w{3}\s+\d+\s+[\d:]+\s+\d{4})\s+(.*)$/.exec(line);
  if (!m) return undefined;
  if (m[1]?.startsWith("Z")) return undefined;
  return { pid, startTime: (m[2] ?? "").replace(/\s+/g, " "), cmdline: (m[3] ?? "").split(/\s+/) };
}

/** Parses the text of `/proc/<pid>/stat` into `[state, starttime]`. Pure. */
export function parseProcStat(text: string): { state: string; startTime: string } | undefined {
  // comm (field 2) may contain spaces and parentheses: split after the LAST ')'.
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return undefined;
  return { state, startTime };
}

async function readLinuxIdentity(pid: number): Promise<ProcessIdentity | undefined> {
  let stat: string;
  let cmdline: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
    cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
  const parsed = parseProcStat(stat);
  if (!parsed || parsed.state === "Z" || parsed.state === "X") return undefined;
  const argv = cmdline.split("\0");
  if (argv[argv.length - 1] === "") argv.pop();
  return { pid, startTime: parsed.startTime, cmdline: argv };
}

/**
 * True when `pid` is alive and is the very process `recorded` describes
 * (same start time and command line).
 */
export async function isSameProcess(
  recorded: ProcessIdentity,
  pid: number = recorded.pid,
  options: ProcessIdentityOptions = {},
): Promise<boolean> {
  if (pid !== recorded.pid) return false;
  const now = await readProcessIdentity(pid, options);
  if (!now) return false;
  return now.startTime === recorded.startTime && now.cmdline.join("\0") === recorded.cmdline.join("\0");
}

/** True when a process with this pid exists (any owner), zombies excluded on Linux. */
export async function isProcessAlive(pid: number, options: ProcessIdentityOptions = {}): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return (await readProcessIdentity(pid, options)) !== undefined;
}
