import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Manifest, parseManifest, readManifest, writeManifest } from "./manifest.js";

const sha = "a".repeat(64);
const valid: Manifest = {
  formatVersion: 1,
  arch: "amd64",
  profile: "selftest",
  image: {
    file: "stack-emulator-amd64.qcow2",
    size: 300_000_000,
    virtualSize: 12 * 1024 ** 3,
    sha256: sha,
    compression: "zstd",
  },
  boot: {
    kind: "kernel",
    kernel: { file: "stack-emulator-amd64.vmlinuz", sha256: sha },
    initrd: { file: "stack-emulator-amd64.initrd", sha256: sha },
    append: "root=/dev/vda rw console=ttyS0 quiet",
  },
  base: {
    kind: "bootstrap",
    recipeHash: "b".repeat(64),
    suite: "trixie",
    mirror: "http://deb.debian.org/debian",
    kernelVersion: "6.12",
    packages: [],
  },
  payload: { imageId: `sha256:${sha}`, tag: "hexclave-emulator-payload:selftest-amd64" },
  services: [
    {
      service: "backend",
      guestPort: 8102,
      hostPort: 26701,
      health: { kind: "http", port: 8102, path: "/health?db=1", expectStatus: [200] },
    },
  ],
  qemuVersion: "7.2.0",
  buildAccel: "tcg",
  builtAt: "2026-11-28T12:00:00.000Z",
  durations: { payload: 1000 },
};

describe("manifest", () => {
  it("accepts a valid manifest and round-trips through write and read", async () => {
    expect(parseManifest(JSON.stringify(valid))).toEqual(valid);
    const dir = await mkdtemp(join(tmpdir(), "hexclave-manifest-"));
    try {
      const path = join(dir, "stack-emulator-amd64.json");
      await writeManifest(path, valid);
      expect(await readManifest(path)).toEqual(valid);
      expect(await readdir(dir)).toEqual(["stack-emulator-amd64.json"]);
      expect(JSON.parse(await readFile(path, "utf8"))).toEqual(valid);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lists every problem of a broken manifest", () => {
    const broken = { ...valid, arch: "sparc", image: { ...valid.image, sha256: "xyz" }, services: [] };
    try {
      parseManifest(JSON.stringify(broken), "m.json");
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: "MANIFEST_INVALID" });
      const problems = (error as { details: { problems: string[] } }).details.problems;
      expect(problems).toEqual([
        "arch: must be amd64 or arm64",
        "image.sha256: must be 64 lowercase hex digits",
        "services: must be a non-empty list",
      ]);
    }
  });

  it("names an unknown format version and asks to upgrade", () => {
    expect(() => parseManifest(JSON.stringify({ ...valid, formatVersion: 2 }), "m.json")).toThrow(/format version 2/);
    expect(() => parseManifest("{", "m.json")).toThrow(/m.json is not JSON/);
  });

  it("refuses to write an invalid manifest, leaving nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hexclave-manifest-"));
    try {
      await expect(
        writeManifest(join(dir, "m.json"), { ...valid, image: { ...valid.image, size: -1 } }),
      ).rejects.toMatchObject({
        code: "MANIFEST_INVALID",
      });
      expect(await readdir(dir)).toEqual([]);
      await expect(readManifest(join(dir, "m.json"))).rejects.toMatchObject({ code: "MANIFEST_INVALID" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
