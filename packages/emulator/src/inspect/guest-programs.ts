/**
 * The supervised programs inside the guest's container, as its own health
 * tool sees them (`docker exec hexclave hexclave-health`: one line per
 * program of the profile, `<name> ok|fail <detail>`), read through the guest
 * agent. `status` lists them beside the four forwarded endpoints.
 */

import { CONTAINER_NAME } from "@hexclave/image-builder/image";
import type { VmInstance } from "@hexclave/qemu-core";

export interface GuestProgram {
  readonly name: string;
  readonly healthy: boolean;
  /** What the check saw (`GET :8123/ping -> 200 (want 200)`, `pg_isready ... -> status 0`). */
  readonly detail: string;
}

/** Seconds each check of `hexclave-health` may take when `status` asks (the tool's own default is 10). */
const CHECK_TIMEOUT_SECONDS = 3;
/** The container's health tool (docker/supervisor/health.sh, installed as `hexclave-health`). */
export const GUEST_HEALTH_COMMAND = [
  "/usr/bin/docker",
  "exec",
  "--env",
  `HEXCLAVE_HEALTH_TIMEOUT_SECONDS=${CHECK_TIMEOUT_SECONDS}`,
  CONTAINER_NAME,
  "hexclave-health",
] as const;

const CONNECT_TIMEOUT_MS = 3_000;
/** 13 checks of up to 3 s each in the worst case, plus `docker exec` under TCG. */
const EXEC_TIMEOUT_MS = 45_000;

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

/**
 * The programs and their health, or null when they cannot be read (no guest
 * agent answer, no container, a tool that exits 2 for a usage error).
 * `hexclave-health` exits 1 when a program is unhealthy: that is an answer.
 */
export async function readGuestPrograms(
  vm: VmInstance,
  options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<GuestProgram[] | null> {
  const signal = options.signal ? { signal: options.signal } : {};
  try {
    // A guest without an agent answers no sync: give up on it quickly, then give the checks their time.
    const agent = await vm.guestAgent({ timeoutMs: CONNECT_TIMEOUT_MS, ...signal });
    try {
      const [path, ...args] = GUEST_HEALTH_COMMAND;
      const r = await agent.exec(path, args, { timeoutMs: options.timeoutMs ?? EXEC_TIMEOUT_MS, ...signal });
      if (r.exitCode !== 0 && r.exitCode !== 1) return null;
      const programs = parseHealthOutput(r.stdout);
      return programs.length > 0 ? programs : null;
    } finally {
      agent.close();
    }
  } catch {
    return null;
  }
}
