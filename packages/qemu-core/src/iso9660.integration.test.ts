import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IsoFile, writeIso } from "./iso9660.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "iso-it-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const xorriso = (...args: string[]) =>
  execFileSync("xorriso", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

function listing(iso: string, mode: "rockridge" | "joliet" | "ecma119"): string[] {
  const readFs = { rockridge: "any", joliet: "norock", ecma119: "ecma119" }[mode];
  return xorriso("-read_fs", readFs, "-indev", iso, "-find", "/", "-type", "f")
    .split("\n")
    .filter((l) => l.startsWith("'/"))
    .map((l) => l.slice(1, -1))
    .sort();
}

describe("createIso read back by xorriso", () => {
  const bigBytes = Uint8Array.from({ length: 5 * 2048 + 123 }, (_, i) => (i * 7) & 0xff);
  const files: IsoFile[] = [
    { name: "user-data", content: "#cloud-config\nhostname: vm\n" },
    { name: "meta-data", content: "instance-id: vm-1\nlocal-hostname: vm\n" },
    { name: "network-config", content: "" },
    { name: "payload/big.bin", content: bigBytes },
    { name: "openstack/latest/Meta Data.JSON", content: '{"uuid":"x"}' },
    ...Array.from({ length: 150 }, (_, i) => ({
      name: `many/entry-${String(i).padStart(3, "0")}.txt`,
      content: `n${i}\n`,
    })),
  ];

  it("keeps names (lower case, dashes, spaces, nesting), sizes, bytes and the volume id cidata", async () => {
    const iso = join(dir, "seed.iso");
    await writeIso(iso, { volumeId: "cidata", files });
    expect(xorriso("-indev", iso, "-pvd_info")).toMatch(/Volume Id\s*:\s*cidata\n/);
    const expected = files.map((f) => `/${f.name}`).sort();
    expect(listing(iso, "rockridge")).toEqual(expected);
    expect(listing(iso, "joliet")).toEqual(expected);
    expect(listing(iso, "ecma119")).toContain("/USER_DAT");

    const out = join(dir, "out");
    xorriso("-osirrox", "on", "-indev", iso, "-extract", "/", out);
    for (const file of files) {
      const want = typeof file.content === "string" ? new TextEncoder().encode(file.content) : file.content;
      expect(new Uint8Array(await readFile(join(out, file.name))), file.name).toEqual(want);
    }
    expect((await readdir(join(out, "many"))).length).toBe(150);
    expect(execFileSync("blkid", ["-o", "export", iso], { encoding: "utf8" })).toMatch(/LABEL=cidata\nTYPE=iso9660/);
  });

  it("passes xorriso's media check: every block readable, the session as long as the image", async () => {
    const iso = join(dir, "check.iso");
    await writeIso(iso, { volumeId: "cidata", files });
    const blocks = (await readFile(iso)).length / 2048;
    const report = execFileSync("xorriso", ["-indev", iso, "-check_media", "--"], { encoding: "utf8", stdio: "pipe" });
    expect(report).toMatch(new RegExp(`Media region :\\s+0 ,\\s+${blocks} , \\+ good`));
  });
});
