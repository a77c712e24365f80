/**
 * A small client for the QEMU guest agent (qemu-ga) on its host-side unix
 * socket (`instancePaths(root, name).guestAgentSocket`).
 *
 * qemu-ga has no greeting and no request ids: it answers commands one by one,
 * in the order they were written. A connection is synchronised with
 * `guest-sync-delimited` (a 0xFF byte resets the agent's parser and precedes
 * the matching answer, so stale replies from an earlier client are skipped).
 * Commands are pipelined: each is written at once and takes the next answer,
 * so commands issued together cost the guest one wake-up, not one each (after
 * a resume under TCG a round trip took 0.1-0.3 s). A command that gets no
 * answer in time (or is aborted) fails every command behind it, which would
 * otherwise take its late answer; the next command resynchronises first.
 * Errors are `GUEST_AGENT_FAILED`; no agent answering (none installed, guest
 * not booted) is a timeout with that code.
 */
import { connect as netConnect, type Socket } from "node:net";
import { HexclaveError } from "./errors.js";
import { qemuErrors } from "./errors-data.js";
import { abortedError, throwIfAborted } from "./qmp-client.js";

/** How far the guest clock may be from the host's after `setTime` for the system clock to count as set. */
const CLOCK_TOLERANCE_MS = 2_000;
/** The sync handshake's default deadline. */
const SYNC_TIMEOUT_MS = 5_000;

export interface GuestAgentConnectOptions {
  /** Deadline for connecting and the sync handshake. Default 5000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * Resolve once the socket is connected and the sync is written, without waiting for the agent's answer: the
   * commands issued next are written behind the sync and fail with it (a guest with no agent shows as their
   * `GUEST_AGENT_FAILED`, not the connect's). Saves the handshake's round trip. Default false.
   */
  readonly pipelined?: boolean;
}

export interface GuestAgentCommandOptions {
  /** Default 30000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface GuestExecResult {
  readonly exitCode: number | undefined;
  readonly signal: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the agent truncated the captured output. */
  readonly truncated: boolean;
}

const FF = 0xff;

/**
 * Whether `error` is the agent's own error answer to a command (`details.errorClass`, e.g. no such file), as opposed
 * to no answer at all: a timeout, an abort, a closed connection, or a command behind one that went unanswered.
 */
export function isGuestAgentErrorAnswer(error: unknown): boolean {
  return qemuErrors.is(error, "GUEST_AGENT_FAILED") && error.details.errorClass !== undefined;
}

/** A command written to the agent, waiting for its answer. */
interface Pending {
  readonly command: string;
  /** A `guest-sync-delimited`: its answer follows an 0xFF, and whatever comes before that is stale. */
  readonly delimited: boolean;
  settle(answer: Record<string, unknown> | Error): void;
}

export class GuestAgentClient {
  readonly socketPath: string;
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  /** Written and not yet answered, oldest first: the agent answers in this order. */
  private readonly pending: Pending[] = [];
  /** The head (a delimited sync) has seen its 0xFF: lines are answers again. */
  private headSawFF = false;
  /** A command went unanswered: the next one is preceded by a sync. */
  private desynced = false;
  /** The agent has answered a sync on this connection ({@link synced}). */
  private syncAnswered = false;
  private closed: HexclaveError | undefined;

  private constructor(socketPath: string, socket: Socket) {
    this.socketPath = socketPath;
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.onClose(e));
    socket.on("close", () => this.onClose(undefined));
    socket.unref();
  }

  /** Connects and synchronises with the agent (`guest-sync-delimited`); see `pipelined`. */
  static async connect(socketPath: string, options: GuestAgentConnectOptions = {}): Promise<GuestAgentClient> {
    throwIfAborted(options.signal);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ path: socketPath });
      s.once("connect", () => {
        s.off("error", reject);
        resolve(s);
      });
      s.once("error", (cause) =>
        reject(
          qemuErrors.create(
            "GUEST_AGENT_FAILED",
            `Could not connect to the guest agent socket ${socketPath}: ${cause.message}`,
            {
              cause,
              hint: "Is the VM running with a guest agent channel?",
            },
          ),
        ),
      );
    });
    const client = new GuestAgentClient(socketPath, socket);
    const synced = client.sync(options);
    if (options.pipelined === true) {
      // Its failure reaches the commands behind it; nothing else waits for it.
      synced.catch(() => {});
      return client;
    }
    try {
      await synced;
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const head = this.pending[0];
      if (head?.delimited === true && !this.headSawFF) {
        const ff = this.buffer.indexOf(FF);
        if (ff < 0) {
          this.buffer = Buffer.alloc(0);
          return;
        }
        this.buffer = this.buffer.subarray(ff + 1);
        this.headSawFF = true;
      }
      const nl = this.buffer.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.buffer.subarray(0, nl).toString("utf8").trim();
      this.buffer = this.buffer.subarray(nl + 1);
      if (line === "") continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      // An answer with nothing waiting is stale (a command given up on): dropped.
      const answeredOne = this.shift();
      if (answeredOne?.delimited === true) this.syncAnswered = true;
      answeredOne?.settle(msg);
    }
  }

  /** Removes the head of the pending commands. */
  private shift(): Pending | undefined {
    const head = this.pending.shift();
    this.headSawFF = false;
    if (this.pending.length === 0) this.socket.unref();
    return head;
  }

  /** Fails every pending command (`first` gets `error`, the rest are told why) and marks the stream out of step. */
  private failPending(first: Pending, error: Error): void {
    const rest = this.pending.splice(0).filter((p) => p !== first);
    this.headSawFF = false;
    this.socket.unref();
    this.desynced = true;
    first.settle(error);
    for (const p of rest) {
      p.settle(
        qemuErrors.create(
          "GUEST_AGENT_FAILED",
          `Guest agent ${p.command} was not answered: ${first.command}, written before it, failed (${error.message})`,
          { cause: error, details: { command: p.command } },
        ),
      );
    }
  }

  /**
   * Whether the agent has answered a sync on this connection: false after a pipelined connect to a guest whose
   * agent never answers (its commands then fail with "not answered"), true once it did.
   */
  get synced(): boolean {
    return this.syncAnswered;
  }

  private onClose(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = qemuErrors.create(
      "GUEST_AGENT_FAILED",
      `Guest agent connection ${this.socketPath} closed${cause ? `: ${cause.message}` : ""}`,
      { cause },
    );
    for (const p of this.pending.splice(0)) p.settle(this.closed);
    this.socket.destroy();
  }

  /** Resynchronises: everything the agent sent before the echo of a random id is skipped. */
  async sync(options: GuestAgentCommandOptions = {}): Promise<void> {
    const id = Math.floor(Math.random() * 2 ** 31);
    this.desynced = false;
    const answer = await this.roundTrip(
      { execute: "guest-sync-delimited", arguments: { id } },
      { ...options, timeoutMs: options.timeoutMs ?? SYNC_TIMEOUT_MS },
      true,
    );
    if (answer !== id) {
      this.desynced = true;
      throw qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent answered sync ${String(answer)}, expected ${id}`);
    }
  }

  /** Runs one guest agent command and returns its `return` value (written at once: see the file's comment). */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: GuestAgentCommandOptions = {},
  ): Promise<T> {
    const payload: Record<string, unknown> = { execute: command };
    if (args !== undefined) payload.arguments = args;
    if (this.desynced && this.closed === undefined) this.sync(options).catch(() => {}); // fails this one with it
    return this.roundTrip(payload, options, false) as Promise<T>;
  }

  private roundTrip(
    payload: Record<string, unknown>,
    options: GuestAgentCommandOptions,
    delimited: boolean,
  ): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      if (options.signal?.aborted) return reject(abortedError(options.signal));
      const timeoutMs = options.timeoutMs ?? 30_000;
      const command = String(payload.execute);
      const entry: Pending = {
        command,
        delimited,
        settle: (msg) => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          if (msg instanceof Error) return reject(msg);
          if ("error" in msg) {
            const err = (msg.error as { class?: string; desc?: string }) ?? {};
            return reject(
              qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent ${command} failed: ${err.desc ?? "unknown error"}`, {
                details: { command, errorClass: err.class ?? "GenericError", desc: err.desc },
              }),
            );
          }
          resolve(msg.return);
        },
      };
      const onAbort = () => this.failPending(entry, abortedError(options.signal));
      const timer = setTimeout(
        () =>
          this.failPending(
            entry,
            qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent did not answer ${command} within ${timeoutMs} ms`, {
              hint: "Is qemu-guest-agent installed and running in the guest (and the guest booted)?",
              details: { command, timeoutMs },
            }),
          ),
        timeoutMs,
      );
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.push(entry);
      this.socket.ref();
      this.socket.write(
        delimited
          ? Buffer.concat([Buffer.from([FF]), Buffer.from(`${JSON.stringify(payload)}\n`)])
          : `${JSON.stringify(payload)}\n`,
      );
    });
  }

  /**
   * Asks the guest's OS to power off, reboot or halt (`guest-shutdown`; the
   * agent runs the guest's own shutdown, so services stop cleanly). The agent
   * sends no reply when the command succeeds: this resolves when the
   * connection closes (the guest went away) or `waitMs` (default 1000) passed
   * without an error reply, and throws `GUEST_AGENT_FAILED` only when the
   * agent answers with an error. Keep the connection open meanwhile: closing
   * it at once was seen to leave the guest running. Watch the VM (QEMU exits
   * on power-off) to know it happened.
   */
  async shutdown(
    mode: "powerdown" | "reboot" | "halt" = "powerdown",
    options: GuestAgentCommandOptions & { waitMs?: number } = {},
  ): Promise<void> {
    const waitMs = options.waitMs ?? 1000;
    try {
      await this.execute("guest-shutdown", { mode }, { ...options, timeoutMs: waitMs });
    } catch (error) {
      // No answer within waitMs is the success case; so is the agent going away as the guest shuts down.
      if (qemuErrors.is(error, "GUEST_AGENT_FAILED") && !isGuestAgentErrorAnswer(error)) return;
      throw error;
    }
  }

  /** `guest-ping`: resolves when the agent answers. */
  async ping(options?: GuestAgentCommandOptions): Promise<void> {
    await this.execute("guest-ping", undefined, options);
  }

  /**
   * Runs a program in the guest (`guest-exec`, argv form, output captured) and
   * polls `guest-exec-status` until it exits.
   */
  async exec(
    path: string,
    args: readonly string[] = [],
    options: GuestAgentCommandOptions & { input?: string; pollMs?: number } = {},
  ): Promise<GuestExecResult> {
    const started = await this.execute<{ pid: number }>(
      "guest-exec",
      {
        path,
        arg: [...args],
        "capture-output": true,
        ...(options.input !== undefined ? { "input-data": Buffer.from(options.input).toString("base64") } : {}),
      },
      options,
    );
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const s = await this.execute<{
        exited: boolean;
        exitcode?: number;
        signal?: number;
        "out-data"?: string;
        "err-data"?: string;
        "out-truncated"?: boolean;
        "err-truncated"?: boolean;
      }>("guest-exec-status", { pid: started.pid }, options);
      if (s.exited) {
        return {
          exitCode: s.exitcode,
          signal: s.signal,
          stdout: Buffer.from(s["out-data"] ?? "", "base64").toString("utf8"),
          stderr: Buffer.from(s["err-data"] ?? "", "base64").toString("utf8"),
          truncated: s["out-truncated"] === true || s["err-truncated"] === true,
        };
      }
      if (Date.now() > deadline) {
        throw qemuErrors.create("GUEST_AGENT_FAILED", `${path} did not exit in the guest in time`, {
          details: { pid: started.pid },
        });
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
      throwIfAborted(options.signal);
    }
  }

  /** `guest-get-time`: the guest's clock. */
  async getTime(options?: GuestAgentCommandOptions): Promise<Date> {
    const ns = await this.execute<number>("guest-get-time", undefined, options);
    return new Date(Math.round(ns / 1_000_000));
  }

  /**
   * `guest-set-time`: sets the guest clock (default: the host's now), e.g. after a resume.
   *
   * qemu-ga sets the system clock first, then runs `hwclock -w`; a guest without `hwclock` reports an
   * error although its clock was set. That case is checked with `guest-get-time`, written right behind the set (one
   * round trip, not two), and reported as `{ hardwareClock: false }` instead of failing.
   */
  async setTime(date: Date = new Date(), options?: GuestAgentCommandOptions): Promise<{ hardwareClock: boolean }> {
    const set = this.execute("guest-set-time", { time: date.getTime() * 1_000_000 }, options);
    const check = this.execute<number>("guest-get-time", undefined, options);
    check.catch(() => {}); // read only when the set reports no hardware clock
    try {
      await set;
      return { hardwareClock: true };
    } catch (error) {
      const desc = HexclaveError.is(error) ? String(error.details.desc ?? "") : "";
      if (!/hardware clock/i.test(desc)) throw error;
      const skewMs = Math.abs(Math.round((await check) / 1_000_000) - Date.now());
      if (skewMs > CLOCK_TOLERANCE_MS) throw error;
      return { hardwareClock: false };
    }
  }

  /** `guest-fsfreeze-freeze`: flushes and freezes guest file systems; returns how many. Always thaw after. */
  fsFreeze(options?: GuestAgentCommandOptions): Promise<number> {
    return this.execute<number>("guest-fsfreeze-freeze", undefined, options);
  }

  /** `guest-fsfreeze-thaw`: returns how many file systems were thawed. */
  fsThaw(options?: GuestAgentCommandOptions): Promise<number> {
    return this.execute<number>("guest-fsfreeze-thaw", undefined, options);
  }

  /**
   * Reads a whole guest file (`guest-file-open/read/close`), up to `maxBytes` (default 1 MiB, at most the agent's
   * 48 MiB per read). Two round trips: the agent reads up to `count` bytes in one `guest-file-read` (to the end of a
   * regular file), so the read asks for all of it and the close is written right behind it.
   */
  async readFile(path: string, options: GuestAgentCommandOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const max = options.maxBytes ?? 1024 * 1024;
    const handle = await this.execute<number>("guest-file-open", { path, mode: "r" }, options);
    const read = this.execute<{ count: number; "buf-b64": string; eof: boolean }>(
      "guest-file-read",
      { handle, count: max },
      options,
    );
    const closed = this.execute("guest-file-close", { handle }, options).catch(() => {});
    try {
      return Buffer.from((await read)["buf-b64"], "base64").subarray(0, max);
    } finally {
      await closed;
    }
  }

  close(): void {
    this.onClose(undefined);
  }
}
