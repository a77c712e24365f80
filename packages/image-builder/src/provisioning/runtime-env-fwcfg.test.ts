import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BUILD_PLACEHOLDER_SECRETS,
  DEFAULT_RUNTIME_HOST_PORTS,
  parseEnvFile,
  renderRuntimeEnv,
} from "./runtime-env.js";
import {
  formatRuntimeEnvFwCfg,
  RUNTIME_ENV_FW_CFG_FILE,
  RUNTIME_ENV_FW_CFG_LENGTH,
  RUNTIME_ENV_FW_CFG_NAME,
  runtimeEnvFwCfgEntry,
  runtimeEnvGuestScript,
  writeRuntimeEnvFwCfg,
} from "./runtime-env-fwcfg.js";

const secrets = BUILD_PLACEHOLDER_SECRETS;

describe("formatRuntimeEnvFwCfg", () => {
  it.each([
    ["1-digit ports", { dashboard: 1, backend: 2, minio: 3, inbucket: 4 }],
    ["default ports", DEFAULT_RUNTIME_HOST_PORTS],
    ["5-digit ports", { dashboard: 65535, backend: 65534, minio: 65533, inbucket: 65532 }],
  ])("%s: always the fixed length, and parses back to the rendered env", (_, ports) => {
    const payload = formatRuntimeEnvFwCfg({ ports, secrets });
    expect(Buffer.byteLength(payload)).toBe(RUNTIME_ENV_FW_CFG_LENGTH);
    expect([...parseEnvFile(payload)]).toEqual(renderRuntimeEnv({ ports, secrets }));
  });

  it("run mode: a moved port changes the payload, the same port gives the same bytes", () => {
    const a = formatRuntimeEnvFwCfg({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets });
    expect(formatRuntimeEnvFwCfg({ ports: DEFAULT_RUNTIME_HOST_PORTS, secrets })).toBe(a);
    const moved = formatRuntimeEnvFwCfg({ ports: { ...DEFAULT_RUNTIME_HOST_PORTS, backend: 31001 }, secrets });
    expect(moved).not.toBe(a);
    expect(parseEnvFile(moved).get("NEXT_PUBLIC_STACK_API_URL")).toBe("http://localhost:31001");
  });
});

describe("writeRuntimeEnvFwCfg", () => {
  it("writes the payload 0600 at the entry's path, replacing the previous one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hexclave-envfwcfg-"));
    try {
      const instanceDir = join(dir, "run", "vm");
      const { path, sha256 } = await writeRuntimeEnvFwCfg(instanceDir, { ports: DEFAULT_RUNTIME_HOST_PORTS, secrets });
      expect(sha256).toBe(
        createHash("sha256")
          .update(await readFile(path))
          .digest("hex"),
      );
      expect(runtimeEnvFwCfgEntry(instanceDir)).toEqual({ name: RUNTIME_ENV_FW_CFG_NAME, file: path });
      expect(path).toBe(join(instanceDir, RUNTIME_ENV_FW_CFG_FILE));
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const moved = { ...DEFAULT_RUNTIME_HOST_PORTS, dashboard: 31000 };
      const movedWrite = await writeRuntimeEnvFwCfg(instanceDir, { ports: moved, secrets });
      expect(movedWrite.sha256).not.toBe(sha256);
      const text = await readFile(path, "utf8");
      expect(text.length).toBe(RUNTIME_ENV_FW_CFG_LENGTH);
      expect(parseEnvFile(text).get("NEXT_PUBLIC_STACK_DASHBOARD_URL")).toBe("http://localhost:31000");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("writes nothing for bad input", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hexclave-envfwcfg-"));
    try {
      await expect(
        writeRuntimeEnvFwCfg(dir, { ports: { ...DEFAULT_RUNTIME_HOST_PORTS, minio: 0 }, secrets }),
      ).rejects.toMatchObject({ code: "RUNTIME_ENV_INVALID" });
      await expect(stat(join(dir, RUNTIME_ENV_FW_CFG_FILE))).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("runtimeEnvGuestScript", () => {
  it("reads the fw_cfg entry, falls back to the build file, and restarts the unit only on a change", () => {
    const script = runtimeEnvGuestScript("hexclave.service");
    expect(script).toContain(`/sys/firmware/qemu_fw_cfg/by_name/${RUNTIME_ENV_FW_CFG_NAME}/raw`);
    expect(script).toContain("/run/hexclave-runtime/build.env");
    expect(script).toMatch(/cmp -s "\$tmp" "\$DST"; then echo unchanged; exit 0; fi/);
    expect(script).toContain('systemctl restart "$UNIT"');
    expect(script).toContain("UNIT=hexclave.service");
  });
});
