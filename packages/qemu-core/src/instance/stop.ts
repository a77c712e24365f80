/**
 * Stopping an instance: ACPI power button and `graceMs` (with the guest
 * agent's shutdown beside it), then QMP `quit` and `quitMs`, then SIGTERM
 * and `termMs`, then SIGKILL and `killMs`. Signals go only to the verified
 * QEMU of this instance. A paused VM skips the power button. Stopping a
 * stopped (or crashed) instance cleans up and is a no-op.
 */
import { mkdir } from "node:fs/promises";
import { qemuErrors } from "../errors-data.js";
import { acquireInstanceLock } from "../instance-lock.js";
import { throwIfAborted } from "../qmp-client.js";
import { GUEST_AGENT_PROBE_TIMEOUT_MS, QMP_PROBE_TIMEOUT_MS } from "./connection.js";
import type { InstanceContext } from "./context.js";
import { emitter, type VmInstanceEvent } from "./events.js";
import { recordAndProcess, signalIfSame, waitForExit } from "./process-control.js";
import { writeRecord } from "./record.js";
import { cleanStaleFiles } from "./status.js";

export interface StopOptions {
  /** How long the guest gets after the ACPI power button. Default 30000 ms. 0 skips the button. */
  readonly graceMs?: number;
  /**
   * How long in all the guest gets when its guest agent answered and took the shutdown (the guest is known to be
   * shutting down, services first, which a slow guest may need longer for). Default `graceMs`; never less.
   */
  readonly agentGraceMs?: number;
  /** Wait after QMP `quit`. Default 5000 ms. */
  readonly quitMs?: number;
  /** Wait after SIGTERM. Default 5000 ms. */
  readonly termMs?: number;
  /** Wait after SIGKILL. Default 5000 ms. */
  readonly killMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: VmInstanceEvent) => void;
}

export interface StopResult {
  /** False when nothing was running (a no-op). */
  readonly wasRunning: boolean;
  /** `powerdown`, `quit`, `sigterm`, `sigkill`, or `not-running`. */
  readonly how: string;
  readonly elapsedMs: number;
}

/** Default deadlines of a stop: the worst case is their sum (45 s) plus QMP round trips. */
export const STOP_DEFAULTS = { graceMs: 30_000, quitMs: 5_000, termMs: 5_000, killMs: 5_000 } as const;

/** The stop deadlines: the defaults with the given ones over them (pure). `INVALID_ARGUMENT` for a bad one. */
export function stopDeadlines(options: StopOptions): {
  graceMs: number;
  agentGraceMs: number;
  quitMs: number;
  termMs: number;
  killMs: number;
} {
  const given = definedOnly(options);
  const o = { ...STOP_DEFAULTS, agentGraceMs: given.graceMs ?? STOP_DEFAULTS.graceMs, ...given };
  for (const k of ["graceMs", "agentGraceMs", "quitMs", "termMs", "killMs"] as const) {
    if (typeof o[k] !== "number" || !Number.isFinite(o[k]) || o[k] < 0) {
      throw qemuErrors.create("INVALID_ARGUMENT", `stop: ${k} must be a number of milliseconds >= 0`, {
        details: { [k]: o[k] },
      });
    }
  }
  return {
    graceMs: o.graceMs,
    agentGraceMs: Math.max(o.graceMs, o.agentGraceMs),
    quitMs: o.quitMs,
    termMs: o.termMs,
    killMs: o.killMs,
  };
}

export async function stopInstance(ctx: InstanceContext, options: StopOptions = {}): Promise<StopResult> {
  const emit = emitter(options.onEvent);
  const signal = options.signal;
  const o = stopDeadlines(options);
  throwIfAborted(signal);
  const started = Date.now();
  await mkdir(ctx.paths.dir, { recursive: true });
  const lock = await acquireInstanceLock(ctx.paths.lock, { purpose: "stop" });
  emit({ type: "lock-acquired", purpose: "stop" });
  try {
    const { record, own } = await recordAndProcess(ctx.paths);
    if (!own) {
      await cleanStaleFiles(ctx);
      if (record && record.state !== "stopped") {
        await writeRecord(ctx.paths, {
          ...record,
          state: "stopped",
          stoppedAt: new Date().toISOString(),
          stopReason: "not-running",
        });
      }
      return { wasRunning: false, how: "not-running", elapsedMs: Date.now() - started };
    }
    let how = "";
    let guestShutdown: GuestShutdown = { accepted: Promise.resolve(false), done: Promise.resolve() };
    const client = await ctx.connection.qmp({ timeoutMs: QMP_PROBE_TIMEOUT_MS }).catch(() => undefined);
    const status = await client?.queryStatus({ timeoutMs: QMP_PROBE_TIMEOUT_MS }).catch(() => undefined);
    if (client && status?.running && o.graceMs > 0) {
      // Beside the power button: a minimal guest may ignore it, and its agent runs the guest's own shutdown.
      guestShutdown = requestGuestShutdown(ctx, o.agentGraceMs);
      try {
        await client.systemPowerdown({ timeoutMs: QMP_PROBE_TIMEOUT_MS });
        emit({ type: "powerdown-requested", graceMs: o.graceMs });
        if (await waitForExit(own, o.graceMs, signal)) how = "powerdown";
        else if (o.agentGraceMs > o.graceMs && (await guestShutdown.accepted)) {
          // The agent took the shutdown: the guest is stopping its services; give it the rest of its longer grace.
          emit({ type: "powerdown-extended", graceMs: o.agentGraceMs });
          if (await waitForExit(own, o.agentGraceMs - o.graceMs, signal)) how = "powerdown";
        }
      } catch (error) {
        if (qemuErrors.is(error, "ABORTED")) throw error;
      }
    }
    if (!how) {
      // No grace asked for and QMP answering: quitting is the plan (a caller that saved the state), not an escalation.
      if (!client || o.graceMs > 0) {
        const reason = !client
          ? "QMP did not answer"
          : !status?.running
            ? `the VM is ${status?.status ?? "not running"}: the guest cannot handle the power button`
            : `the guest did not power off within ${o.graceMs} ms${o.agentGraceMs > o.graceMs ? ` (${o.agentGraceMs} ms if its agent took the shutdown)` : ""}`;
        emit({ type: "stop-escalated", step: "quit", reason });
      }
      if (client) {
        await client.quit({ timeoutMs: Math.max(500, Math.min(o.quitMs, QMP_PROBE_TIMEOUT_MS)) }).catch(() => {});
        if (await waitForExit(own, o.quitMs, signal)) how = "quit";
      }
    }
    if (!how) {
      emit({ type: "stop-escalated", step: "sigterm", reason: `QEMU did not quit within ${o.quitMs} ms` });
      if (await signalIfSame(own, "SIGTERM")) {
        if (await waitForExit(own, o.termMs, signal)) how = "sigterm";
      } else how = "sigterm";
    }
    if (!how) {
      emit({ type: "stop-escalated", step: "sigkill", reason: `QEMU ignored SIGTERM for ${o.termMs} ms` });
      if (await signalIfSame(own, "SIGKILL")) {
        if (await waitForExit(own, o.killMs, signal)) how = "sigkill";
      } else how = "sigkill";
    }
    if (!how) {
      throw qemuErrors.create("VM_STOP_FAILED", `QEMU pid ${own.pid} of instance "${ctx.name}" survived SIGKILL`, {
        hint: `Check the process by hand: ps -p ${own.pid}.`,
        details: { pid: own.pid },
      });
    }
    ctx.connection.drop();
    await guestShutdown.done; // QEMU is gone: its agent connection has closed
    await cleanStaleFiles(ctx);
    if (record) {
      await writeRecord(ctx.paths, {
        ...record,
        state: "stopped",
        stoppedAt: new Date().toISOString(),
        stopReason: how,
      });
    }
    emit({ type: "stopped", how, elapsedMs: Date.now() - started });
    return { wasRunning: true, how, elapsedMs: Date.now() - started };
  } finally {
    await lock.release();
  }
}

/** A shutdown asked of the guest agent: whether the agent answered and took it, and when the request is over. */
interface GuestShutdown {
  /** True once the agent answered a ping and sent no error for `guest-shutdown`; false when there is no agent. */
  readonly accepted: Promise<boolean>;
  readonly done: Promise<void>;
}

/**
 * Asks the guest agent, if the guest runs one, to shut the guest down
 * (`guest-shutdown`), and keeps the connection open until the guest is gone,
 * the agent answers with an error, or `waitMs` passes: closing it at once
 * was seen to leave the guest running. A ping first tells an agent that
 * took the shutdown from none at all (`guest-shutdown` sends no reply on
 * success). Best effort; never throws.
 */
function requestGuestShutdown(ctx: InstanceContext, waitMs: number): GuestShutdown {
  let accept: (accepted: boolean) => void = () => {};
  const accepted = new Promise<boolean>((resolve) => {
    accept = resolve;
  });
  const done = (async () => {
    let agent: Awaited<ReturnType<InstanceContext["connection"]["guestAgent"]>> | undefined;
    try {
      agent = await ctx.connection.guestAgent({ timeoutMs: GUEST_AGENT_PROBE_TIMEOUT_MS });
      await agent.ping({ timeoutMs: GUEST_AGENT_PROBE_TIMEOUT_MS });
      const shutdown = agent.shutdown("powerdown", { waitMs });
      // No error reply within a probe's time: the agent took it (the rest of `waitMs` keeps the connection open).
      const refused = await Promise.race([
        shutdown.then(
          () => false,
          () => true,
        ),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), GUEST_AGENT_PROBE_TIMEOUT_MS).unref()),
      ]);
      accept(!refused);
      await shutdown;
    } catch {
      // No agent, or it refused: the power button and the rest of the ladder still apply.
    } finally {
      accept(false);
      agent?.close();
    }
  })();
  return { accepted, done };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
