/**
 * ensureSelftestBaseImage against the real dockerd, with a stand-in for
 * mmdebstrap (a script that writes a tiny root filesystem tarball, or fails
 * half-way) so the streaming, tagging, caching and clean-up paths run in
 * seconds. Each test uses its own mirror URL, hence its own recipe tag. The
 * real mmdebstrap build is exercised by docker/selftest/selftest-image.integration.test.ts.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Dockerode from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDockerd } from "../../../docker/test-support/ensure-dockerd.js";
import { imageBuilderErrors } from "./errors-data.js";
import {
  ensureSelftestBaseImage,
  SELFTEST_BASE_REPOSITORY,
  type SelftestBaseEvent,
  selftestBaseRecipe,
  selftestBaseTag,
} from "./selftest-base.js";

const docker = new Dockerode();
const dir = mkdtempSync(join(tmpdir(), "hx-selftest-base-"));
const created: string[] = [];

function fakeMmdebstrap(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/usr/bin/env bash\nset -euo pipefail\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

// Writes a one-file root filesystem to stdout, as `mmdebstrap ... -` does.
const good = fakeMmdebstrap(
  "good",
  `root=$(mktemp -d); mkdir -p "$root/etc"; echo hexclave-fake > "$root/etc/hostname"
echo "I: fake mmdebstrap: $*" >&2
tar -C "$root" -c .`,
);
// Writes part of a tarball, then fails like a broken mirror would.
const failing = fakeMmdebstrap(
  "failing",
  `root=$(mktemp -d); head -c 1000000 /dev/urandom > "$root/blob"
{ tar -C "$root" -c . | head -c 300000; } || true
echo "E: Failed to fetch http://mirror/pool/main/p/postgresql-17.deb  404  Not Found" >&2
exit 1`,
);

const mirror = () => `http://127.0.0.1:9/debian-${randomBytes(4).toString("hex")}`;
const partials = async () =>
  (await docker.listImages())
    .flatMap((i) => i.RepoTags ?? [])
    .filter((t) => t.startsWith(`${SELFTEST_BASE_REPOSITORY}:partial-`));

beforeAll(async () => {
  await ensureDockerd();
});

afterAll(async () => {
  for (const tag of created)
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
});

describe("ensureSelftestBaseImage", () => {
  it("streams the tarball into the engine under the recipe's tag, then finds it cached", async () => {
    const m = mirror();
    const events: SelftestBaseEvent[] = [];
    const first = await ensureSelftestBaseImage({ mirror: m, mmdebstrap: good, onEvent: (e) => events.push(e) });
    created.push(first.tag);
    expect(first).toEqual({ tag: selftestBaseTag(selftestBaseRecipe({ mirror: m })), created: true });
    expect(events.map((e) => e.type)).toEqual([
      "selftest-base-build-started",
      "selftest-base-log",
      "selftest-base-created",
    ]);
    expect((events[1] as { line: string }).line).toContain(m);
    const info = await docker.getImage(first.tag).inspect();
    expect(info.RepoTags).toEqual([first.tag]);

    const second = await ensureSelftestBaseImage({ mirror: m, mmdebstrap: good });
    expect(second).toEqual({ tag: first.tag, created: false });
  });

  it("fails with MMDEBSTRAP_FAILED and mmdebstrap's last lines, leaving no image behind", async () => {
    const m = mirror();
    const error = await ensureSelftestBaseImage({ mirror: m, mmdebstrap: failing }).catch((e: unknown) => e);
    expect(imageBuilderErrors.is(error, "MMDEBSTRAP_FAILED")).toBe(true);
    expect((error as Error).message).toContain("404  Not Found");
    await expect(docker.getImage(selftestBaseTag(selftestBaseRecipe({ mirror: m }))).inspect()).rejects.toThrow();
    expect(await partials()).toEqual([]);
  });

  it("names a missing mmdebstrap", async () => {
    const error = await ensureSelftestBaseImage({ mirror: mirror(), mmdebstrap: join(dir, "nope") }).catch((e) => e);
    expect(imageBuilderErrors.is(error, "MMDEBSTRAP_NOT_FOUND")).toBe(true);
  });

  it("says when the Docker engine does not answer", async () => {
    const error = await ensureSelftestBaseImage({
      docker: new Dockerode({ socketPath: join(dir, "no-docker.sock") }),
      mmdebstrap: good,
    }).catch((e) => e);
    expect(imageBuilderErrors.is(error, "DOCKER_UNREACHABLE")).toBe(true);
    expect((error as { hint: string }).hint).toMatch(/dockerd/);
  });

  it("stops on abort with ABORTED and cleans up", async () => {
    const slow = fakeMmdebstrap("slow", "sleep 30");
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const started = Date.now();
    const error = await ensureSelftestBaseImage({
      mirror: mirror(),
      mmdebstrap: slow,
      signal: controller.signal,
    }).catch((e) => e);
    expect(imageBuilderErrors.is(error, "ABORTED")).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await partials()).toEqual([]);
  });
});
