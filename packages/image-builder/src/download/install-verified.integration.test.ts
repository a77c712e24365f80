/**
 * The install step of every download: the file renamed into place is the
 * file that was hashed, and nothing is installed once the lock is lost.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireLock, qemuErrors } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageBuilderErrors } from "../errors-data.js";
import { installVerified } from "./install-verified.js";

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "hx-install-verified-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("installVerified", () => {
  it("installs the part whose own bytes match, and leaves nothing else behind", async () => {
    const dest = join(dir, "ok.bin");
    await writeFile(`${dest}.part`, "good bytes");
    const size = await installVerified({
      part: `${dest}.part`,
      dest,
      expected: { algorithm: "sha256", hex: sha256("good bytes") },
      source: "test",
    });
    expect(size).toBe(10);
    expect(await readFile(dest, "utf8")).toBe("good bytes");
    expect((await readdir(dir)).filter((n) => n.startsWith("ok.bin"))).toEqual(["ok.bin"]);
  });

  it("hashes the file it installs: a part changed after the stream was verified is refused, dest untouched", async () => {
    const dest = join(dir, "changed.bin");
    await writeFile(dest, "previous\n");
    // The stream carried "good bytes" (that digest is expected), but another writer left other bytes in the part.
    await writeFile(`${dest}.part`, "evil bytes");
    const error = await installVerified({
      part: `${dest}.part`,
      dest,
      expected: { algorithm: "sha256", hex: sha256("good bytes") },
      source: "test",
    }).catch((e: unknown) => e);
    expect(imageBuilderErrors.is(error, "DOWNLOAD_DIGEST_MISMATCH")).toBe(true);
    expect(await readFile(dest, "utf8")).toBe("previous\n");
    expect((await readdir(dir)).filter((n) => n.startsWith("changed.bin"))).toEqual(["changed.bin"]);
  });

  it("installs nothing once the lock is no longer ours", async () => {
    const dest = join(dir, "unlocked.bin");
    const lock = await acquireLock(join(dir, "unlocked.lock"));
    await writeFile(join(dir, "unlocked.lock"), "someone else's lock\n");
    await writeFile(`${dest}.part`, "good bytes");
    const error = await installVerified({
      part: `${dest}.part`,
      dest,
      expected: { algorithm: "sha256", hex: sha256("good bytes") },
      source: "test",
      lock,
    }).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "LOCK_LOST")).toBe(true);
    await expect(stat(dest)).rejects.toMatchObject({ code: "ENOENT" });
    await lock.release();
    expect(await readFile(join(dir, "unlocked.lock"), "utf8")).toBe("someone else's lock\n");
  });
});
