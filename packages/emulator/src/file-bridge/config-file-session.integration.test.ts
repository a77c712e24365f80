/** `--config-file` sync against real files in a temp directory. */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configFileSession } from "./config-file-session.js";

let dir: string;
let hostPath: string;
const now = () => new Date("2025-01-02T03:04:05.000Z");

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hexclave-config-"));
  hostPath = join(dir, "stack.config.ts");
  await writeFile(hostPath, "export default { v: 1 };\n");
  await chmod(hostPath, 0o640);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("configFileSession", () => {
  it("reads the file, its digest and mtime at start", async () => {
    const session = await configFileSession({ hostPath });
    expect(session.hostPath).toBe(hostPath);
    expect(session.initial.content.toString()).toBe("export default { v: 1 };\n");
    expect(session.initial.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(session.initial.mtimeMs).toBe((await stat(hostPath)).mtimeMs);
    expect(session.guestContent().toString()).toBe("export default { v: 1 };\n");
  });

  it("writes the guest's version back atomically, keeping the previous host copy as .bak", async () => {
    const session = await configFileSession({ hostPath, now });
    session.receiveFromGuest(Buffer.from("export default { v: 2 };\n"));
    const result = await session.writeBack();
    expect(result).toEqual({ outcome: "written", hostPath, backupPath: `${hostPath}.bak` });
    expect(await readFile(hostPath, "utf8")).toBe("export default { v: 2 };\n");
    expect(await readFile(`${hostPath}.bak`, "utf8")).toBe("export default { v: 1 };\n");
    expect((await stat(hostPath)).mode & 0o777).toBe(0o640);
    expect((await readdir(dir)).sort()).toEqual(["stack.config.ts", "stack.config.ts.bak"]);
  });

  it("the guest's version written back never keeps setuid, setgid or execute bits", async () => {
    await chmod(hostPath, 0o6755);
    const session = await configFileSession({ hostPath, now });
    session.receiveFromGuest(Buffer.from("export default { v: 'from the guest' };\n"));
    expect((await session.writeBack()).outcome).toBe("written");
    expect((await stat(hostPath)).mode & 0o7777).toBe(0o644);
  });

  it("keeps both versions on a conflict and reports CONFIG_FILE_CONFLICT naming both files", async () => {
    const session = await configFileSession({ hostPath, now });
    await writeFile(hostPath, "export default { v: 'host edit' };\n");
    const result = await session.writeBack(Buffer.from("export default { v: 'guest edit' };\n"));
    const guestCopyPath = `${hostPath}.emulator-20250102T030405Z`;
    expect(result).toMatchObject({ outcome: "conflict", reason: "host-changed", hostPath, guestCopyPath });
    if (result.outcome !== "conflict") throw new Error("expected a conflict");
    expect(result.error.code).toBe("CONFIG_FILE_CONFLICT");
    expect(result.error.message).toContain(hostPath);
    expect(result.error.message).toContain(guestCopyPath);
    expect(result.error.details).toEqual({ hostPath, guestCopyPath, reason: "host-changed" });
    expect(await readFile(hostPath, "utf8")).toBe("export default { v: 'host edit' };\n");
    expect(await readFile(guestCopyPath, "utf8")).toBe("export default { v: 'guest edit' };\n");
    // A second conflict in the same second never overwrites the first copy.
    const again = await session.writeBack(Buffer.from("third\n"));
    expect(again).toMatchObject({ outcome: "conflict", guestCopyPath: `${guestCopyPath}-2` });
    expect(await readFile(guestCopyPath, "utf8")).toBe("export default { v: 'guest edit' };\n");
    expect((await readdir(dir)).sort()).toEqual([
      "stack.config.ts",
      "stack.config.ts.emulator-20250102T030405Z",
      "stack.config.ts.emulator-20250102T030405Z-2",
    ]);
  });

  it("treats a host file deleted meanwhile as a conflict and does not recreate it", async () => {
    const session = await configFileSession({ hostPath, now });
    await rm(hostPath);
    const result = await session.writeBack(Buffer.from("guest\n"));
    expect(result).toMatchObject({ outcome: "conflict", reason: "host-deleted" });
    expect(await readdir(dir)).toEqual(["stack.config.ts.emulator-20250102T030405Z"]);
  });

  it("writes nothing when the guest did not change the file, even if the host did", async () => {
    const session = await configFileSession({ hostPath });
    await writeFile(hostPath, "host edit\n");
    expect(await session.writeBack()).toEqual({ outcome: "unchanged", reason: "guest-unchanged", hostPath });
    expect(await readFile(hostPath, "utf8")).toBe("host edit\n");
    expect(await readdir(dir)).toEqual(["stack.config.ts"]);
  });

  it("follows a symlinked config path and writes the real file, leaving the link", async () => {
    const link = join(dir, "link.config.ts");
    await symlink(hostPath, link);
    const session = await configFileSession({ hostPath: link });
    expect(session.hostPath).toBe(hostPath);
    expect(await session.writeBack(Buffer.from("v3\n"))).toMatchObject({ outcome: "written", hostPath });
    expect(await readFile(hostPath, "utf8")).toBe("v3\n");
    expect((await readdir(dir)).sort()).toEqual(["link.config.ts", "stack.config.ts", "stack.config.ts.bak"]);
  });

  it("refuses a missing file, a directory, and a file over the size limit", async () => {
    await expect(configFileSession({ hostPath: join(dir, "missing.ts") })).rejects.toMatchObject({
      code: "CONFIG_FILE_INVALID",
    });
    await expect(configFileSession({ hostPath: dir })).rejects.toMatchObject({ code: "CONFIG_FILE_INVALID" });
    await expect(configFileSession({ hostPath, maxBytes: 8 })).rejects.toMatchObject({
      code: "CONFIG_FILE_INVALID",
      details: { maxBytes: 8 },
    });
    const session = await configFileSession({ hostPath, maxBytes: 64 });
    expect(() => session.receiveFromGuest(Buffer.alloc(65))).toThrow(
      expect.objectContaining({ code: "CONFIG_FILE_INVALID" }),
    );
  });

  it("reports a failed write-back as CONFIG_FILE_WRITE_FAILED and leaves the host copy", async () => {
    const session = await configFileSession({ hostPath });
    await mkdir(`${hostPath}.bak`); // the backup cannot be written: a directory holds its name
    await expect(session.writeBack(Buffer.from("x"))).rejects.toMatchObject({ code: "CONFIG_FILE_WRITE_FAILED" });
    expect(await readFile(hostPath, "utf8")).toBe("export default { v: 1 };\n");
    expect((await readdir(dir)).sort()).toEqual(["stack.config.ts", "stack.config.ts.bak"]);
  });
});
