/**
 * The supervised programs inside the guest's container, as its own health
 * tool sees them (`docker exec hexclave hexclave-health`: one line per
 * program of the profile, `<name> ok|fail <detail>`). `status` lists them
 * beside the four forwarded endpoints.
 *
 * The check itself takes seconds under TCG (a `docker exec` and a dozen
 * probes), too long for `status`. So the guest keeps the last answer in a
 * small file on its /run ({@link PROGRAMS_FILE}: the check's time, the tool's
 * lines, its exit code), and `status` reads that file with one guest-agent
 * file read. When the answer is missing or older than
 * {@link PROGRAMS_FRESH_SECONDS}, `status` also starts a new check in the
 * guest, detached (it returns at once; one check at a time, by `flock`), for
 * the next `status`. A start starts one as soon as it is healthy
 * ({@link refreshGuestPrograms}). A suspended guest keeps its file (RAM); a
 * cold boot starts without one.
 */

import { CONTAINER_NAME } from "@hexclave/image-builder/image";
import type { GuestAgentClient, VmInstance } from "@hexclave/qemu-core";

export interface GuestProgram {
  readonly name: string;
  readonly healthy: boolean;
  /** What the check saw (`GET :8123/ping -> 200 (want 200)`, `pg_isready ... -> status 0`). */
  readonly detail: string;
  /** When the guest ran the check (ISO 8601, guest clock). */
  readonly checkedAt?: string;
}

/**
 * Seconds each check of `hexclave-health` may take: the tool's own default. The check runs in the background
 * (`status` never waits for it), so a slow answer costs nothing, while a short limit reported healthy programs
 * as failing on a loaded TCG host (3 s: `pg_isready` and the apps' curl timed out at a load of 7 on 2 cores).
 */
const CHECK_TIMEOUT_SECONDS = 10;
/** The container's health tool (docker/supervisor/health.sh, installed as `hexclave-health`). */
export const GUEST_HEALTH_COMMAND = [
  "/usr/bin/docker",
  "exec",
  "--env",
  `HEXCLAVE_HEALTH_TIMEOUT_SECONDS=${CHECK_TIMEOUT_SECONDS}`,
  CONTAINER_NAME,
  "hexclave-health",
] as const;

/** The last answer of the health tool in the guest: `<epoch seconds>`, the tool's lines, `exit <code>`. */
export const PROGRAMS_FILE = "/run/hexclave-programs";
/** An answer older than this makes `status` start a new check (and still show the old one). */
export const PROGRAMS_FRESH_SECONDS = 15;

const CONNECT_TIMEOUT_MS = 2_000;
/** One guest-agent command (a file read, the detached start of a check). */
const COMMAND_TIMEOUT_MS = 2_000;

/** Parses `hexclave-health` output; lines of another shape are skipped. Pure. */
export function parseHealthOutput(text: string): GuestProgram[] {
  const programs: GuestProgram[] = [];
  for (const line of text.split("\n")) {
    const match = /^(\S+) (ok|fail)(?: (.*))?$/.exec(line.trimEnd());
    if (match === null) continue;
    programs.push({ name: match[1] as string, healthy: match[2] === "ok", detail: match[3] ?? "" });
  }
  return programs;
}

export interface ProgramsFile {
  /** When the check ran (ms since the epoch, guest clock). */
  readonly checkedAtMs: number;
  /** null when the tool could not answer (exit 2 or worse, no lines: no container, a usage error). */
  readonly programs: GuestProgram[] | null;
}

/**
 * Parses {@link PROGRAMS_FILE}; null when it is not one (empty, cut short:
 * no `exit` line). `hexclave-health` exits 1 when a program is unhealthy:
 * that is an answer. Pure.
 */
export function parseProgramsFile(text: string): ProgramsFile | null {
  const lines = text.split("\n");
  const epoch = Number((lines[0] ?? "").trim());
  const exit = /^exit (\d+)$/m.exec(text);
  if (!Number.isSafeInteger(epoch) || epoch <= 0 || exit === null) return null;
  const checkedAtMs = epoch * 1000;
  const code = Number(exit[1]);
  const parsed = parseHealthOutput(lines.slice(1).join("\n"));
  const checkedAt = new Date(checkedAtMs).toISOString();
  return {
    checkedAtMs,
    programs: (code === 0 || code === 1) && parsed.length > 0 ? parsed.map((p) => ({ ...p, checkedAt })) : null,
  };
}

/** The guest's shell script of one check: at most one at a time, its answer written temp-then-rename. */
export function refreshScript(): string {
  const quoted = GUEST_HEALTH_COMMAND.map((a) => `'${a}'`).join(" ");
  const check = `exec 9>${PROGRAMS_FILE}.lock; flock -n 9 || exit 0; { date +%s; ${quoted}; echo "exit $?"; } >${PROGRAMS_FILE}.tmp 2>/dev/null && mv ${PROGRAMS_FILE}.tmp ${PROGRAMS_FILE}`;
  // Detached from the guest agent's exec (setsid -f), its output away from the agent's pipes: the exec returns at once.
  return `setsid -f /bin/sh -c '${check.replace(/'/g, `'\\''`)}' </dev/null >/dev/null 2>&1`;
}

async function startCheck(agent: GuestAgentClient, signal: AbortSignal | undefined): Promise<void> {
  await agent.exec("/bin/sh", ["-c", refreshScript()], {
    timeoutMs: COMMAND_TIMEOUT_MS,
    pollMs: 20,
    ...(signal ? { signal } : {}),
  });
}

/** Starts a check in the guest for the next `status` (detached); false when the guest agent did not take it. */
export async function refreshGuestPrograms(vm: VmInstance, options: { readonly signal?: AbortSignal } = {}) {
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    const agent = await vm.guestAgent({ timeoutMs: CONNECT_TIMEOUT_MS, ...signal });
    try {
      await startCheck(agent, options.signal);
      return true;
    } finally {
      agent.close();
    }
  } catch {
    return false;
  }
}

/**
 * The programs and their health from the guest's last check, or null when
 * there is none yet (or no guest agent answers). Starts a new check when the
 * last one is missing or older than {@link PROGRAMS_FRESH_SECONDS}.
 */
export async function readGuestPrograms(
  vm: VmInstance,
  options: { readonly signal?: AbortSignal; readonly now?: () => number } = {},
): Promise<GuestProgram[] | null> {
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    const agent = await vm.guestAgent({ timeoutMs: CONNECT_TIMEOUT_MS, ...signal });
    try {
      const text = await agent
        .readFile(PROGRAMS_FILE, { timeoutMs: COMMAND_TIMEOUT_MS, ...signal })
        .then((b) => b.toString("utf8"))
        .catch(() => "");
      const file = parseProgramsFile(text);
      const ageMs = file === null ? Number.POSITIVE_INFINITY : (options.now ?? Date.now)() - file.checkedAtMs;
      if (ageMs > PROGRAMS_FRESH_SECONDS * 1000) await startCheck(agent, options.signal).catch(() => {});
      return file?.programs ?? null;
    } finally {
      agent.close();
    }
  } catch {
    return null;
  }
}
