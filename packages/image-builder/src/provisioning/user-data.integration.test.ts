/**
 * The warm boot's cloud-init documents against the real validators: trixie's
 * `cloud-init schema` (no warnings) and shellcheck for the provisioning script.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cloudInitSchemaCheck } from "#fixtures/cloud-init-gen/cloud-init-schema.js";
import { loadProfile } from "../profiles.js";
import { parseEnvFile } from "./runtime-env.js";
import { BUILD_ENV_GUEST_PATH, RUNTIME_ENV_SCRIPT_PATH, runtimeEnvGuestScript } from "./runtime-env-fwcfg.js";
import { PROVISION_SCRIPT_PATH, provisioningScript, provisioningSeed, SERVICE_UNIT } from "./user-data.js";

const input = async () => ({
  imageTag: "hexclave-emulator-payload:selftest-amd64",
  imageId: `sha256:${"ab".repeat(32)}`,
  services: (await loadProfile("selftest")).services,
  healthTimeoutSeconds: 600,
  instanceId: "hexclave-build-test",
});

describe("provisioning documents", () => {
  it("user-data and network-config pass trixie's cloud-init schema with no warnings", async () => {
    const seed = provisioningSeed(await input());
    const userData = await cloudInitSchemaCheck(seed["user-data"]);
    expect(userData.output).not.toMatch(/warning|deprecat|error/i);
    expect(userData.ok).toBe(true);
    const network = await cloudInitSchemaCheck(seed["network-config"], { schemaType: "network-config" });
    expect(network.ok).toBe(true);
  });

  it("the cloud-base variant (packages installed, partitioned root) passes too", async () => {
    const seed = provisioningSeed({
      ...(await input()),
      rootPartition: 1,
      installPackages: ["docker.io", "docker-cli"],
    });
    const result = await cloudInitSchemaCheck(seed["user-data"]);
    expect(result.output).not.toMatch(/warning|deprecat|error/i);
    expect(result.ok).toBe(true);
    expect(seed["user-data"]).toContain("growpart /dev/vda 1");
  });

  it("the provisioning script passes shellcheck, and user-data carries it byte for byte", async () => {
    const data = await input();
    const script = provisioningScript(data);
    const dir = await mkdtemp(join(tmpdir(), "hexclave-provision-"));
    try {
      await writeFile(join(dir, "provision.sh"), script);
      const r = await execa("shellcheck", ["--shell=bash", join(dir, "provision.sh")], { reject: false });
      expect(r.stdout).toBe("");
      expect(r.exitCode).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const userData = parse(provisioningSeed(data)["user-data"]) as { write_files: { path: string; content: string }[] };
    expect(userData.write_files.find((f) => f.path === PROVISION_SCRIPT_PATH)?.content).toBe(script);
  });

  it("the runtime environment script passes shellcheck; user-data carries it and the build's environment", async () => {
    const script = runtimeEnvGuestScript(SERVICE_UNIT);
    const dir = await mkdtemp(join(tmpdir(), "hexclave-runtime-env-"));
    try {
      await writeFile(join(dir, "runtime-env.sh"), script);
      const r = await execa("shellcheck", ["--shell=bash", join(dir, "runtime-env.sh")], { reject: false });
      expect(r.stdout).toBe("");
      expect(r.exitCode).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    for (const [runBuildMigrations, skip] of [
      [true, "false"],
      [false, "true"],
    ] as const) {
      const userData = parse(provisioningSeed({ ...(await input()), runBuildMigrations })["user-data"]) as {
        write_files: { path: string; content: string; permissions?: string }[];
      };
      expect(userData.write_files.find((f) => f.path === RUNTIME_ENV_SCRIPT_PATH)?.content).toBe(script);
      const env = userData.write_files.find((f) => f.path === BUILD_ENV_GUEST_PATH);
      expect(env?.permissions).toBe("0600");
      expect(parseEnvFile(env?.content ?? "").get("STACK_SKIP_MIGRATIONS")).toBe(skip);
      const unit = userData.write_files.find((f) => f.path.endsWith(`/${SERVICE_UNIT}`))?.content ?? "";
      expect(unit).toContain(`ExecStartPre=${RUNTIME_ENV_SCRIPT_PATH} install`);
      expect(unit).toContain("--env-file /run/hexclave-runtime/runtime.env");
      expect(unit).toContain("RuntimeDirectory=hexclave-health\n");
    }
  });
});
