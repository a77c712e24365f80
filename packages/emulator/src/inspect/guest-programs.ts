/**
 * The supervised programs inside the guest's container, as its own health
 * tool sees them (`hexclave-health`: one line per program of the profile,
 * `<name> ok|fail <detail>`). `status` lists them beside the four forwarded
 * endpoints.
 *
 * The container's supervisor checks them itself, at a low priority, as soon
 * as its start-up ends and then every 15 s, and writes its last answer to
 * {@link HEALTH_REPORT_FILE} (the check's time, the tool's lines, its exit
 * code: {@link parseProgramsFile}), in a guest directory bound into the
 * container. `status` reads that file with one guest-agent file read and
 * starts nothing in the guest: a check costs seconds of CPU under TCG, and
 * the one each stale `status` used to start slowed the services that the next
 * `status` probed. A resumed guest shows its answer from before the suspend
 * until the monitor's next check (within 15 s).
 *
 * An image built before its supervisor wrote the report has no
 * {@link HEALTH_REPORT_DIR}: for it `status` keeps the earlier way, a check
 * started in the guest (detached, one at a time) when the answer in
 * {@link LEGACY_PROGRAMS_FILE} is missing or older than
 * {@link LEGACY_FRESH_SECONDS}, for the next `status`.
 */

import { CONTAINER_NAME, HEALTH_REPORT_DIR, HEALTH_REPORT_FILE } from "@hexclave/image-builder/image";
import { type GuestAgentClient, isGuestAgentErrorAnswer, type VmInstance } from "@hexclave/qemu-core";

export interface GuestProgram {
  readonly name: string;
  readonly healthy: boolean;
  /** What the check saw (`GET :8123/ping -> 200 (want 200)`, `pg_isready ... -> status 0`). */
  readonly detail: string;
  /** When the guest ran the check (ISO 8601, guest clock). */
  readonly checkedAt?: string;
}

/**
 * Seconds each check of `hexclave-health` may take (an image without the report): the tool's own default. The check
 * runs in the background (`status` never waits for it), so a slow answer costs nothing, while a short limit
 * reported healthy programs as failing on a loaded TCG host (3 s: `pg_isready` and the apps' curl timed out at a
 * load of 7 on 2 cores).
 */
const CHECK_TIMEOUT_SECONDS = 10;
/** The container's health tool (docker/supervisor/health.sh, installed as `hexclave-health`), from the guest. */
export const GUEST_HEALTH_COMMAND = [
  "/usr/bin/docker",
  "exec",
  "--env",
  `HEXCLAVE_HEALTH_TIMEOUT_SECONDS=${CHECK_TIMEOUT_SECONDS}`,
  CONTAINER_NAME,
  "hexclave-health",
] as const;

/** An image without the report: the last answer of a check `status` started, in the report's format. */
export const LEGACY_PROGRAMS_FILE = "/run/hexclave-programs";
/** An image without the report: an answer older than this makes `status` start a new check (and show the old one). */
export const LEGACY_FRESH_SECONDS = 15;

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
 * Parses {@link HEALTH_REPORT_FILE} (or {@link LEGACY_PROGRAMS_FILE}); null when it is not one (empty, cut short:
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

/**
 * The guest's shell script of one check for an image without the report (none when the guest has
 * {@link HEALTH_REPORT_DIR}: its supervisor reports): at most one at a time, its answer written temp-then-rename.
 */
export function legacyCheckScript(): string {
  const file = LEGACY_PROGRAMS_FILE;
  const quoted = GUEST_HEALTH_COMMAND.map((a) => `'${a}'`).join(" ");
  const check = `exec 9>${file}.lock; flock -n 9 || exit 0; { date +%s; ${quoted}; echo "exit $?"; } >${file}.tmp 2>/dev/null && mv ${file}.tmp ${file}`;
  // Detached from the guest agent's exec (setsid -f), its output away from the agent's pipes: the exec returns at once.
  return `[ -d ${HEALTH_REPORT_DIR} ] || setsid -f /bin/sh -c '${check.replace(/'/g, `'\\''`)}' </dev/null >/dev/null 2>&1`;
}

async function readText(agent: GuestAgentClient, path: string, signal: AbortSignal | undefined): Promise<string> {
  try {
    return (await agent.readFile(path, { timeoutMs: COMMAND_TIMEOUT_MS, ...(signal ? { signal } : {}) })).toString(
      "utf8",
    );
  } catch (error) {
    // The agent answered with an error (no such file): no text. It did not answer at all: nothing more is asked of it.
    if (isGuestAgentErrorAnswer(error)) return "";
    throw error;
  }
}

/**
 * The programs and their health from the guest's last check, or null when
 * there is none yet (the container is starting, or no guest agent answers).
 * Reads {@link HEALTH_REPORT_FILE}; without one, the legacy way (see above).
 */
export async function readGuestPrograms(
  vm: VmInstance,
  options: { readonly signal?: AbortSignal; readonly now?: () => number } = {},
): Promise<GuestProgram[] | null> {
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    // Pipelined: the sync and the first open go in one exchange (see GuestAgentClient).
    const agent = await vm.guestAgent({ timeoutMs: CONNECT_TIMEOUT_MS, pipelined: true, ...signal });
    try {
      const report = parseProgramsFile(await readText(agent, HEALTH_REPORT_FILE, options.signal));
      if (report !== null) return report.programs;
      const legacy = parseProgramsFile(await readText(agent, LEGACY_PROGRAMS_FILE, options.signal));
      const ageMs = legacy === null ? Number.POSITIVE_INFINITY : (options.now ?? Date.now)() - legacy.checkedAtMs;
      if (ageMs > LEGACY_FRESH_SECONDS * 1000) {
        await agent
          .exec("/bin/sh", ["-c", legacyCheckScript()], { timeoutMs: COMMAND_TIMEOUT_MS, pollMs: 20, ...signal })
          .catch(() => {});
      }
      return legacy?.programs ?? null;
    } finally {
      agent.close();
    }
  } catch {
    return null;
  }
}
