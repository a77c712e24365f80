import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { checkPortsFree, findPortHolder } from "./host-ports.js";

describe("checkPortsFree", () => {
  it("passes free ports and names the process holding a taken one", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const free = createServer();
      await new Promise<void>((r) => free.listen(0, "127.0.0.1", r));
      const freePort = (free.address() as { port: number }).port;
      await new Promise((r) => free.close(r));
      await expect(checkPortsFree([freePort])).resolves.toBeUndefined();

      const error = await checkPortsFree([freePort, port]).catch((e: unknown) => e);
      expect(qemuErrors.is(error, "PORT_IN_USE")).toBe(true);
      const e = error as Error & { details: Record<string, unknown>; hint: string };
      expect(e.details).toMatchObject({ port, pid: process.pid, protocol: "tcp" });
      expect(String(e.details.command)).toContain("node");
      expect(e.message).toContain(`Port ${port}/tcp`);
      expect(e.hint).toContain(String(process.pid));
      expect(await findPortHolder(port)).toMatchObject({ pid: process.pid });
    } finally {
      server.close();
    }
  });

  it("checks UDP ports too", async () => {
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const port = sock.address().port;
    try {
      const error = await checkPortsFree([{ port, protocol: "udp" }]).catch((e: unknown) => e);
      expect(qemuErrors.is(error, "PORT_IN_USE")).toBe(true);
      expect((error as { details: { pid?: number } }).details.pid).toBe(process.pid);
    } finally {
      sock.close();
    }
  });

  it("rejects a bad port number with a hint", async () => {
    const error = await checkPortsFree([0]).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "INVALID_ARGUMENT")).toBe(true);
    expect((error as { hint: string }).hint).toMatch(/1 to 65535/);
  });
});
