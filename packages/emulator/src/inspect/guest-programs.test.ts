import { describe, expect, it } from "vitest";
import {
  GUEST_HEALTH_COMMAND,
  PROGRAMS_FILE,
  parseHealthOutput,
  parseProgramsFile,
  refreshScript,
} from "./guest-programs.js";

describe("parseHealthOutput", () => {
  it.each([
    ["", []],
    [
      "postgres ok pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -> status 0\n",
      [{ name: "postgres", healthy: true, detail: "pg_isready -q -h 127.0.0.1 -p 5432 -U postgres -> status 0" }],
    ],
    [
      "clickhouse fail GET :8123/ping -> no answer (want 200)\nminio ok GET :9090/minio/health/live -> 200 (want 200)",
      [
        { name: "clickhouse", healthy: false, detail: "GET :8123/ping -> no answer (want 200)" },
        { name: "minio", healthy: true, detail: "GET :9090/minio/health/live -> 200 (want 200)" },
      ],
    ],
    ["cron-jobs ok", [{ name: "cron-jobs", healthy: true, detail: "" }]],
    ["hexclave-health: cannot read /etc/hexclave/services.json\nError response from daemon", []],
  ])("%j", (text, expected) => {
    expect(parseHealthOutput(text)).toEqual(expected);
  });
});

describe("parseProgramsFile", () => {
  const at = "2026-12-01T23:00:00.000Z";
  const epoch = Date.parse(at) / 1000;
  it.each([
    ["", null],
    [`${epoch}\n`, null],
    [`${epoch}\npostgres ok pg_isready -> status 0\n`, null],
    ["nonsense\nexit 0\n", null],
    [
      `${epoch}\npostgres ok pg_isready -> status 0\nredis fail tcp :6379\nexit 1\n`,
      {
        checkedAtMs: epoch * 1000,
        programs: [
          { name: "postgres", healthy: true, detail: "pg_isready -> status 0", checkedAt: at },
          { name: "redis", healthy: false, detail: "tcp :6379", checkedAt: at },
        ],
      },
    ],
    [
      `${epoch}\nhexclave-health: cannot read /etc/hexclave/services.json\nexit 2\n`,
      { checkedAtMs: epoch * 1000, programs: null },
    ],
    [`${epoch}\nexit 0\n`, { checkedAtMs: epoch * 1000, programs: null }],
  ])("%j", (text, expected) => {
    expect(parseProgramsFile(text)).toEqual(expected);
  });
});

describe("refreshScript", () => {
  const script = refreshScript();
  it("detaches from the agent's exec, runs one check at a time, writes the answer temp-then-rename", () => {
    expect(script).toMatch(/^setsid -f \/bin\/sh -c '.*' <\/dev\/null >\/dev\/null 2>&1$/);
    expect(script).toContain(`flock -n 9 || exit 0`);
    expect(script).toContain(`>${PROGRAMS_FILE}.tmp 2>/dev/null && mv ${PROGRAMS_FILE}.tmp ${PROGRAMS_FILE}`);
    expect(script).toContain(GUEST_HEALTH_COMMAND.map((a) => `'\\''${a}'\\''`).join(" "));
  });
});
