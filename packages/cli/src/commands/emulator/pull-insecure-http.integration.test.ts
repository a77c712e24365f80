/**
 * `stack emulator pull --from http://...`: refused without
 * --allow-insecure-http (no request is made), read with it.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliIo } from "../../cli-io.js";
import { runCli } from "../../run-cli.js";

let work: string;
let server: Server;
let url: string;
const requests: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "hx-pull-http-"));
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/mirror`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(work, { recursive: true, force: true });
});

async function pull(extra: string[]): Promise<{ exit: number; stderr: string }> {
  let stderr = "";
  const io: CliIo = {
    stdout: { write: () => {} },
    stderr: {
      write: (chunk: string) => {
        stderr += chunk;
      },
    },
    env: { HEXCLAVE_EMULATOR_HOME: join(work, "home"), NO_COLOR: "1" },
    isTTY: false,
    cwd: work,
    signal: new AbortController().signal,
  };
  const exit = await runCli(["emulator", "pull", "--arch", "amd64", "--from", url, ...extra], io);
  return { exit, stderr };
}

describe("stack emulator pull from a plain http:// mirror", () => {
  it("is refused without --allow-insecure-http, before any request", async () => {
    const { exit, stderr } = await pull([]);
    expect(exit).toBe(1);
    expect(stderr).toContain("plain http://");
    expect(stderr).toContain("--allow-insecure-http");
    expect(requests).toEqual([]);
  });

  it("is read with --allow-insecure-http", async () => {
    const { exit, stderr } = await pull(["--allow-insecure-http"]);
    expect(exit).not.toBe(0);
    expect(stderr).not.toContain("plain http://");
    expect(requests).toContain("/mirror/emulator-main.json");
  });
});
