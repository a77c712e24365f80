/**
 * The supervisor (supervise.sh) run by bash on the host with a one-service profile, a run script that never gets
 * healthy and a health tool that says so: its start deadline, multiplied by HEXCLAVE_START_TIMEOUT_FACTOR, is the
 * one it reports, and a factor outside 1-10 is refused before anything starts.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const supervise = join(dirname(fileURLToPath(import.meta.url)), "supervise.sh");
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hexclave-supervise-"));
  await mkdir(join(work, "run"));
  const profile = { defaults: { startTimeoutSeconds: 1 }, services: [{ name: "sleeper", stage: 1 }] };
  await writeFile(join(work, "services.json"), JSON.stringify({ formatVersion: 1, profiles: { t: profile } }));
  await writeFile(join(work, "run/sleeper.sh"), "#!/bin/sh\nexec sleep 600\n");
  await writeFile(join(work, "health.sh"), '#!/bin/sh\necho "sleeper fail never healthy"\nexit 1\n');
  await chmod(join(work, "run/sleeper.sh"), 0o755);
  await chmod(join(work, "health.sh"), 0o755);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs the supervisor until it has reported its start (or refused), then stops it with SIGTERM as docker stop does. */
async function runSupervisor(factor: string | undefined) {
  const child = execa("bash", [supervise], {
    reject: false,
    all: true,
    timeout: 60_000,
    forceKillAfterDelay: 10_000,
    detached: true,
    env: {
      HEXCLAVE_SERVICES_FILE: join(work, "services.json"),
      HEXCLAVE_PROFILE: "t",
      HEXCLAVE_RUN_DIR: join(work, "run"),
      HEXCLAVE_STATE_DIR: join(work, "state"),
      HEXCLAVE_HEALTH_BIN: join(work, "health.sh"),
      HEXCLAVE_MONITOR_INTERVAL_SECONDS: "0",
      HEXCLAVE_STOP_GRACE_SECONDS: "5",
      ...(factor === undefined ? {} : { HEXCLAVE_START_TIMEOUT_FACTOR: factor }),
    },
  });
  // The line can arrive split across chunks: look at everything read so far, and signal once.
  let seen = "";
  let signalled = false;
  child.all?.on("data", (chunk: Buffer) => {
    seen += chunk.toString();
    if (!signalled && seen.includes("started with unhealthy services")) {
      signalled = true;
      // To its whole process group, as `docker stop` reaches the container's processes: a service left running would
      // hold the output pipe open after the supervisor exits.
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    }
  });
  return await child;
}

describe("supervise.sh start deadlines", () => {
  it.each([
    [undefined, 1],
    ["1", 1],
    ["3", 3],
  ])("HEXCLAVE_START_TIMEOUT_FACTOR=%s: the 1 s deadline is %i s", async (factor, seconds) => {
    const result = await runSupervisor(factor);
    expect(result.all).toContain(`service sleeper did not become healthy within ${seconds}s`);
    expect(result.all).toContain("all services stopped");
  });

  it.each(["0", "11", "2.5", "three"])(
    "refuses HEXCLAVE_START_TIMEOUT_FACTOR=%s before starting anything",
    async (factor) => {
      const result = await runSupervisor(factor);
      expect(result.exitCode).toBe(1);
      expect(result.all).toContain(
        `FATAL: HEXCLAVE_START_TIMEOUT_FACTOR must be a whole number from 1 to 10, got '${factor}'`,
      );
      expect(result.all).not.toContain("starting sleeper");
    },
  );
});
