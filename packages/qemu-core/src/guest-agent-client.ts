/**
 * A small client for the QEMU guest agent (qemu-ga) on its host-side unix
 * socket (`instancePaths(root, name).guestAgentSocket`).
 *
 * qemu-ga has no greeting and no request ids: the connection is synchronised
 * with `guest-sync-delimited` (a 0xFF byte resets the agent's parser and
 * precedes the matching answer, so stale replies from an earlier client are
 * skipped), then one command runs at a time. Errors are `GUEST_AGENT_FAILED`;
 * no agent answering (none installed, guest not booted) is a timeout with
 * that code.
 */
import { connect as netConnect, type Socket } from "node:net";
import { HexclaveError } from "./errors.js";
import { qemuErrors } from "./errors-data.js";
import { abortedError, throwIfAborted } from "./qmp-client.js";

/** How far the guest clock may be from the host's after `setTime` for the system clock to count as set. */
const CLOCK_TOLERANCE_MS = 2_000;

export interface GuestAgentConnectOptions {
  /** Deadline for connecting and the sync handshake. Default 5000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
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

export class GuestAgentClient {
  readonly socketPath: string;
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private waiting: ((msg: Record<string, unknown> | Error) => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed: HexclaveError | undefined;
  private skipUntilFF = false;

  private constructor(socketPath: string, socket: Socket) {
    this.socketPath = socketPath;
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.onClose(e));
    socket.on("close", () => this.onClose(undefined));
    socket.unref();
  }

  /** Connects and synchronises with the agent (`guest-sync-delimited`). */
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
    try {
      await client.sync(options);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.skipUntilFF) {
        const ff = this.buffer.indexOf(FF);
        if (ff < 0) {
          this.buffer = Buffer.alloc(0);
          return;
        }
        this.buffer = this.buffer.subarray(ff + 1);
        this.skipUntilFF = false;
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
      const w = this.waiting;
      this.waiting = undefined;
      w?.(msg);
    }
  }

  private onClose(cause: Error | undefined): void {
    if (this.closed) return;
    this.closed = qemuErrors.create(
      "GUEST_AGENT_FAILED",
      `Guest agent connection ${this.socketPath} closed${cause ? `: ${cause.message}` : ""}`,
      { cause },
    );
    const w = this.waiting;
    this.waiting = undefined;
    w?.(this.closed);
    this.socket.destroy();
  }

  /** Resynchronises: discards anything buffered and waits for the agent's echo of a random id. */
  async sync(options: GuestAgentCommandOptions = {}): Promise<void> {
    const id = Math.floor(Math.random() * 2 ** 31);
    this.buffer = Buffer.alloc(0);
    const answer = await this.roundTrip(
      { execute: "guest-sync-delimited", arguments: { id } },
      { ...options, timeoutMs: options.timeoutMs ?? 5000 },
      true,
    );
    if (answer !== id) {
      throw qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent answered sync ${String(answer)}, expected ${id}`);
    }
  }

  /** Runs one guest agent command and returns its `return` value. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: GuestAgentCommandOptions = {},
  ): Promise<T> {
    const payload: Record<string, unknown> = { execute: command };
    if (args !== undefined) payload.arguments = args;
    return this.roundTrip(payload, options, false) as Promise<T>;
  }

  private roundTrip(
    payload: Record<string, unknown>,
    options: GuestAgentCommandOptions,
    delimited: boolean,
  ): Promise<unknown> {
    const run = () =>
      new Promise<unknown>((resolve, reject) => {
        if (this.closed) return reject(this.closed);
        if (options.signal?.aborted) return reject(abortedError(options.signal));
        const timeoutMs = options.timeoutMs ?? 30_000;
        const command = String(payload.execute);
        const finish = () => {
          clearTimeout(timer);
          options.signal?.removeEventListener("abort", onAbort);
          this.waiting = undefined;
          this.socket.unref();
        };
        const onAbort = () => {
          finish();
          reject(abortedError(options.signal));
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent did not answer ${command} within ${timeoutMs} ms`, {
              hint: "Is qemu-guest-agent installed and running in the guest (and the guest booted)?",
              details: { command, timeoutMs },
            }),
          );
        }, timeoutMs);
        options.signal?.addEventListener("abort", onAbort, { once: true });
        this.waiting = (msg) => {
          finish();
          if (msg instanceof Error) return reject(msg);
          if ("error" in msg) {
            const err = (msg.error as { class?: string; desc?: string }) ?? {};
            return reject(
              qemuErrors.create("GUEST_AGENT_FAILED", `Guest agent ${command} failed: ${err.desc ?? "unknown error"}`, {
                details: { command, errorClass: err.class, desc: err.desc },
              }),
            );
          }
          resolve(msg.return);
        };
        this.socket.ref();
        if (delimited) {
          this.skipUntilFF = true;
          this.socket.write(Buffer.from([FF]));
        }
        this.socket.write(`${JSON.stringify(payload)}\n`);
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
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
      if (qemuErrors.is(error, "GUEST_AGENT_FAILED") && error.details.errorClass === undefined) return;
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
   * error although its clock was set. That case is checked with `guest-get-time` and reported as
   * `{ hardwareClock: false }` instead of failing.
   */
  async setTime(date: Date = new Date(), options?: GuestAgentCommandOptions): Promise<{ hardwareClock: boolean }> {
    try {
      await this.execute("guest-set-time", { time: date.getTime() * 1_000_000 }, options);
      return { hardwareClock: true };
    } catch (error) {
      const desc = HexclaveError.is(error) ? String(error.details.desc ?? "") : "";
      if (!/hardware clock/i.test(desc)) throw error;
      const skewMs = Math.abs((await this.getTime(options)).getTime() - Date.now());
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

  /** Reads a whole guest file (`guest-file-open/read/close`), up to `maxBytes` (default 1 MiB). */
  async readFile(path: string, options: GuestAgentCommandOptions & { maxBytes?: number } = {}): Promise<Buffer> {
    const handle = await this.execute<number>("guest-file-open", { path, mode: "r" }, options);
    const chunks: Buffer[] = [];
    let total = 0;
    const max = options.maxBytes ?? 1024 * 1024;
    try {
      for (;;) {
        const r = await this.execute<{ count: number; "buf-b64": string; eof: boolean }>(
          "guest-file-read",
          { handle, count: Math.min(65536, max - total) },
          options,
        );
        const b = Buffer.from(r["buf-b64"], "base64");
        chunks.push(b);
        total += b.length;
        if (r.eof || r.count === 0 || total >= max) break;
      }
    } finally {
      await this.execute("guest-file-close", { handle }, options).catch(() => {});
    }
    return Buffer.concat(chunks);
  }

  close(): void {
    this.onClose(undefined);
  }
}
