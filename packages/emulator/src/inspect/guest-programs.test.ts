import { HEALTH_REPORT_FILE } from "@hexclave/image-builder/image";
import { qemuErrors, type VmInstance } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import {
  GUEST_HEALTH_COMMAND,
  LEGACY_PROGRAMS_FILE,
  legacyCheckScript,
  parseHealthOutput,
  parseProgramsFile,
  readGuestPrograms,
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

describe("legacyCheckScript", () => {
  const script = legacyCheckScript();
  it("runs only in a guest without the supervisor's report directory", () => {
    expect(script.startsWith("[ -d /run/hexclave-health ] || setsid -f ")).toBe(true);
  });
  it("detaches from the agent's exec, runs one check at a time, writes the answer temp-then-rename", () => {
    expect(script).toMatch(/ \|\| setsid -f \/bin\/sh -c '.*' <\/dev\/null >\/dev\/null 2>&1$/);
    expect(script).toContain(`flock -n 9 || exit 0`);
    expect(script).toContain(
      `>${LEGACY_PROGRAMS_FILE}.tmp 2>/dev/null && mv ${LEGACY_PROGRAMS_FILE}.tmp ${LEGACY_PROGRAMS_FILE}`,
    );
    expect(script).toContain(GUEST_HEALTH_COMMAND.map((a) => `'\\''${a}'\\''`).join(" "));
  });
});

describe("readGuestPrograms", () => {
  const now = Date.parse("2026-12-01T23:00:30.000Z");
  const epoch = (secondsAgo: number) => Math.floor(now / 1000) - secondsAgo;
  const answer = (secondsAgo: number, line: string) => `${epoch(secondsAgo)}\n${line}\nexit 0\n`;

  /** A guest whose agent holds `files` (path -> text) and records every exec. */
  function guest(files: Record<string, string>) {
    const execs: string[][] = [];
    const agent = {
      readFile: async (path: string) => {
        const text = files[path];
        // As GuestAgentClient reports an error answer of the agent.
        if (text === undefined) {
          throw qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent guest-file-open failed: No such file`, {
            details: { command: "guest-file-open", errorClass: "GenericError", desc: "No such file" },
          });
        }
        return Buffer.from(text);
      },
      exec: async (path: string, args: string[]) => {
        execs.push([path, ...args]);
        return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
      },
      close: () => {},
    };
    const vm = { guestAgent: async () => agent } as unknown as VmInstance;
    return { vm, execs };
  }

  it.each([
    [
      "the supervisor's report, however old: read, nothing started",
      { [HEALTH_REPORT_FILE]: answer(3600, "redis ok pong") },
      "redis",
      0,
    ],
    [
      "a fresh report beside an old legacy answer: the report",
      { [HEALTH_REPORT_FILE]: answer(2, "redis ok pong"), [LEGACY_PROGRAMS_FILE]: answer(1, "postgres ok x") },
      "redis",
      0,
    ],
    [
      "no report, a fresh legacy answer: it, nothing started",
      { [LEGACY_PROGRAMS_FILE]: answer(5, "postgres ok x") },
      "postgres",
      0,
    ],
    [
      "no report, a stale legacy answer: it, and a check started",
      { [LEGACY_PROGRAMS_FILE]: answer(60, "postgres ok x") },
      "postgres",
      1,
    ],
    ["nothing yet: null, and the guarded check started", {}, null, 1],
  ] as const)("%s", async (_, files, first, starts) => {
    const { vm, execs } = guest(files);
    const programs = await readGuestPrograms(vm, { now: () => now });
    expect(programs?.[0]?.name ?? null).toBe(first);
    expect(execs).toHaveLength(starts);
    for (const e of execs) expect(e).toEqual(["/bin/sh", "-c", legacyCheckScript()]);
  });

  it("null, and nothing more asked, when the agent takes the connection but does not answer the first read", async () => {
    const asked: string[] = [];
    const agent = {
      readFile: async (path: string) => {
        asked.push(path);
        throw qemuErrors.create(
          "GUEST_AGENT_FAILED",
          "Guest agent did not answer guest-sync-delimited within 3000 ms",
          {
            details: { command: "guest-sync-delimited", timeoutMs: 3000 },
          },
        );
      },
      exec: async () => {
        throw new Error("not expected");
      },
      close: () => {},
    };
    const vm = { guestAgent: async () => agent } as unknown as VmInstance;
    expect(await readGuestPrograms(vm)).toBeNull();
    expect(asked).toEqual([HEALTH_REPORT_FILE]);
  });

  it("null when no guest agent answers", async () => {
    const vm = {
      guestAgent: async () => {
        throw new Error("no agent");
      },
    } as unknown as VmInstance;
    expect(await readGuestPrograms(vm)).toBeNull();
  });
});
