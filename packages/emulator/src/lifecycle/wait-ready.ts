/**
 * Waiting for a started VM to be ready: every service polled until all are
 * up or the deadline passes, while QEMU's process (and, on a cold boot, the
 * guest agent and the kernel console) are watched.
 */

import {
  type Accelerator,
  type GuestAgentClient,
  HexclaveError,
  isSameProcess,
  kernelPanicReason,
  type ProcessIdentity,
  type ReadinessProbe,
  readLockHolder,
  SerialFollower,
  waitForReady,
} from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import { emulatorErrors } from "../errors-data.js";
import { type ServiceEndpoint, type ServiceHealthCheck, serviceProbes } from "../inspect/service-health.js";
import { abortError, aborted, sleep } from "../internal/abort.js";
import { tailLines } from "../internal/files.js";
import { type GuestBootKind, panicMessage, panicResponse } from "./panic-restart.js";

/** Readiness deadline under TCG (minutes of boot) and with a hardware accelerator. */
export const EMULATOR_TCG_TIMEOUT_MS = 15 * 60_000;
export const EMULATOR_ACCEL_TIMEOUT_MS = 4 * 60_000;
/** Lines of the serial log a start that is not ready reports. */
export const SERIAL_TAIL_LINES = 40;
/** How often a waiting start checks that its QEMU is still alive. */
const QEMU_WATCH_MS = 1000;
/** After a resume, a service's request still unanswered this long gets another beside it (readiness.ts). */
const RESUME_HEDGE_MS = 1000;

/**
 * The given deadline, else the default for the accelerator times the guest's start timeout factor (image-builder's
 * `startTimeoutFactor`: 3 for a guest of another architecture, such as arm64 on an amd64 host).
 */
export function readinessTimeoutMs(given: number | undefined, accel: Accelerator, timeoutFactor = 1): number {
  if (given !== undefined) return given;
  return (accel === "tcg" ? EMULATOR_TCG_TIMEOUT_MS : EMULATOR_ACCEL_TIMEOUT_MS) * timeoutFactor;
}

export interface WaitOptions {
  readonly endpoints: readonly ServiceEndpoint[];
  /** The endpoints' probes when made ahead (`serviceProbes(endpoints)`); made here otherwise. */
  readonly probes?: readonly ReadinessProbe[];
  readonly timeoutMs: number;
  /** When QEMU was spawned: `phases` count from here. */
  readonly spawnedAt: number;
  /** When the call began: events' `elapsedMs` count from here. */
  readonly began: number;
  /** Filled with `guest-booted` and one entry per service as they come up. */
  readonly phases: Record<string, number>;
  readonly signal: AbortSignal | undefined;
  readonly emit: Emit;
  /** A cold boot: watch the guest agent (`guest-booted`) and poll more slowly. */
  readonly watchGuest: boolean;
  /** The QEMU process: its exit ends the wait at once. */
  readonly qemu: ProcessIdentity | undefined;
  /** How the guest booted: a firmware boot whose kernel panics is reset by QEMU (panic-restart.ts). */
  readonly guestBoot: GuestBootKind;
  /** The stage's label (default `services`). */
  readonly label?: string;
}

/** Polls every service (and, on a cold boot, the guest agent) until all are up or the deadline passes. */
export async function waitForServices(
  ctx: EmulatorContext,
  o: WaitOptions,
): Promise<{ ready: boolean; services: ServiceHealthCheck[] }> {
  const { endpoints, timeoutMs, spawnedAt, began, phases, signal, emit, qemu } = o;
  emit({ type: "stage-start", stage: "services", label: o.label ?? "services" });
  const started = Date.now();
  const stopWatching = new AbortController();
  const onAbort = () => stopWatching.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  // QEMU gone (stopped by another command, or crashed) ends the wait at once, not at the deadline.
  const qemuGone = new AbortController();
  const qemuWatch =
    qemu === undefined
      ? Promise.resolve()
      : (async () => {
          while (!stopWatching.signal.aborted) {
            await sleep(QEMU_WATCH_MS, stopWatching.signal);
            if (stopWatching.signal.aborted) return;
            if (!(await isSameProcess(qemu))) {
              qemuGone.abort();
              stopWatching.abort();
              return;
            }
          }
        })();
  // A guest whose kernel panicked once more than the start restarts it ends the wait at once, not ready.
  const gaveUp = new AbortController();
  const waitSignal = AbortSignal.any([...(signal ? [signal] : []), qemuGone.signal, gaveUp.signal]);
  let panicRestarts = 0;
  // QEMU truncates the console log at launch (a reset does not): everything in it is this run's.
  const guestConsole = new SerialFollower(ctx.paths.serialLog, (line) => {
    const reason = kernelPanicReason(line);
    if (reason === undefined) return;
    const response = panicResponse(o.guestBoot, panicRestarts);
    emit({ type: "message", level: "warn", text: panicMessage(reason, response, ctx.paths.serialLog) });
    if (response.kind === "give-up") gaveUp.abort();
    if (response.kind !== "host-restarts") return;
    panicRestarts = response.attempt;
    void ctx.vm
      .qmp({ timeoutMs: 5000 })
      .then((qmp) => qmp.systemReset({ timeoutMs: 5000 }))
      .catch((error: unknown) =>
        emit({
          type: "message",
          level: "warn",
          text: `Could not reset the VM after its kernel panicked: ${error instanceof Error ? error.message : String(error)}`,
        }),
      );
  });
  guestConsole.start(1000);
  const guestWatch = o.watchGuest
    ? watchGuestBoot(ctx, stopWatching.signal).then((ok) => {
        if (ok) {
          phases["guest-booted"] = Date.now() - spawnedAt;
          emit({ type: "guest-booted", elapsedMs: Date.now() - began });
        }
      })
    : Promise.resolve();
  const byName = new Map(endpoints.map((e) => [e.name, e]));
  const last = new Map<string, ServiceHealthCheck>();
  let ready = false;
  try {
    const results = await waitForReady(o.probes ?? serviceProbes(endpoints), {
      deadlineMs: timeoutMs,
      // After a resume the services are already up, but a guest just resumed answers its first request late (under
      // TCG 0.8-1 s, its translated code gone): poll fast, keep a request that has not answered yet, and send
      // another beside it once it is a second late (one opened while the link comes back from a bounce may never be
      // answered). Sooner costs more than it gains: each extra /health?db=1 opens a database connection in the
      // still-cold guest (the backend came up 0.1-0.3 s later with 250 ms).
      ...(o.watchGuest
        ? { intervalMs: 500, attemptTimeoutMs: 3000 }
        : { intervalMs: 100, attemptTimeoutMs: 3000, hedgeAfterMs: RESUME_HEDGE_MS }),
      signal: waitSignal,
      onChange: (change) => {
        const e = byName.get(change.name);
        if (!e || change.state === "pending") return;
        const up = change.state === "up";
        const prev = last.get(change.name);
        last.set(change.name, {
          name: e.name,
          url: e.url,
          up,
          detail: change.detail,
          lastCheck: new Date().toISOString(),
        });
        if (up) phases[e.name] = Date.now() - spawnedAt;
        if (prev === undefined ? up : prev.up !== up) {
          emit({
            type: "service-health",
            service: e.name,
            up,
            url: e.url,
            detail: change.detail,
            elapsedMs: Date.now() - began,
          });
        }
      },
    });
    ready = results.every((r) => r.state === "up");
  } catch (error) {
    if (aborted(signal)) throw abortError(signal);
    if (qemuGone.signal.aborted) throw await lostDuringStart(ctx, Date.now() - began);
    if (!gaveUp.signal.aborted && !(HexclaveError.is(error) && error.code === "READINESS_TIMEOUT")) throw error;
  } finally {
    stopWatching.abort();
    signal?.removeEventListener("abort", onAbort);
    await guestConsole.stop();
    await guestWatch;
    await qemuWatch;
  }
  const services = endpoints.map(
    (e) => last.get(e.name) ?? { name: e.name, url: e.url, up: false, detail: "not checked", lastCheck: null },
  );
  emit({
    type: "stage-end",
    stage: "services",
    durationMs: Date.now() - started,
    detail: ready ? "all healthy" : "not ready",
  });
  return { ready, services };
}

/**
 * Why the QEMU a start waited for is gone: stopped by another command (its
 * stop marks the instance stopped; wait for a stop still holding the lock),
 * or exited by itself (crashed: the serial log's last lines say more).
 */
async function lostDuringStart(ctx: EmulatorContext, afterMs: number): Promise<HexclaveError> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await readLockHolder(ctx.paths.lock))?.live === true) await sleep(250);
  const state = (await ctx.vm.status()).state;
  const after = `${Math.round(afterMs / 1000)} s`;
  if (state === "stopped") {
    return emulatorErrors.create(
      "EMULATOR_STOPPED_DURING_START",
      `The emulator was stopped by another command (\`stack emulator stop\` or \`reset\`) while this start waited for its services (after ${after})`,
    );
  }
  const tail = await tailLines(ctx.paths.serialLog, 10);
  // QEMU's own last words (qemu.log): an accelerator report there makes this the accelerator's failure.
  const qemuSaid = (await tailLines(ctx.paths.qemuLog, 20)).join("\n");
  return emulatorErrors.create(
    "EMULATOR_EXITED_DURING_START",
    `QEMU exited by itself while this start waited for the services (after ${after})${qemuSaid === "" ? "" : `; QEMU said: ${qemuSaid.split("\n").slice(-3).join("; ")}`}${tail.length > 0 ? `; last serial lines:\n${tail.join("\n")}` : ""}`,
    { details: { serialTail: tail, stderr: qemuSaid } },
  );
}

/** Resolves true once the guest agent answers a ping, false when `signal` fires first. */
async function watchGuestBoot(ctx: EmulatorContext, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    let agent: GuestAgentClient | undefined;
    try {
      agent = await ctx.vm.guestAgent({ timeoutMs: 3000, signal });
      await agent.ping({ timeoutMs: 3000, signal });
      return true;
    } catch {
      await sleep(1000, signal);
    } finally {
      agent?.close();
    }
  }
  return false;
}
