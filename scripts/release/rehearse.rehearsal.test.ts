/**
 * The publishing workflow rehearsed locally (opt-in: `pnpm test:release-rehearsal`, boots full VMs, hold
 * /tmp/hexclave-vm.lock): the local stand-in of Debian's cloud image host serves the base, and
 * scripts/release/rehearse.sh runs the workflow's own scripts against it (build --base cloud, boot test with
 * start / four health paths / stop / start / reset / start / stop, release directory, SHA256SUMS, channel pointer).
 * REHEARSAL_ARCH picks the arch (default amd64). The pointer must name every file of the release with its digest.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseChannelPointer } from "@hexclave/image-builder/release";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CloudImageHost, startCloudImageHost } from "#fixtures/image-builder/cloud-image-host.js";

const arch = process.env.REHEARSAL_ARCH === "arm64" ? "arm64" : "amd64";
const script = fileURLToPath(new URL("./rehearse.sh", import.meta.url));
// Ports of our own: never the defaults (26700...) nor the e2e files' (27700..., 28700..., 29700...).
const ports = { DASHBOARD: 25700, BACKEND: 25701, MINIO: 25702, INBUCKET: 25703 };

let host: CloudImageHost;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hx-rehearsal-"));
  host = await startCloudImageHost([arch], { log: (line) => console.log(`[cloud stand-in] ${line}`) });
}, 3_600_000);
afterAll(async () => {
  await execa("node", ["packages/cli/dist/bin.js", "emulator", "stop", "--no-snapshot"], {
    cwd: fileURLToPath(new URL("../../", import.meta.url)),
    env: { HEXCLAVE_EMULATOR_HOME: join(work, "emulator-home") },
    reject: false,
  });
  await host?.close();
  await rm(work, { recursive: true, force: true });
});

describe(`the publishing workflow rehearsed for ${arch} against the stand-in cloud host`, () => {
  it("builds, boot-tests, checksums the release and writes a pointer naming every file", async () => {
    const env: Record<string, string> = { HEXCLAVE_CLOUD_IMAGE_URL: host.latestUrl };
    for (const [name, port] of Object.entries(ports)) env[`EMULATOR_${name}_PORT`] = String(port);
    const run = execa("bash", [script, arch, work], { env, all: true, reject: false });
    run.all?.on("data", (chunk: Buffer) => process.stdout.write(chunk));
    const result = await run;
    expect(result.exitCode, result.all?.slice(-4000)).toBe(0);

    const pointer = parseChannelPointer(await readFile(join(work, "emulator-dev.json"), "utf8"));
    const sums = await readFile(join(work, "release", "SHA256SUMS"), "utf8");
    const files = pointer.arches[arch]?.files ?? [];
    expect(files.map((f) => f.role)).toContain("image");
    for (const file of [...files, pointer.arches[arch]?.manifest])
      expect(sums).toContain(`${file?.sha256}  ${file?.name}`);
  });
});
