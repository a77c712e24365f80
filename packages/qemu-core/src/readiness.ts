/**
 * Readiness probes: TCP connect and HTTP GET with expected status codes,
 * polled together until all are up or an overall deadline passes, reporting
 * each probe's state as it changes.
 */
import { connect } from "node:net";
import { abortableSleep } from "./abortable-sleep.js";
import { qemuErrors } from "./errors-data.js";
import { abortedError } from "./qmp-client.js";

/** One check: resolves with a short detail when up, throws (with a readable message) when not. */
export interface ReadinessProbe {
  readonly name: string;
  /** Runs one attempt; `timeoutMs` bounds it. */
  check(options: { signal: AbortSignal; timeoutMs: number }): Promise<string>;
}

export type ProbeState = "pending" | "up" | "down";

/** Reported on every change of a probe's state (and of its detail while down). */
export interface ProbeChange {
  readonly type: "probe-change";
  readonly name: string;
  readonly state: ProbeState;
  /** `connected`, `got 200`, `got 503, expected 200`, `ECONNREFUSED` ... */
  readonly detail: string;
  /** Milliseconds since waitForReady started. */
  readonly sinceMs: number;
}

export interface ProbeResult {
  readonly name: string;
  readonly state: ProbeState;
  readonly detail: string;
  /** When it first came up, ms since the start; undefined if never. */
  readonly upAtMs?: number;
  readonly attempts: number;
}

export interface WaitForReadyOptions {
  /** Overall deadline. Default 60000 ms. */
  readonly deadlineMs?: number;
  /** Pause between attempts of one probe. Default 500 ms. */
  readonly intervalMs?: number;
  /** Bound of one attempt. Default min(5000, deadline). */
  readonly attemptTimeoutMs?: number;
  /**
   * Bound of a probe's first attempt; each next attempt doubles it, up to
   * `attemptTimeoutMs`. A short first bound retries a request that hangs on
   * a connection that can never answer (for example one opened while a
   * resumed guest's network comes back) instead of waiting out the full
   * bound. Default `attemptTimeoutMs`.
   */
  readonly firstAttemptTimeoutMs?: number;
  /**
   * Hedged attempts: while a probe's attempt has not answered after this many ms, start another beside it (at most
   * {@link MAX_HEDGED_ATTEMPTS} at once) instead of giving up on it; the first answer wins and the others are
   * dropped. A guest that has just resumed answers its first requests late, and a request given up and sent again
   * throws away the work the guest had done for it (measured: the readiness saw services 0.2-0.25 s after a
   * poller that kept its requests). Each attempt is then bounded by `attemptTimeoutMs` alone. Default: none.
   */
  readonly hedgeAfterMs?: number;
  readonly signal?: AbortSignal;
  readonly onChange?: (change: ProbeChange) => void;
}

/** At most this many attempts of one probe run at once with `hedgeAfterMs`. */
export const MAX_HEDGED_ATTEMPTS = 4;

/** A probe that connects to `host:port` over TCP. */
export function tcpProbe(options: { host?: string; port: number; name?: string }): ReadinessProbe {
  const host = options.host ?? "127.0.0.1";
  validatePort(options.port);
  return {
    name: options.name ?? `tcp ${host}:${options.port}`,
    check: ({ signal, timeoutMs }) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host, port: options.port });
        const done = (fn: () => void) => {
          clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          socket.destroy();
          fn();
        };
        const onAbort = () => done(() => reject(new Error("aborted")));
        const timer = setTimeout(
          () => done(() => reject(new Error(`no connection within ${timeoutMs} ms`))),
          timeoutMs,
        );
        signal.addEventListener("abort", onAbort, { once: true });
        socket.once("connect", () => done(() => resolve("connected")));
        socket.once("error", (e: NodeJS.ErrnoException) => done(() => reject(new Error(e.code ?? e.message))));
      }),
  };
}

/**
 * `node:http(s)` through `process.getBuiltinModule`, not an ES `import`: importing `node:http` as an ES module
 * reads every export of it, and its lazy `WebSocket`-family getters then load undici (measured: about 0.1 s at
 * a quiet moment, 0.3 s under load, for any program that merely imports qemu-core).
 */
function loadHttp<Id extends "node:http" | "node:https">(id: Id) {
  return process.getBuiltinModule(id);
}

/** A probe that GETs `url` and expects one of `expectStatus` (default `[200]`). */
export function httpProbe(options: { url: string; expectStatus?: readonly number[]; name?: string }): ReadinessProbe {
  let url: URL;
  try {
    url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch (cause) {
    throw qemuErrors.create("INVALID_ARGUMENT", `Readiness URL ${JSON.stringify(options.url)} is not an http(s) URL`, {
      cause,
      hint: "Use a full URL such as http://127.0.0.1:26701/health.",
    });
  }
  const expect = options.expectStatus ?? [200];
  if (expect.length === 0 || !expect.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) {
    throw qemuErrors.create("INVALID_ARGUMENT", `expectStatus ${JSON.stringify(expect)} is not a list of HTTP codes`, {
      hint: "Give one or more status codes from 100 to 599, e.g. [200] or [200, 401].",
    });
  }
  const requestFn = url.protocol === "https:" ? loadHttp("node:https").request : loadHttp("node:http").request;
  return {
    name: options.name ?? `GET ${url.href}`,
    check: ({ signal, timeoutMs }) =>
      new Promise<string>((resolve, reject) => {
        const req = requestFn(url, { method: "GET", signal, timeout: timeoutMs, agent: false }, (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          req.destroy();
          if (expect.includes(code)) resolve(`got ${code}`);
          else reject(new Error(`got ${code}, expected ${expect.join(" or ")}`));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
        req.end();
      }),
  };
}

/**
 * Polls all probes together until every one is up (resolves with the
 * results) or `deadlineMs` passes (throws `READINESS_TIMEOUT` listing each
 * failing probe and its last error). A probe is not polled again once it is
 * up; the others keep being polled every `intervalMs`.
 */
export async function waitForReady(
  probes: readonly ReadinessProbe[],
  options: WaitForReadyOptions = {},
): Promise<ProbeResult[]> {
  const deadlineMs = options.deadlineMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 500;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? Math.min(5_000, deadlineMs);
  const firstAttemptTimeoutMs = Math.min(options.firstAttemptTimeoutMs ?? attemptTimeoutMs, attemptTimeoutMs);
  if (!(firstAttemptTimeoutMs > 0)) {
    throw qemuErrors.create("INVALID_ARGUMENT", `firstAttemptTimeoutMs must be > 0, got ${firstAttemptTimeoutMs}`);
  }
  const hedgeAfterMs = options.hedgeAfterMs;
  if (hedgeAfterMs !== undefined && !(hedgeAfterMs > 0)) {
    throw qemuErrors.create("INVALID_ARGUMENT", `hedgeAfterMs must be > 0, got ${hedgeAfterMs}`);
  }
  const names = new Set<string>();
  for (const p of probes) {
    if (names.has(p.name)) {
      throw qemuErrors.create("INVALID_ARGUMENT", `Two readiness probes are named ${JSON.stringify(p.name)}`, {
        hint: "Give each probe a unique name.",
      });
    }
    names.add(p.name);
  }
  if (options.signal?.aborted) throw abortedError(options.signal);
  const started = Date.now();
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const deadlineTimer = setTimeout(() => inner.abort(), deadlineMs);

  const results = new Map<string, { state: ProbeState; detail: string; upAtMs?: number; attempts: number }>();
  for (const p of probes) results.set(p.name, { state: "pending", detail: "not checked yet", attempts: 0 });
  const report = (name: string, state: ProbeState, detail: string) => {
    const r = results.get(name)!;
    if (r.state === state && r.detail === detail) return;
    r.state = state;
    r.detail = detail;
    if (state === "up" && r.upAtMs === undefined) r.upAtMs = Date.now() - started;
    options.onChange?.({ type: "probe-change", name, state, detail, sinceMs: Date.now() - started });
  };
  for (const p of probes)
    options.onChange?.({ type: "probe-change", name: p.name, state: "pending", detail: "not checked yet", sinceMs: 0 });

  const attemptBound = (attempt: number) =>
    Math.min(attemptTimeoutMs, firstAttemptTimeoutMs * 2 ** Math.min(30, attempt - 1));
  const allUp = () => [...results.values()].every((r) => r.state === "up");
  const loop = async (probe: ReadinessProbe) => {
    // Ends this probe's attempts once it is up (the others keep going), or all of them with `inner`.
    const probeUp = new AbortController();
    const signal = AbortSignal.any([inner.signal, probeUp.signal]);
    const running = new Set<Promise<void>>();
    while (!signal.aborted) {
      const r = results.get(probe.name)!;
      r.attempts++;
      const remaining = deadlineMs - (Date.now() - started);
      const bound = hedgeAfterMs === undefined ? attemptBound(r.attempts) : attemptTimeoutMs;
      const attempt = probe.check({ signal, timeoutMs: Math.max(1, Math.min(bound, remaining)) }).then(
        (detail) => {
          if (signal.aborted) return;
          report(probe.name, "up", detail);
          probeUp.abort();
          if (allUp()) inner.abort();
        },
        (error: unknown) => {
          if (!signal.aborted) report(probe.name, "down", error instanceof Error ? error.message : String(error));
        },
      );
      running.add(attempt);
      void attempt.then(() => running.delete(attempt));
      // The next attempt: `intervalMs` after this one ended, or, hedged, beside it once it is `hedgeAfterMs` late.
      let late = false;
      if (hedgeAfterMs === undefined) await attempt;
      else {
        const waited = abortableSleep(hedgeAfterMs, signal).then(() => true);
        late = await Promise.race([attempt.then(() => false), waited]);
      }
      if (signal.aborted) break;
      if (!late) await abortableSleep(intervalMs, signal);
      else if (running.size >= MAX_HEDGED_ATTEMPTS) await Promise.race(running);
    }
    await Promise.all(running);
  };
  try {
    await Promise.all(probes.map(loop));
  } finally {
    clearTimeout(deadlineTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  const out: ProbeResult[] = probes.map((p) => {
    const r = results.get(p.name)!;
    return {
      name: p.name,
      state: r.state,
      detail: r.detail,
      attempts: r.attempts,
      ...(r.upAtMs !== undefined ? { upAtMs: r.upAtMs } : {}),
    };
  });
  if (allUp()) return out;
  if (options.signal?.aborted) throw abortedError(options.signal);
  const failing = out.filter((r) => r.state !== "up");
  throw qemuErrors.create(
    "READINESS_TIMEOUT",
    `Not ready within ${deadlineMs} ms: ${failing.map((f) => `${f.name}: ${f.detail}`).join("; ")}`,
    { details: { deadlineMs, failing, results: out } },
  );
}

function validatePort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw qemuErrors.create("INVALID_ARGUMENT", `Readiness port ${JSON.stringify(port)} is not a port number`, {
      hint: "Use an integer from 1 to 65535.",
    });
  }
}
