/**
 * Runs the BUILT `stack` binary as a user would: a child process with real
 * arguments, real exit codes and real output, on this machine.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { imagePaths } from "@hexclave/emulator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import doctorSchema from "../schemas/doctor.schema.json" with { type: "json" };
import type { DoctorReport } from "./doctor/doctor-report.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/cli/dist/bin.js");
let home: string;

const ajv = new Ajv2020.default({ allErrors: true, strict: true });
addFormats.default(ajv);
const validateDoctor = ajv.compile(doctorSchema);

function stack(args: string[], env: Record<string, string> = {}) {
  return execa("node", [bin, ...args], {
    reject: false,
    env: { HEXCLAVE_EMULATOR_HOME: home, CI: "1", NO_COLOR: "1", ...env },
    extendEnv: true,
    timeout: 90_000,
  });
}

beforeAll(async () => {
  if (!existsSync(bin)) await execa("pnpm", ["--filter", "@hexclave/cli", "build"], { cwd: repo });
  home = await mkdtemp(join(tmpdir(), "stack-cli-"));
}, 300_000);

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("usage errors: exit 2, one clear message, no stack trace", () => {
  const cases: [string[], Record<string, string>, string, string][] = [
    [["emulator", "frobnicate"], {}, 'unknown command "frobnicate"', "stack emulator --help"],
    [["launch"], {}, 'unknown command "launch"', "stack --help"],
    [["emulator", "start", "--turbo"], {}, "unknown option --turbo", "stack emulator start --help"],
    [["emulator", "status", "--jsn"], {}, "unknown option --jsn", "stack emulator status --help"],
    [
      ["emulator", "start", "--cpus", "0"],
      {},
      '--cpus must be a whole number from 1 to 256, got "0"',
      "stack emulator start --help",
    ],
    [
      ["emulator", "start", "--memory", "lots"],
      {},
      "--memory must be a whole number from 256",
      "stack emulator start --help",
    ],
    [["emulator", "start", "--cpus"], {}, "option --cpus needs a value", "stack emulator start --help"],
    [
      ["emulator", "start"],
      { EMULATOR_RAM_MB: "plenty" },
      "environment variable EMULATOR_RAM_MB",
      "stack emulator start --help",
    ],
    [
      ["emulator", "stop"],
      { EMULATOR_BACKEND_PORT: "0" },
      "environment variable EMULATOR_BACKEND_PORT",
      "stack emulator stop --help",
    ],
    [["emulator", "reset"], {}, "not on a terminal, so pass --yes", "stack emulator reset --help"],
    [
      ["emulator", "logs", "--serial", "--services"],
      {},
      "choose one of --serial and --services",
      "stack emulator logs --help",
    ],
    [
      ["emulator", "pull", "--channel", "nightly"],
      {},
      "--channel must be one of main, dev",
      "stack emulator pull --help",
    ],
    [["build-image", "riscv64"], {}, "ARCH must be one of amd64, arm64, both", "stack build-image --help"],
    [
      ["build-image", "amd64", "--profile", "fast"],
      {},
      "--profile must be one of hexclave, selftest",
      "stack build-image --help",
    ],
  ];
  it.each(cases)("stack %j", async (args, env, problem, help) => {
    const result = await stack(args, env);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(problem);
    expect(lines[1]).toBe(`Run '${help}' for usage.`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("with --json, stdout holds one error document", async () => {
    const result = await stack(["emulator", "status", "--json", "--bogus"]);
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      error: {
        code: "USAGE",
        message: "unknown option --bogus.",
        hint: "Run 'stack emulator status --help' for usage.",
      },
    });
  });
});

describe("--help on every command", () => {
  const commands = [
    [],
    ["emulator"],
    ["emulator", "start"],
    ["emulator", "stop"],
    ["emulator", "reset"],
    ["emulator", "status"],
    ["emulator", "bench"],
    ["emulator", "pull"],
    ["emulator", "logs"],
    ["emulator", "doctor"],
    ["build-image"],
  ];
  it.each(commands)("stack %s --help", async (...path) => {
    const result = await stack([...path, "--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`USAGE stack${path.length > 0 ? ` ${path.join(" ")}` : ""}`);
    expect(result.stdout).toContain("EXAMPLES");
    expect(result.stdout).not.toContain("\u001b[");
  });

  it("documents status's exit codes", async () => {
    const result = await stack(["emulator", "status", "-h"]);
    expect(result.stdout).toMatch(/0\s+running and healthy/);
    expect(result.stdout).toMatch(/3\s+degraded/);
    expect(result.stdout).toMatch(/4\s+stopped/);
    expect(result.stdout).toMatch(/1\s+crashed/);
  });
});

describe("stack emulator start without an image", () => {
  it("says how to get one and exits 1", async () => {
    const result = await stack(["emulator", "start", "--cpus", "2"]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      `error IMAGE_NOT_INSTALLED: No amd64 emulator image at ${imagePaths(home, "amd64").image}`,
    );
    expect(result.stderr).toContain("stack emulator pull --arch amd64");
    expect(result.stderr).toContain("stack build-image amd64");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("stack emulator doctor on this machine", () => {
  let held: Server;
  const heldPort = 36_701;
  const env = () => ({ EMULATOR_BACKEND_PORT: String(heldPort) });

  beforeAll(async () => {
    held = createServer();
    await new Promise<void>((resolve) => held.listen(heldPort, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => held.close(resolve));
  });

  it("--json prints only a document valid against doctor.schema.json: TCG in use, KVM unusable with its reason, our port held by us", async () => {
    const result = await stack(["emulator", "doctor", "--json"], env());
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(validateDoctor(report), JSON.stringify(validateDoctor.errors)).toBe(true);
    expect(result.stdout.trim().startsWith("{")).toBe(true);

    const byId = new Map(report.checks.map((c) => [c.id, c]));
    const accel = byId.get("accelerator")!;
    expect(accel.details.accel).toBe("tcg");
    expect(accel.summary).toMatch(/^TCG in use/);
    expect(accel.summary).toMatch(/kvm/i);
    expect(accel.fix).not.toBeNull();
    const kvm = byId.get("kvm-device")!;
    expect(kvm.verdict).not.toBe("ok");
    expect(kvm.summary).toMatch(/KVM unusable: .+/);

    const port = byId.get("port:backend")!;
    expect(port.verdict).toBe("fail");
    expect(port.details.pid).toBe(process.pid);
    expect(port.summary).toContain(`held by pid ${process.pid}`);
    expect(port.fix).toContain("EMULATOR_BACKEND_PORT");

    expect(byId.get("qemu-binary")!.verdict).toBe("ok");
    expect(byId.get("firmware")!.verdict).toBe("ok");
    expect(byId.get("image")!.verdict).toBe("warn");
    expect(report.verdict).toBe("fail");
    expect(result.exitCode).toBe(1);
  });

  it("text: a verdict and a fix per problem", async () => {
    const result = await stack(["emulator", "doctor"], env());
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/warn Accelerator: TCG in use .*kvm/i);
    expect(result.stdout).toMatch(/KVM unusable/);
    expect(result.stdout).toContain(
      `FAIL Port ${heldPort} (backend): 127.0.0.1:${heldPort} is held by pid ${process.pid}`,
    );
    expect(result.stdout).toContain("fix: ");
  });

  it("with every port free and no image: no failure, exit 0", async () => {
    const result = await stack(["emulator", "doctor"], { EMULATOR_BACKEND_PORT: "36711" });
    expect(result.stdout).toContain("No blocking problem");
    expect(result.exitCode).toBe(0);
  });

  it("a corrupt image (sha256 mismatch with its manifest) fails with a clear fix", async () => {
    const corruptHome = await mkdtemp(join(tmpdir(), "stack-cli-corrupt-"));
    try {
      const paths = imagePaths(corruptHome, "amd64");
      await mkdir(paths.dir, { recursive: true });
      const good = Buffer.from("a qcow2 image, honestly");
      await writeFile(paths.image, Buffer.concat([good, Buffer.from("!")]));
      const sha256 = createHash("sha256").update(good).digest("hex");
      // A complete manifest as image-builder writes it (its readManifest validates every field).
      const manifest = {
        formatVersion: 1,
        arch: "amd64",
        profile: "selftest",
        image: {
          file: "stack-emulator-amd64.qcow2",
          size: good.length,
          virtualSize: 12 * 2 ** 30,
          sha256,
          compression: "zstd",
        },
        boot: { kind: "firmware" },
        base: {
          kind: "bootstrap",
          recipeHash: "test",
          suite: "trixie",
          mirror: "http://deb.debian.org/debian",
          kernelVersion: "6.12",
          packages: [],
        },
        payload: { imageId: "sha256:test", tag: "hexclave-selftest:test" },
        services: [{ service: "backend", guestPort: 8102, hostPort: 26701, health: { path: "/health?db=1" } }],
        qemuVersion: "7.2.22",
        buildAccel: "tcg",
        builtAt: "2025-01-02T03:04:05.000Z",
        durations: { payload: 1000 },
      };
      await writeFile(paths.manifest, JSON.stringify(manifest));
      const result = await stack(["emulator", "doctor", "--json"], { HEXCLAVE_EMULATOR_HOME: corruptHome });
      const report = JSON.parse(result.stdout) as DoctorReport;
      expect(validateDoctor(report), JSON.stringify(validateDoctor.errors)).toBe(true);
      const image = report.checks.find((c) => c.id === "image")!;
      expect(image.verdict, image.summary).toBe("fail");
      expect(image.summary).toContain(`the manifest expects ${sha256}`);
      expect(image.fix).toContain(`Delete ${paths.image}`);
      expect(image.fix).toContain("stack emulator pull");
      expect(result.exitCode).toBe(1);

      // A good image passes.
      await writeFile(paths.image, good);
      const ok = await stack(["emulator", "doctor", "--json"], { HEXCLAVE_EMULATOR_HOME: corruptHome });
      const okImage = (JSON.parse(ok.stdout) as DoctorReport).checks.find((c) => c.id === "image")!;
      expect(okImage.verdict, okImage.summary).toBe("ok");
      expect(okImage.summary).toContain("sha256 verified");
    } finally {
      await rm(corruptHome, { recursive: true, force: true });
    }
  });
});
