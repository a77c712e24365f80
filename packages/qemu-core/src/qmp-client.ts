/**
 * A client for the QEMU Machine Protocol (QMP) over a unix socket.
 *
 * One persistent connection: the greeting is read, capabilities are
 * negotiated (`qmp_capabilities`), every command carries an `id` and its reply
 * is matched by it, asynchronous events are delivered to listeners, to async
 * iterators and to {@link QmpClient.waitForEvent}. Errors are typed:
 * `QMP_COMMAND_FAILED` (with QEMU's error class and description),
 * `QMP_TIMEOUT`, `QMP_DISCONNECTED`, `QMP_CONNECT_FAILED`.
 *
 * A QMP socket serves one client at a time: keep one client per VM per
 * process (VmInstance does) and {@link QmpClient.close} it when done. The
 * socket is unreferenced while idle, so an open client never keeps Node alive.
 */
import { EventEmitter } from "node:events";
import { connect as netConnect, type Socket } from "node:net";
import { HexclaveError } from "./errors.js";
import { qemuErrors } from "./errors-data.js";

/** An asynchronous QMP event (`STOP`, `RESUME`, `SHUTDOWN`, `JOB_STATUS_CHANGE`, ...). */
export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
  readonly timestamp: { readonly seconds: number; readonly microseconds: number };
}

/** The greeting QEMU sends on connect. */
export interface QmpGreeting {
  readonly version: { readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number } };
  readonly package: string;
  readonly capabilities: readonly string[];
}

/** Answer of `query-status`. */
export interface QmpStatus {
  readonly running: boolean;
  readonly singlestep?: boolean;
  /** `running`, `paused`, `prelaunch`, `inmigrate`, `postmigrate`, `shutdown`, `guest-panicked`, ... */
  readonly status: string;
}

/** One entry of `query-jobs`. */
export interface QmpJobInfo {
  readonly id: string;
  readonly type: string;
  readonly status: string;
  readonly "current-progress": number;
  readonly "total-progress": number;
  readonly error?: string;
}

export interface QmpConnectOptions {
  /** Deadline for connecting, the greeting and capability negotiation. Default 5000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Default timeout of each command. Default 30000 ms. */
  readonly commandTimeoutMs?: number;
}

export interface QmpCommandOptions {
  /** Overrides the client's default command timeout. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface QmpWaitOptions {
  /** Default 30000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Only events for which this returns true resolve the wait. */
  readonly filter?: (event: QmpEvent) => boolean;
}

export interface QmpSnapshotOptions {
  /** Node names of the block devices to snapshot (all writable qcow2 drives). */
  readonly devices: readonly string[];
  /** Node name of the device that receives the VM state (RAM, devices). Defaults to the first device. */
  readonly vmstate?: string;
  /** Deadline for the whole job. Default 300000 ms. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Job id; a unique one is generated when absent. */
  readonly jobId?: string;
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Message = Record<string, unknown>;

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const DEFAULT_JOB_TIMEOUT_MS = 300_000;

/** Text that `human-monitor-command` returns on failure (`savevm`, `loadvm`, `delvm` reply "successfully" with it). */
const HMP_ERROR_PATTERN = /(^|\n)\s*Error\b|\berror:/i;

let jobCounter = 0;

export class QmpClient {
  /** The greeting QEMU sent: its version and capabilities. */
  readonly greeting: QmpGreeting;
  readonly socketPath: string;
  private readonly socket: Socket;
  private readonly emitter = new EventEmitter();
  private readonly pending = new Map<string, Pending>();
  private buffer = "";
  private nextId = 1;
  private closedError: HexclaveError | undefined;
  private waiters = 0;
  private readonly commandTimeoutMs: number;

  private constructor(socketPath: string, socket: Socket, greeting: QmpGreeting, commandTimeoutMs: number) {
    this.socketPath = socketPath;
    this.socket = socket;
    this.greeting = greeting;
    this.commandTimeoutMs = commandTimeoutMs;
    this.emitter.setMaxListeners(0);
  }

  /**
   * Connects to a QMP socket, reads the greeting and negotiates capabilities.
   * Throws `QMP_CONNECT_FAILED` when nothing listens (or the deadline passes),
   * `ABORTED` when `signal` fires.
   */
  static async connect(socketPath: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    if (typeof socketPath !== "string" || socketPath === "") {
      throw qemuErrors.create("QMP_CONNECT_FAILED", "QMP socket path is empty", {
        hint: "Pass the path of the VM's QMP socket (instancePaths(root, name).qmpSocket).",
      });
    }
    throwIfAborted(options.signal);
    const socket = netConnect({ path: socketPath });
    socket.setEncoding("utf8");
    let onAbort: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let leftover = "";
    try {
      const greeting = await new Promise<QmpGreeting>((resolve, reject) => {
        let buf = "";
        const fail = (error: unknown) => {
          cleanup();
          socket.destroy();
          reject(error);
        };
        const onData = (chunk: string) => {
          buf += chunk;
          const nl = buf.indexOf("\n");
          if (nl < 0) return;
          const line = buf.slice(0, nl);
          const rest = buf.slice(nl + 1);
          let msg: Message;
          try {
            msg = JSON.parse(line) as Message;
          } catch (cause) {
            fail(
              qemuErrors.create(
                "QMP_CONNECT_FAILED",
                `${socketPath} did not send a QMP greeting: ${line.slice(0, 200)}`,
                {
                  cause,
                  hint: "Is this really a QMP socket (and not the guest agent's)?",
                },
              ),
            );
            return;
          }
          if (typeof msg.QMP !== "object" || msg.QMP === null) {
            fail(qemuErrors.create("QMP_CONNECT_FAILED", `${socketPath} sent no QMP greeting: ${line.slice(0, 200)}`));
            return;
          }
          cleanup();
          leftover = rest;
          resolve(msg.QMP as QmpGreeting);
        };
        const onError = (cause: Error) =>
          fail(
            qemuErrors.create("QMP_CONNECT_FAILED", `Could not connect to QMP at ${socketPath}: ${cause.message}`, {
              cause,
              details: { socketPath },
            }),
          );
        const onClose = () =>
          fail(qemuErrors.create("QMP_CONNECT_FAILED", `QMP at ${socketPath} closed before its greeting`));
        const cleanup = () => {
          socket.off("data", onData);
          socket.off("error", onError);
          socket.off("close", onClose);
        };
        socket.on("data", onData);
        socket.on("error", onError);
        socket.on("close", onClose);
        timer = setTimeout(
          () =>
            fail(
              qemuErrors.create("QMP_CONNECT_FAILED", `No QMP greeting from ${socketPath} within ${timeoutMs} ms`, {
                hint: "Another client may hold the QMP socket (it serves one at a time), or QEMU is hung.",
                details: { socketPath, timeoutMs },
              }),
            ),
          timeoutMs,
        );
        onAbort = () => fail(abortedError(options.signal));
        options.signal?.addEventListener("abort", onAbort, { once: true });
      });
      const client = new QmpClient(
        socketPath,
        socket,
        greeting,
        options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      );
      client.buffer = leftover;
      client.attach();
      const remaining = Math.max(500, timeoutMs);
      await client.execute("qmp_capabilities", undefined, {
        timeoutMs: remaining,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** True until the connection closes. */
  get connected(): boolean {
    return this.closedError === undefined;
  }

  private attach(): void {
    this.socket.on("data", (chunk: string) => this.onData(chunk));
    this.socket.on("error", (cause: Error) => this.onClosed(cause));
    this.socket.on("close", () => this.onClosed(undefined));
    this.updateRef();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl < 0) return;
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === "") continue;
      let msg: Message;
      try {
        msg = JSON.parse(line) as Message;
      } catch {
        continue;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Message): void {
    if (typeof msg.event === "string") {
      const event: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown> | undefined) ?? {},
        timestamp: (msg.timestamp as QmpEvent["timestamp"] | undefined) ?? { seconds: 0, microseconds: 0 },
      };
      this.emitter.emit("event", event);
      this.emitter.emit(event.event, event);
      return;
    }
    const id = typeof msg.id === "string" ? msg.id : undefined;
    if (id === undefined) return;
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    this.updateRef();
    if ("error" in msg) {
      const err = (msg.error as { class?: string; desc?: string } | undefined) ?? {};
      pending.reject(
        qemuErrors.create("QMP_COMMAND_FAILED", `QMP ${pending.command} failed: ${err.desc ?? "unknown error"}`, {
          details: { command: pending.command, errorClass: err.class ?? "GenericError", desc: err.desc ?? "" },
        }),
      );
    } else {
      pending.resolve(msg.return);
    }
  }

  private onClosed(cause: Error | undefined): void {
    if (this.closedError) return;
    this.closedError = qemuErrors.create(
      "QMP_DISCONNECTED",
      `QMP connection to ${this.socketPath} closed${cause ? `: ${cause.message}` : ""}`,
      { cause, details: { socketPath: this.socketPath } },
    );
    for (const [, p] of this.pending) p.reject(this.closedError);
    this.pending.clear();
    this.emitter.emit("close", this.closedError);
    this.socket.destroy();
  }

  /** Keeps Node alive only while something waits on this connection. */
  private updateRef(): void {
    if (this.closedError) return;
    if (this.pending.size > 0 || this.waiters > 0) this.socket.ref();
    else this.socket.unref();
  }

  /**
   * Runs one QMP command and resolves with its `return` value.
   * Throws `QMP_COMMAND_FAILED` (details: `errorClass`, `desc`), `QMP_TIMEOUT`,
   * `QMP_DISCONNECTED`, or `ABORTED`.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: QmpCommandOptions = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (options.signal?.aborted) return Promise.reject(abortedError(options.signal));
    const id = `hx-${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        this.pending.delete(id);
        this.updateRef();
        cleanup();
        reject(abortedError(options.signal));
      };
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
      };
      this.pending.set(id, {
        command,
        resolve: (v) => {
          cleanup();
          resolve(v as T);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      });
      timer = setTimeout(() => {
        this.pending.delete(id);
        this.updateRef();
        cleanup();
        reject(
          qemuErrors.create("QMP_TIMEOUT", `QMP ${command} got no answer within ${timeoutMs} ms`, {
            details: { command, timeoutMs },
          }),
        );
      }, timeoutMs);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.updateRef();
      const payload: Message = { execute: command, id };
      if (args !== undefined) payload.arguments = args;
      this.socket.write(`${JSON.stringify(payload)}\n`);
    });
  }

  /** Subscribes to every event (or one event name). Returns the unsubscribe function. */
  on(listener: (event: QmpEvent) => void): () => void;
  on(name: string, listener: (event: QmpEvent) => void): () => void;
  on(a: string | ((event: QmpEvent) => void), b?: (event: QmpEvent) => void): () => void {
    const name = typeof a === "string" ? a : "event";
    const listener = (typeof a === "string" ? b : a) as (event: QmpEvent) => void;
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }

  /** Called once when the connection closes, with the `QMP_DISCONNECTED` error. */
  onClose(listener: (error: HexclaveError) => void): () => void {
    if (this.closedError) {
      const err = this.closedError;
      queueMicrotask(() => listener(err));
      return () => {};
    }
    this.emitter.once("close", listener);
    return () => this.emitter.off("close", listener);
  }

  /**
   * Events as an async iterator, from now until the connection closes or
   * `signal` fires: `for await (const e of client.events()) ...`.
   */
  async *events(options: { signal?: AbortSignal } = {}): AsyncGenerator<QmpEvent, void, undefined> {
    const queue: QmpEvent[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const offEvent = this.on((e) => {
      queue.push(e);
      wake?.();
    });
    const offClose = this.onClose(() => {
      done = true;
      wake?.();
    });
    const onAbort = () => {
      done = true;
      wake?.();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.waiters++;
    this.updateRef();
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (done || options.signal?.aborted) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      offEvent();
      offClose();
      options.signal?.removeEventListener("abort", onAbort);
      this.waiters--;
      this.updateRef();
    }
  }

  /**
   * Resolves with the next event named `name` (matching `filter`), or throws
   * `QMP_TIMEOUT`, `QMP_DISCONNECTED`, `ABORTED`. Call it before the command
   * that causes the event, and await it after.
   */
  waitForEvent(name: string, options: QmpWaitOptions = {}): Promise<QmpEvent> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (options.signal?.aborted) return Promise.reject(abortedError(options.signal));
    const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.waiters++;
    this.updateRef();
    return new Promise<QmpEvent>((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        offEvent();
        offClose();
        options.signal?.removeEventListener("abort", onAbort);
        this.waiters--;
        this.updateRef();
        fn();
      };
      const offEvent = this.on(name, (e) => {
        if (options.filter && !options.filter(e)) return;
        finish(() => resolve(e));
      });
      const offClose = this.onClose((err) => finish(() => reject(err)));
      const onAbort = () => finish(() => reject(abortedError(options.signal)));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              qemuErrors.create("QMP_TIMEOUT", `No QMP event ${name} within ${timeoutMs} ms`, {
                details: { event: name, timeoutMs },
              }),
            ),
          ),
        timeoutMs,
      );
    });
  }

  /** `query-status`: whether the vCPUs run and the VM's run state. */
  queryStatus(options?: QmpCommandOptions): Promise<QmpStatus> {
    return this.execute<QmpStatus>("query-status", undefined, options);
  }

  /** `system_powerdown`: presses the ACPI power button (the guest may ignore it). */
  async systemPowerdown(options?: QmpCommandOptions): Promise<void> {
    await this.execute("system_powerdown", undefined, options);
  }

  /** `system_reset`: resets the machine as its reset button would (the guest boots again; emits `RESET`). */
  async systemReset(options?: QmpCommandOptions): Promise<void> {
    await this.execute("system_reset", undefined, options);
  }

  /** `quit`: QEMU exits at once (no guest shutdown). Resolves when QEMU accepted it or closed the socket. */
  async quit(options?: QmpCommandOptions): Promise<void> {
    try {
      await this.execute("quit", undefined, options);
    } catch (error) {
      if (!qemuErrors.is(error, "QMP_DISCONNECTED")) throw error;
    }
  }

  /** `stop`: pauses the vCPUs (emits `STOP`). */
  async stop(options?: QmpCommandOptions): Promise<void> {
    await this.execute("stop", undefined, options);
  }

  /** `cont`: resumes the vCPUs (emits `RESUME`). */
  async cont(options?: QmpCommandOptions): Promise<void> {
    await this.execute("cont", undefined, options);
  }

  /** `set_link`: brings a NIC's link up or down (bounce it after a resume). */
  async setLink(name: string, up: boolean, options?: QmpCommandOptions): Promise<void> {
    await this.execute("set_link", { name, up }, options);
  }

  /**
   * `human-monitor-command`: runs an HMP command and returns its text. HMP
   * commands such as `savevm`/`loadvm` report failure as text in a successful
   * reply; such text is raised as `QMP_COMMAND_FAILED` (details.output).
   */
  async humanMonitorCommand(commandLine: string, options?: QmpCommandOptions): Promise<string> {
    const out = await this.execute<string>("human-monitor-command", { "command-line": commandLine }, options);
    const text = typeof out === "string" ? out : "";
    if (HMP_ERROR_PATTERN.test(text)) {
      throw qemuErrors.create("QMP_COMMAND_FAILED", `HMP "${commandLine}" failed: ${text.trim()}`, {
        details: {
          command: "human-monitor-command",
          commandLine,
          output: text,
          errorClass: "HmpError",
          desc: text.trim(),
        },
      });
    }
    return text;
  }

  /** `query-jobs`. */
  queryJobs(options?: QmpCommandOptions): Promise<QmpJobInfo[]> {
    return this.execute<QmpJobInfo[]>("query-jobs", undefined, options);
  }

  /**
   * Starts a job-creating command (`snapshot-save`, ...) and waits for the job
   * to conclude (`JOB_STATUS_CHANGE` events, `query-jobs`), dismisses it, and
   * throws `QMP_COMMAND_FAILED` with the job's error if it failed.
   */
  async runJob(
    command: string,
    args: Record<string, unknown> & { "job-id": string },
    options: QmpCommandOptions = {},
  ): Promise<void> {
    const jobId = args["job-id"];
    const timeoutMs = options.timeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
    const signal = options.signal;
    const concluded = this.waitForEvent("JOB_STATUS_CHANGE", {
      timeoutMs,
      ...(signal ? { signal } : {}),
      filter: (e) => e.data.id === jobId && (e.data.status === "concluded" || e.data.status === "null"),
    });
    concluded.catch(() => {});
    await this.execute(command, args, signal ? { signal } : {});
    // The job may have concluded before the listener saw it? No: events arrive after the reply
    // on the same connection and the listener was registered first. Still, check once.
    const jobs = await this.queryJobs(signal ? { signal } : {});
    let job = jobs.find((j) => j.id === jobId);
    if (job && job.status !== "concluded") {
      await concluded;
      job = (await this.queryJobs(signal ? { signal } : {})).find((j) => j.id === jobId);
    }
    if (job) {
      await this.execute("job-dismiss", { id: jobId }, signal ? { signal } : {}).catch(() => {});
    }
    if (job?.error) {
      throw qemuErrors.create("QMP_COMMAND_FAILED", `QMP ${command} job ${jobId} failed: ${job.error}`, {
        details: { command, jobId, errorClass: "JobError", desc: job.error },
      });
    }
  }

  /** `snapshot-save` (QEMU >= 6.0): an internal snapshot of RAM and the given drives, named `tag`. */
  async snapshotSave(tag: string, options: QmpSnapshotOptions): Promise<void> {
    const devices = [...options.devices];
    const vmstate = options.vmstate ?? devices[0];
    if (vmstate === undefined) {
      throw qemuErrors.create("SNAPSHOT_FAILED", `Cannot save snapshot "${tag}": the VM has no drive to hold it`, {
        hint: "Attach a writable qcow2 drive (the overlay).",
      });
    }
    await this.runJob(
      "snapshot-save",
      { "job-id": options.jobId ?? newJobId("save"), tag, vmstate, devices },
      jobOptions(options),
    );
  }

  /** `snapshot-load`: restores RAM and drives from snapshot `tag` (pause the VM first). */
  async snapshotLoad(tag: string, options: QmpSnapshotOptions): Promise<void> {
    const devices = [...options.devices];
    const vmstate = options.vmstate ?? devices[0];
    if (vmstate === undefined) {
      throw qemuErrors.create("SNAPSHOT_FAILED", `Cannot load snapshot "${tag}": no drive given`);
    }
    await this.runJob(
      "snapshot-load",
      { "job-id": options.jobId ?? newJobId("load"), tag, vmstate, devices },
      jobOptions(options),
    );
  }

  /** `snapshot-delete`: removes snapshot `tag` from the given drives (drives without it are skipped). */
  async snapshotDelete(tag: string, options: Omit<QmpSnapshotOptions, "vmstate">): Promise<void> {
    await this.runJob(
      "snapshot-delete",
      { "job-id": options.jobId ?? newJobId("delete"), tag, devices: [...options.devices] },
      jobOptions(options),
    );
  }

  /** Closes the connection. Pending commands fail with `QMP_DISCONNECTED`. */
  close(): void {
    this.onClosed(undefined);
  }
}

function jobOptions(o: { timeoutMs?: number; signal?: AbortSignal }): QmpCommandOptions {
  return {
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

function newJobId(kind: string): string {
  jobCounter++;
  return `hx-${kind}-${process.pid}-${Date.now()}-${jobCounter}`;
}

/** The `ABORTED` error for a fired signal. */
export function abortedError(signal: AbortSignal | undefined): HexclaveError {
  const reason = signal?.reason;
  if (HexclaveError.is(reason)) return reason;
  return qemuErrors.create("ABORTED", "The operation was aborted", { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}
