/**
 * Against the real Docker engine (20.10 here): an image imported on this
 * amd64 host claims amd64 whatever it holds; loadWithPlatform gives it the
 * arm64 platform, and the classic builder then finds it locally as the FROM
 * of a linux/arm64 build instead of trying to pull it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Dockerode from "dockerode";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDockerd } from "../../../../docker/test-support/ensure-dockerd.js";
import { loadWithPlatform } from "./image-platform.js";

const docker = new Dockerode();
const IMPORTED = `hexclave-test-platform:imported-${process.pid}`;
const MARKED = `hexclave-test-platform:arm64-${process.pid}`;
const BUILT = `hexclave-test-platform:built-${process.pid}`;
let work: string;

beforeAll(async () => {
  await ensureDockerd();
  work = await mkdtemp(join(tmpdir(), "hexclave-platform-test-"));
  await writeFile(join(work, "hello"), "a file from an arm64 tree\n");
  await execa("tar", ["-C", work, "-cf", join(work, "rootfs.tar"), "hello"]);
  await execa("docker", ["import", "--platform", "linux/arm64", join(work, "rootfs.tar"), IMPORTED]);
});

afterAll(async () => {
  for (const tag of [BUILT, MARKED, IMPORTED])
    await docker
      .getImage(tag)
      .remove()
      .catch(() => {});
  await rm(work, { recursive: true, force: true });
});

describe("loadWithPlatform", () => {
  it("marks an imported image linux/arm64 so a linux/arm64 build uses it as its local FROM", async () => {
    expect((await docker.getImage(IMPORTED).inspect()).Architecture).toBe("amd64");
    await loadWithPlatform({ docker, sourceRef: IMPORTED, targetRef: MARKED, arch: "arm64" });
    const marked = await docker.getImage(MARKED).inspect();
    expect({ arch: marked.Architecture, variant: (marked as { Variant?: string }).Variant, os: marked.Os }).toEqual({
      arch: "arm64",
      variant: "v8",
      os: "linux",
    });
    // The same layer: only the config changed.
    const layers = async (ref: string) => (await docker.getImage(ref).inspect()).RootFS.Layers;
    expect(await layers(MARKED)).toEqual(await layers(IMPORTED));

    const context = join(work, "context");
    await execa("mkdir", ["-p", context]);
    await writeFile(join(context, "Dockerfile"), `FROM ${MARKED}\nLABEL hexclave.test=platform\n`);
    const build = await execa("docker", ["build", "--platform", "linux/arm64", "-t", BUILT, context], {
      reject: false,
      all: true,
    });
    expect(build.all).not.toMatch(/pull access denied|Pulling from|failed to resolve/i);
    expect(build.exitCode).toBe(0);
    expect((await docker.getImage(BUILT).inspect()).Architecture).toBe("arm64");
  });
});
