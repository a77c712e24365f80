import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_RUNTIME_HOST_PORTS, runtimeEnvInputProblem } from "../provisioning/runtime-env.js";
import {
  generateRuntimeSecrets,
  loadOrCreateRuntimeSecrets,
  parseRuntimeSecrets,
  RUNTIME_SECRETS_FILE,
} from "./runtime-secrets.js";

let home: string;
beforeEach(async () => {
  home = join(await mkdtemp(join(tmpdir(), "hexclave-secrets-")), "home");
});
afterEach(async () => {
  await rm(join(home, ".."), { recursive: true, force: true });
});

describe("generateRuntimeSecrets", () => {
  it("makes valid, distinct values each time", () => {
    const a = generateRuntimeSecrets(new Date("2026-12-01T00:00:00Z"));
    const b = generateRuntimeSecrets(new Date("2026-12-01T00:00:00Z"));
    expect(runtimeEnvInputProblem({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets: a })).toBeUndefined();
    expect(a.issuedAt).toBe(1_796_083_200);
    const values = (s: typeof a) => [
      s.serverSecret,
      s.internalPublishableClientKey,
      s.internalSecretServerKey,
      s.internalSuperSecretAdminKey,
      s.cronSecret,
      s.svixJwtSecret,
    ];
    expect(new Set([...values(a), ...values(b)]).size).toBe(12);
  });
});

describe("loadOrCreateRuntimeSecrets", () => {
  it("makes them once (0600, in the home), then returns the same values", async () => {
    const first = await loadOrCreateRuntimeSecrets(home);
    expect(first.created).toBe(true);
    expect(first.path).toBe(join(home, RUNTIME_SECRETS_FILE));
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateRuntimeSecrets(home);
    expect(second).toEqual({ ...first, created: false });
  });

  it("two racing first starts agree on one set", async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateRuntimeSecrets(home)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    for (const r of results) expect(r.secrets).toEqual(results[0]?.secrets);
  });

  it.each([
    ["not JSON", "{", "it is not JSON"],
    ["another format", JSON.stringify({ formatVersion: 2 }), "formatVersion is 2"],
    ["a bad key", "BAD_KEY", "cronSecret is not 64"],
  ])("refuses a damaged file (%s), naming it, and leaves it as it was", async (_, text, message) => {
    await loadOrCreateRuntimeSecrets(home);
    const path = join(home, RUNTIME_SECRETS_FILE);
    const content =
      text === "BAD_KEY" ? JSON.stringify({ ...JSON.parse(await readFile(path, "utf8")), cronSecret: "x" }) : text;
    await writeFile(path, content);
    await expect(loadOrCreateRuntimeSecrets(home)).rejects.toMatchObject({
      code: "RUNTIME_SECRETS_INVALID",
      message: expect.stringContaining(path),
    });
    await expect(loadOrCreateRuntimeSecrets(home)).rejects.toThrow(message);
    expect(await readFile(path, "utf8")).toBe(content);
  });
});

describe("parseRuntimeSecrets", () => {
  it("round-trips what loadOrCreate wrote", async () => {
    const made = await loadOrCreateRuntimeSecrets(home);
    expect(parseRuntimeSecrets(await readFile(made.path, "utf8"))).toEqual(made.secrets);
  });
});
