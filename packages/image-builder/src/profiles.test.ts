import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findDockerDir, loadProfile, parseServicesFile } from "./profiles.js";

describe("profiles from docker/services.json", () => {
  it("loads the self-test profile: its build, its checks, the four exposed endpoints", async () => {
    const dockerDir = findDockerDir();
    const profile = await loadProfile("selftest", dockerDir);
    expect(profile.context).toBe(dockerDir);
    expect(profile.dockerfile).toBe("selftest/Dockerfile");
    expect(profile.needsRegistry).toBe(false);
    expect(profile.exposed.map((e) => [e.service, e.guestPort, e.hostPort, e.health.path])).toEqual([
      ["dashboard", 8101, 26700, "/handler/sign-in"],
      ["backend", 8102, 26701, "/health?db=1"],
      ["minio", 9090, 26702, "/minio/health/live"],
      ["inbucket", 9001, 26703, "/"],
    ]);
    expect(profile.services.map((s) => s.health.kind)).toContain("exec");
    const hexclave = await loadProfile("hexclave", dockerDir);
    expect(hexclave.needsRegistry).toBe(true);
    expect(hexclave.services.length).toBeGreaterThan(profile.services.length);
  });

  it("reports every problem of a broken file with its path", async () => {
    const text = await readFile(join(findDockerDir(), "services.json"), "utf8");
    const data = JSON.parse(text);
    data.exposed[0].guestPort = 70000;
    data.profiles.selftest.services[0].health = { kind: "tcp" };
    try {
      parseServicesFile(JSON.stringify(data), "selftest", "/docker");
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: "SERVICES_FILE_INVALID" });
      expect((error as { details: { problems: string[] } }).details.problems).toEqual([
        "exposed[0].guestPort: must be a port number",
        'profiles.selftest.services[0].health.kind: must be "http" or "exec"',
      ]);
    }
    expect(() => parseServicesFile(text, "nope" as "selftest", "/docker")).toThrow(/profiles.nope: missing/);
  });
});
