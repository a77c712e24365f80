/**
 * The client's pipelining and resynchronisation, against an agent on a real unix socket that keeps qemu-ga's wire
 * contract: an 0xFF byte resets its parser, commands are answered one by one in the order written, and
 * `guest-sync-delimited` answers with an 0xFF before its reply. (The real agent in a real guest is driven by the
 * emulator's end-to-end tests: every resume's fix-ups go through this client.) What the agent answers, and when, is
 * scripted per test, so the cases the real one shows only under load (no answer, a late answer) are exact here.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { qemuErrors } from "./errors-data.js";
import { GuestAgentClient, isGuestAgentErrorAnswer } from "./guest-agent-client.js";

interface Received {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
}

/** What the agent does with one command: answer (after `delayMs`), or never answer. */
type Reply = { readonly answer: Record<string, unknown>; readonly delayMs?: number } | "none";

interface FakeAgent {
  readonly path: string;
  /** Every command read, in order, across connections. */
  readonly received: Received[];
  /** Writes raw bytes to the connected client (stale output of an earlier client, say). */
  send(bytes: Buffer | string): void;
  /** Resolves once `n` commands have been read. */
  receivedCount(n: number): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An agent that answers per `script(command)` (by default `{ return: {} }`; a sync with its id unless "none"). */
async function fakeAgent(script: (r: Received) => Reply = () => ({ answer: { return: {} } })): Promise<FakeAgent> {
  const dir = await mkdtemp(join(tmpdir(), "hx-qga-"));
  const path = join(dir, "qga.sock");
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let client: Socket | undefined;
  const server: Server = createServer((socket) => {
    client = socket;
    let buffer = Buffer.alloc(0);
    // Answers leave in order: each waits for the one before it.
    let outgoing: Promise<void> = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const ff = buffer.indexOf(0xff);
        const nl = buffer.indexOf(0x0a);
        if (ff >= 0 && (nl < 0 || ff < nl)) {
          buffer = buffer.subarray(ff + 1); // the parser reset
          continue;
        }
        if (nl < 0) return;
        const r = JSON.parse(buffer.subarray(0, nl).toString("utf8")) as Received;
        buffer = buffer.subarray(nl + 1);
        received.push(r);
        for (const w of waiters.filter((x) => received.length >= x.n)) w.resolve();
        // A sync is answered with its id, unless the script silences the agent altogether.
        const scripted = script(r);
        const reply: Reply =
          r.execute === "guest-sync-delimited" && scripted !== "none"
            ? { answer: { return: r.arguments?.id } }
            : scripted;
        if (reply === "none") continue;
        const bytes = Buffer.concat([
          Buffer.from(r.execute === "guest-sync-delimited" ? [0xff] : []),
          Buffer.from(`${JSON.stringify(reply.answer)}\n`),
        ]);
        outgoing = outgoing.then(async () => {
          if (reply.delayMs !== undefined) await new Promise((res) => setTimeout(res, reply.delayMs));
          if (!socket.destroyed) socket.write(bytes);
        });
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(async () => {
    client?.destroy();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  return {
    path,
    received,
    send: (bytes) => client?.write(bytes),
    receivedCount: (n) =>
      received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

async function connected(agent: FakeAgent, pipelined = false): Promise<GuestAgentClient> {
  const client = await GuestAgentClient.connect(agent.path, { timeoutMs: 2000, pipelined });
  cleanups.push(async () => client.close());
  return client;
}

describe("GuestAgentClient", () => {
  it("writes commands at once and gives each the answer in its place", async () => {
    // The agent answers nothing until three commands are in: a client that waited for each answer would hang.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const agent = await fakeAgent((r) => ({ answer: { return: r.execute } }));
    const client = await connected(agent);
    const answers = Promise.all([
      gate.then(() => undefined),
      client.execute("guest-info"),
      client.execute("guest-ping"),
      client.execute("guest-get-osinfo"),
    ]);
    await agent.receivedCount(4); // the sync, then the three
    release();
    expect((await answers).slice(1)).toEqual(["guest-info", "guest-ping", "guest-get-osinfo"]);
  });

  it("skips what an earlier client left unread before the sync's answer", async () => {
    const agent = await fakeAgent((r) => ({ answer: { return: `answer to ${r.execute}` } }));
    const client = await connected(agent);
    // A stray answer arrives with nothing waiting: dropped, not given to the next command.
    agent.send('{"return": "stale"}\n');
    await new Promise((r) => setTimeout(r, 50));
    expect(await client.execute("guest-ping")).toBe("answer to guest-ping");
  });

  it("pipelined connect: the sync and the commands behind it are answered in one go", async () => {
    const agent = await fakeAgent((r) => ({ answer: { return: r.execute } }));
    const client = await connected(agent, true);
    // Stale output of an earlier client, before the agent's answer to this one's sync.
    agent.send('{"return": "stale one"}\n{"return": "stale two"}\n');
    const [a, b] = await Promise.all([client.execute("guest-fsfreeze-thaw"), client.execute("guest-ping")]);
    expect([a, b]).toEqual(["guest-fsfreeze-thaw", "guest-ping"]);
    expect(client.synced).toBe(true);
    expect(agent.received.map((r) => r.execute)).toEqual(["guest-sync-delimited", "guest-fsfreeze-thaw", "guest-ping"]);
  });

  it("an agent that never answers: connect fails; a pipelined connect resolves and its first command fails", async () => {
    const agent = await fakeAgent(() => "none");
    const plain = await GuestAgentClient.connect(agent.path, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(qemuErrors.is(plain, "GUEST_AGENT_FAILED")).toBe(true);
    expect(String((plain as Error).message)).toMatch(/did not answer guest-sync-delimited within 200 ms/);
    const client = await GuestAgentClient.connect(agent.path, { timeoutMs: 200, pipelined: true });
    cleanups.push(async () => client.close());
    const failure = await client.execute("guest-ping").catch((e: unknown) => e);
    expect(qemuErrors.is(failure, "GUEST_AGENT_FAILED")).toBe(true);
    expect(String((failure as Error).message)).toMatch(
      /guest-ping was not answered: guest-sync-delimited, written before it, failed \(.*within 200 ms\)/,
    );
    expect(client.synced).toBe(false);
  });

  it("an unanswered command fails those behind it; a late answer goes to nobody; the next command resyncs", async () => {
    let slow = true;
    const agent = await fakeAgent((r) => {
      if (r.execute === "guest-fsfreeze-freeze" && slow) return { answer: { return: 2 }, delayMs: 1000 };
      return { answer: { return: r.execute } };
    });
    const client = await connected(agent);
    const freeze = client.fsFreeze({ timeoutMs: 100 }).catch((e: unknown) => e);
    const behind = client.execute("guest-ping", undefined, { timeoutMs: 5000 }).catch((e: unknown) => e);
    const [f, b] = await Promise.all([freeze, behind]);
    expect(String((f as Error).message)).toMatch(/did not answer guest-fsfreeze-freeze within 100 ms/);
    expect(qemuErrors.is(b, "GUEST_AGENT_FAILED")).toBe(true);
    expect(String((b as Error).message)).toMatch(/guest-ping was not answered: guest-fsfreeze-freeze/);
    expect([isGuestAgentErrorAnswer(f), isGuestAgentErrorAnswer(b)]).toEqual([false, false]);
    slow = false;
    // The late answers (2 for the freeze, then the ping's) reach the socket while the next command is on its way:
    // the resync skips them, so the command gets its own answer.
    const before = agent.received.length;
    expect(await client.execute("guest-info")).toBe("guest-info");
    expect(agent.received.slice(before).map((r) => r.execute)).toEqual(["guest-sync-delimited", "guest-info"]);
  });

  it("an error answer fails only its command: the stream stays in step, with no resync", async () => {
    const agent = await fakeAgent((r) =>
      r.execute === "guest-file-open"
        ? { answer: { error: { class: "GenericError", desc: "No such file" } } }
        : { answer: { return: r.execute } },
    );
    const client = await connected(agent);
    const [opened, pinged] = await Promise.allSettled([
      client.execute("guest-file-open", { path: "/nope" }),
      client.execute("guest-ping"),
    ]);
    expect(opened.status).toBe("rejected");
    expect(String((opened as PromiseRejectedResult).reason.message)).toMatch(/guest-file-open failed: No such file/);
    expect(isGuestAgentErrorAnswer((opened as PromiseRejectedResult).reason)).toBe(true);
    expect(pinged).toEqual({ status: "fulfilled", value: "guest-ping" });
    expect(agent.received.filter((r) => r.execute === "guest-sync-delimited")).toHaveLength(1);
  });

  it("an aborted command fails with ABORTED, and those behind it with it", async () => {
    const agent = await fakeAgent((r) => (r.execute === "guest-exec" ? "none" : { answer: { return: r.execute } }));
    const client = await connected(agent);
    const controller = new AbortController();
    const exec = client.execute("guest-exec", { path: "/bin/true" }, { signal: controller.signal }).catch((e) => e);
    const behind = client.execute("guest-ping").catch((e: unknown) => e);
    controller.abort();
    expect(qemuErrors.is(await exec, "ABORTED")).toBe(true);
    expect(String(((await behind) as Error).message)).toMatch(/guest-ping was not answered/);
    expect(await client.execute("guest-ping")).toBe("guest-ping");
  });

  it("setTime on a guest with no hwclock: the clock check rides behind the set, one round trip", async () => {
    const agent = await fakeAgent((r) => {
      if (r.execute === "guest-set-time") {
        return {
          answer: { error: { class: "GenericError", desc: "hwclock failed to set hardware clock to system time" } },
        };
      }
      if (r.execute === "guest-get-time") return { answer: { return: Date.now() * 1_000_000 } };
      return { answer: { return: {} } };
    });
    const client = await connected(agent);
    expect(await client.setTime(new Date())).toEqual({ hardwareClock: false });
    expect(agent.received.slice(1).map((r) => r.execute)).toEqual(["guest-set-time", "guest-get-time"]);
  });

  it("setTime still fails when the guest's clock is far off after the set", async () => {
    const agent = await fakeAgent((r) => {
      if (r.execute === "guest-set-time") {
        return {
          answer: { error: { class: "GenericError", desc: "hwclock failed to set hardware clock to system time" } },
        };
      }
      return { answer: { return: (Date.now() - 60_000) * 1_000_000 } };
    });
    const client = await connected(agent);
    const failure = await client.setTime(new Date()).catch((e: unknown) => e);
    expect(String((failure as Error).message)).toMatch(/guest-set-time failed: hwclock failed/);
  });

  it("a closed connection fails every pending command", async () => {
    const agent = await fakeAgent((r) => (r.execute === "guest-sync-delimited" ? { answer: {} } : "none"));
    const client = await connected(agent);
    const a = client.execute("guest-ping").catch((e: unknown) => e);
    const b = client.execute("guest-info").catch((e: unknown) => e);
    await agent.receivedCount(3);
    client.close();
    for (const failure of await Promise.all([a, b])) {
      expect(String((failure as Error).message)).toMatch(/connection .* closed/);
    }
  });
});
