/**
 * The supervisor (supervise.sh) run by bash on the host with a one-service profile, a run script that never gets
 * healthy and a health tool that says so: its start deadline, multiplied by HEXCLAVE_START_TIMEOUT_FACTOR, is the
 * one it reports, and a factor outside 1-10 is refused before anything starts. Then a healthy profile: the health
 * monitor's report (HEXCLAVE_HEALTH_REPORT), written at once after the start-up and again after every check.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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

/** The supervisor with profile `t` of `services` and the run scripts in work/run, in its own process group. */
function spawnSupervisor(services: string, env: Record<string, string>) {
  return execa("bash", [supervise], {
    reject: false,
    all: true,
    timeout: 60_000,
    forceKillAfterDelay: 10_000,
    detached: true,
    env: {
      HEXCLAVE_SERVICES_FILE: join(work, services),
      HEXCLAVE_PROFILE: "t",
      HEXCLAVE_RUN_DIR: join(work, "run"),
      HEXCLAVE_STOP_GRACE_SECONDS: "5",
      ...env,
    },
  });
}

/** Runs the supervisor until it has reported its start (or refused), then stops it with SIGTERM as docker stop does. */
async function runSupervisor(factor: string | undefined) {
  const child = spawnSupervisor("services.json", {
    HEXCLAVE_STATE_DIR: join(work, "state"),
    HEXCLAVE_HEALTH_BIN: join(work, "health.sh"),
    HEXCLAVE_MONITOR_INTERVAL_SECONDS: "0",
    ...(factor === undefined ? {} : { HEXCLAVE_START_TIMEOUT_FACTOR: factor }),
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

describe("supervise.sh health report", () => {
  it("writes the monitor's checks to HEXCLAVE_HEALTH_REPORT: epoch, the tool's lines, its exit code; checked at nice 10", async () => {
    const dir = join(work, "report");
    await mkdir(dir);
    const report = join(dir, "programs");
    // A report left by an earlier container is not shown as this one's.
    await writeFile(report, "1\nsleeper ok stale\nexit 0\n");
    const profile = { defaults: { startTimeoutSeconds: 20 }, services: [{ name: "sleeper", stage: 1 }] };
    await writeFile(join(work, "healthy.json"), JSON.stringify({ formatVersion: 1, profiles: { t: profile } }));
    // Healthy at its first two runs (the start-up's wait and the monitor's first check), failing from the third.
    const tool = join(work, "counting-health.sh");
    await writeFile(
      tool,
      `#!/bin/sh\nn=$(( $(cat ${join(work, "runs")} 2>/dev/null || echo 0) + 1 ))\necho $n > ${join(work, "runs")}\n` +
        `if [ $n -le 2 ]; then echo "sleeper ok run $n nice $(nice)"; exit 0; fi\necho "sleeper fail run $n nice $(nice)"; exit 1\n`,
    );
    await chmod(tool, 0o755);
    const began = Math.floor(Date.now() / 1000);
    const child = spawnSupervisor("healthy.json", {
      HEXCLAVE_STATE_DIR: join(work, "state-report"),
      HEXCLAVE_HEALTH_BIN: tool,
      HEXCLAVE_MONITOR_INTERVAL_SECONDS: "1",
      HEXCLAVE_HEALTH_REPORT: report,
    });
    // Its first line comes after it cleared the state: from then on, no report of the earlier container.
    let out = "";
    child.all?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const seen: string[] = [];
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !out.includes("hexclave-supervisor: profile t")) {
        await new Promise((r) => setTimeout(r, 20));
      }
      while (Date.now() < deadline && !seen.some((r) => r.includes("run 3"))) {
        const text = await readFile(report, "utf8").catch(() => "");
        if (text !== "" && text !== seen.at(-1)) seen.push(text);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    }
    const result = await child;
    expect(result.all).toContain("all services healthy");
    expect(seen.some((r) => r.includes("stale"))).toBe(false);
    const [first, last] = [seen[0] ?? "", seen.at(-1) ?? ""];
    // The first report is the monitor's first check, right after the start-up (the tool's second run).
    expect(first).toMatch(/^\d+\nsleeper ok run 2 nice 10\nexit 0\n$/);
    expect(last).toMatch(/^\d+\nsleeper fail run 3 nice 10\nexit 1\n$/);
    for (const r of [first, last]) {
      const epoch = Number(r.split("\n")[0]);
      expect(epoch).toBeGreaterThanOrEqual(began);
      expect(epoch).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    }
    expect(result.all).toContain("sleeper unhealthy: run 3 nice 10");
    expect(await readdir(dir)).toEqual(["programs"]);
  });
});
