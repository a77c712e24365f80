import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureDockerd, pingDocker } from "./ensure-dockerd.js";

describe("ensureDockerd", () => {
  it("finds the running engine and leaves it alone", async () => {
    const result = await ensureDockerd();
    expect(result.started).toBe(false);
    expect(await pingDocker(result.socketPath)).toBe(true);
  });

  it("answers false for a socket nobody serves", async () => {
    expect(await pingDocker(join(mkdtempSync(join(tmpdir(), "hx-dockerd-")), "docker.sock"))).toBe(false);
  });

  it("names a dockerd that cannot be run", async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), "hx-dockerd-")), "docker.sock");
    await expect(ensureDockerd({ socketPath, dockerdBinary: "/nonexistent/dockerd" })).rejects.toThrow(
      /Could not run dockerd/,
    );
  });

  it("reports a dockerd that exits without answering, with its log", async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), "hx-dockerd-")), "docker.sock");
    await expect(ensureDockerd({ socketPath, dockerdBinary: "/bin/false", timeoutMs: 10_000 })).rejects.toThrow(
      /dockerd did not answer on .*docker\.sock/,
    );
  });
});
