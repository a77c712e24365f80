import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { httpProbe, type ProbeChange, tcpProbe, waitForReady } from "./readiness.js";

const servers: (Server | HttpServer)[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  for (const s of servers.splice(0)) {
    if ("closeAllConnections" in s) s.closeAllConnections();
    await new Promise((r) => s.close(() => r(undefined)));
  }
});

/** Tracks the server's sockets so the test can always close it. */
function tracked<T extends Server | HttpServer>(server: T): T {
  server.on("connection", (c: Socket) => {
    sockets.add(c);
    c.on("close", () => sockets.delete(c));
  });
  servers.push(server);
  return server;
}

/** A free port on 127.0.0.1 (bound, then released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * A server whose first connection is accepted and never answered (a resumed guest's network coming back); later
 * ones are answered 200. Resolves with its port.
 */
async function firstConnectionUnanswered(): Promise<number> {
  const port = await freePort();
  let connections = 0;
  const server = tracked(
    createServer((socket) => {
      connections++;
      if (connections === 1) return;
      socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
    }),
  );
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return port;
}

function listenHttp(port: number, status: () => number): Promise<HttpServer> {
  const server = tracked(
    createHttpServer((_req, res) => {
      res.statusCode = status();
      res.end("x");
    }),
  );
  return new Promise((r) => server.listen(port, "127.0.0.1", () => r(server)));
}

describe("waitForReady", () => {
  it("waits for servers that come up late and reports each state change", async () => {
    const tcpPort = await freePort();
    const httpPort = await freePort();
    const changes: ProbeChange[] = [];
    setTimeout(() => {
      const s = tracked(createServer((c) => c.end()));
      s.listen(tcpPort, "127.0.0.1");
    }, 400);
    setTimeout(() => void listenHttp(httpPort, () => 200), 700);
    const results = await waitForReady(
      [
        tcpProbe({ port: tcpPort, name: "tcp" }),
        httpProbe({ url: `http://127.0.0.1:${httpPort}/health`, name: "http" }),
      ],
      { deadlineMs: 10_000, intervalMs: 100, onChange: (c) => changes.push(c) },
    );
    expect(results.map((r) => [r.name, r.state])).toEqual([
      ["tcp", "up"],
      ["http", "up"],
    ]);
    expect(results[1]!.detail).toBe("got 200");
    expect(results[1]!.upAtMs).toBeGreaterThanOrEqual(600);
    const http = changes.filter((c) => c.name === "http").map((c) => c.state);
    expect(http).toEqual(["pending", "down", "up"]);
    expect(changes.find((c) => c.name === "tcp" && c.state === "down")?.detail).toBe("ECONNREFUSED");
  });

  it("times out naming the probe that answers the wrong code, with its last error", async () => {
    const port = await freePort();
    await listenHttp(port, () => 503);
    const error = await waitForReady(
      [httpProbe({ url: `http://127.0.0.1:${port}/`, expectStatus: [200], name: "svc" })],
      {
        deadlineMs: 800,
        intervalMs: 100,
      },
    ).catch((e: unknown) => e);
    expect(qemuErrors.is(error, "READINESS_TIMEOUT")).toBe(true);
    expect((error as Error).message).toContain("svc: got 503, expected 200");
    expect((error as { hint: string }).hint).not.toBe("");
  });

  it("accepts any listed status code (QStash answers 401)", async () => {
    const port = await freePort();
    await listenHttp(port, () => 401);
    const [r] = await waitForReady([httpProbe({ url: `http://127.0.0.1:${port}/`, expectStatus: [200, 401] })], {
      deadlineMs: 3000,
    });
    expect(r).toMatchObject({ state: "up", detail: "got 401" });
  });

  it("times out a server that accepts but never answers, and one that never listens", async () => {
    const stallPort = await freePort();
    const stall = tracked(createServer(() => {})); // accepts, never replies
    await new Promise<void>((r) => stall.listen(stallPort, "127.0.0.1", r));
    const closedPort = await freePort();
    const t0 = Date.now();
    const error = await waitForReady(
      [
        httpProbe({ url: `http://127.0.0.1:${stallPort}/`, name: "stalled" }),
        tcpProbe({ port: closedPort, name: "closed" }),
      ],
      { deadlineMs: 1000, intervalMs: 100, attemptTimeoutMs: 300 },
    ).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(qemuErrors.is(error, "READINESS_TIMEOUT")).toBe(true);
    const failing = (error as { details: { failing: { name: string; detail: string }[] } }).details.failing;
    expect(failing.map((f) => f.name)).toEqual(["stalled", "closed"]);
    expect(failing[0]!.detail).toMatch(/no answer within 300 ms|socket hang up|ECONNRESET/);
    expect(failing[1]!.detail).toBe("ECONNREFUSED");
  });

  it.each([
    {
      title: "retried with a short first bound that doubles, instead of waiting out the full bound",
      options: { firstAttemptTimeoutMs: 100 },
      down: /no answer within 100 ms/,
    },
    {
      title: "hedged: kept, and another request sent beside it (the unanswered one is dropped, not failed)",
      options: { hedgeAfterMs: 100 },
      down: undefined,
    },
  ])("a request that hangs is $title", async ({ options, down }) => {
    const port = await firstConnectionUnanswered();
    const changes: ProbeChange[] = [];
    const [result] = await waitForReady([httpProbe({ url: `http://127.0.0.1:${port}/`, name: "resumed" })], {
      deadlineMs: 20_000,
      intervalMs: 10,
      attemptTimeoutMs: 15_000,
      ...options,
      onChange: (c) => changes.push(c),
    });
    expect(result).toMatchObject({ name: "resumed", state: "up", attempts: 2 });
    expect(result!.upAtMs).toBeLessThan(5000);
    expect(changes.find((c) => c.state === "down")?.detail).toEqual(
      down === undefined ? undefined : expect.stringMatching(down),
    );
  });

  it("rejects a first bound or a hedge delay that is not positive", async () => {
    const port = await freePort();
    await expect(waitForReady([tcpProbe({ port })], { firstAttemptTimeoutMs: 0 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(waitForReady([tcpProbe({ port })], { hedgeAfterMs: 0 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("hedged: keeps a slow request and takes its answer, with at most four running at once", async () => {
    // A just-resumed guest: every request is answered, each 600 ms after it arrived.
    const port = await freePort();
    let requests = 0;
    let open = 0;
    let mostOpen = 0;
    const server = tracked(
      createHttpServer((_req, res) => {
        requests++;
        open++;
        mostOpen = Math.max(mostOpen, open);
        setTimeout(() => {
          open--;
          res.end("ok");
        }, 600);
      }),
    );
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    const t0 = Date.now();
    const [result] = await waitForReady([httpProbe({ url: `http://127.0.0.1:${port}/`, name: "slow" })], {
      deadlineMs: 20_000,
      intervalMs: 10,
      attemptTimeoutMs: 5000,
      hedgeAfterMs: 100,
    });
    // The first request's answer came: no request was given up and sent again (which would take 600 ms more).
    expect(result).toMatchObject({ name: "slow", state: "up" });
    expect(result!.upAtMs).toBeGreaterThanOrEqual(590);
    expect(Date.now() - t0).toBeLessThan(1200);
    expect(result!.attempts).toBe(4);
    expect(mostOpen).toBe(4);
    expect(requests).toBe(4);
  });

  it("stops when aborted, and rejects bad input with a hint", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const port = await freePort();
    const aborted = await waitForReady([tcpProbe({ port })], { deadlineMs: 10_000, signal: ac.signal }).catch(
      (e: unknown) => e,
    );
    expect(qemuErrors.is(aborted, "ABORTED")).toBe(true);
    expect(() => httpProbe({ url: "not a url" })).toThrow(/not an http/);
    expect(() => httpProbe({ url: "http://127.0.0.1/", expectStatus: [] })).toThrow(/expectStatus/);
    expect(() => tcpProbe({ port: 70000 })).toThrow(/not a port/);
  });
});
