import { describe, expect, it } from "vitest";
import { parseHealthOutput } from "./guest-programs.js";

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
