/**
 * Watching a running QEMU for the failures a deadline would only find late:
 *
 * - its run state leaving `running` for an error state (`internal-error`
 *   after a KVM/HVF/WHPX failure, `guest-panicked` with a pvpanic device,
 *   `shutdown` with `-no-shutdown`, `io-error`), seen through QMP `STOP`,
 *   `GUEST_PANICKED` and `SHUTDOWN` events and polled `query-status`;
 * - QEMU's own words on stderr (`KVM internal error. Suberror: 1`, `kvm run
 *   failed`, ...), which QEMU prints before it pauses the VM;
 * - QEMU exiting while it should run.
 *
 * The classifiers are pure; {@link watchQemuRun} polls the sources it is
 * given and resolves with the first failure, within about one poll interval.
 * A failure says whether the accelerator is at fault (then the same guest may
 * well run under TCG) or the guest itself.
 */
import type { QmpClient, QmpEvent, QmpStatus } from "./qmp-client.js";

/** Who is at fault: the accelerator (retry under TCG), the guest's software, or the host (disk). */
export type VmFailureFault = "accelerator" | "guest" | "host" | "unknown";

export interface VmFailure {
  /** `internal-error`, `guest-panicked`, `shutdown`, `io-error`, `accelerator-output` (stderr only), `exited`. */
  readonly kind: "internal-error" | "guest-panicked" | "shutdown" | "io-error" | "accelerator-output" | "exited";
  readonly fault: VmFailureFault;
  /** QEMU's run state when known (`internal-error`, ...). */
  readonly runState?: string;
  /** QEMU's own words (stderr lines), empty when it said nothing. */
  readonly qemuSaid: string;
  /** One sentence for users: what happened, with QEMU's words. */
  readonly message: string;
}

/** Run states that mean the VM will not go on by itself; `paused`, `inmigrate` and friends are not failures. */
const FAILED_RUN_STATES: Readonly<Record<string, { kind: VmFailure["kind"]; fault: VmFailureFault; what: string }>> = {
  "internal-error": {
    kind: "internal-error",
    fault: "accelerator",
    what: "QEMU paused the VM in run state internal-error (the accelerator could not run the guest)",
  },
  "guest-panicked": {
    kind: "guest-panicked",
    fault: "guest",
    what: "the guest kernel panicked (run state guest-panicked)",
  },
  shutdown: { kind: "shutdown", fault: "guest", what: "the guest powered itself off (run state shutdown)" },
  "io-error": { kind: "io-error", fault: "host", what: "a disk I/O error paused the VM (run state io-error)" },
};

/** The failure a run state means, or undefined for a state that is not one (running, paused, prelaunch...). Pure. */
export function runStateFailure(
  status: string,
): { kind: VmFailure["kind"]; fault: VmFailureFault; what: string } | undefined {
  return FAILED_RUN_STATES[status];
}

/** Lines QEMU prints when the accelerator failed the guest (first line of each report). */
const ACCELERATOR_ERROR_LINE =
  /KVM internal error\. Suberror: \d+|error: kvm run failed|KVM: entry failed, hardware error|failed to set MSR 0x[0-9a-f]+|kvm: failed to initialize|Could not access KVM kernel module|failed to initialize kvm|HV_ERROR|hvf: .*(?:error|fail)|WHPX: (?:Unexpected VP exit code|Failed to exec a virtual processor)|whpx: .*fail/i;
/** The first line of QEMU's register dump (after the internal-error report). */
const REGISTER_DUMP = /^(?:RAX|EAX|PC|X0|R00)=/;

/**
 * QEMU's accelerator failure in its output: the report's first line and the
 * detail lines after it (but KVM's raw `extra data[n]`), up to the register
 * dump; undefined when the output holds none. Pure.
 *
 * @example
 * ```ts
 * acceleratorErrorInOutput("KVM internal error. Suberror: 1\nextra data[0]: 0x...\nRAX=0 ...");
 * // "KVM internal error. Suberror: 1"
 * ```
 */
export function acceleratorErrorInOutput(text: string): string | undefined {
  const lines = text.replace(/\r/g, "").split("\n");
  const first = lines.findIndex((l) => ACCELERATOR_ERROR_LINE.test(l));
  if (first < 0) return undefined;
  const said: string[] = [];
  for (const line of lines.slice(first, first + 12)) {
    if (said.length > 0 && (REGISTER_DUMP.test(line.trim()) || line.trim() === "")) break;
    if (/^extra data\[\d+\]:/.test(line.trim())) continue; // raw KVM exit data: no words for users
    said.push(line.trim());
  }
  return said.join("\n");
}

/** A one-line form of QEMU's words for messages. Pure. */
export function oneLine(text: string): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join("; ");
}

/** The failure of a VM in run state `status` with output `output`; undefined when neither shows one. Pure. */
export function classifyVmFailure(status: string | undefined, output: string): VmFailure | undefined {
  const said = acceleratorErrorInOutput(output);
  const state = status === undefined ? undefined : runStateFailure(status);
  if (state !== undefined) {
    return {
      kind: state.kind,
      // A KVM report on stderr makes any stop the accelerator's fault.
      fault: said !== undefined ? "accelerator" : state.fault,
      runState: status as string,
      qemuSaid: said ?? "",
      message: `${state.what}${said === undefined ? "" : `; QEMU said: ${oneLine(said)}`}`,
    };
  }
  if (said !== undefined) {
    return {
      kind: "accelerator-output",
      fault: "accelerator",
      ...(status === undefined ? {} : { runState: status }),
      qemuSaid: said,
      message: `QEMU reported an accelerator failure: ${oneLine(said)}`,
    };
  }
  return undefined;
}

/** The failure of a QEMU that exited while it should run, with the end of its output. Pure. */
export function exitedFailure(output: string): VmFailure {
  const said = acceleratorErrorInOutput(output);
  const tail = said ?? oneLine(output.trim().split("\n").slice(-5).join("\n"));
  return {
    kind: "exited",
    fault: said !== undefined ? "accelerator" : "unknown",
    qemuSaid: said ?? tail,
    message: `QEMU exited while the VM should run${tail === "" ? "" : `; QEMU said: ${tail}`}`,
  };
}

export interface WatchQemuRunOptions {
  /** QEMU's run state now (`query-status`); undefined when QMP did not answer (not a failure by itself). */
  readonly queryStatus?: (() => Promise<QmpStatus | undefined>) | undefined;
  /** QEMU's stderr so far (or its tail). */
  readonly readOutput?: (() => Promise<string>) | undefined;
  /** False once QEMU has exited. */
  readonly isAlive?: (() => Promise<boolean>) | undefined;
  /** A QMP client whose events (`STOP`, `GUEST_PANICKED`, `SHUTDOWN`) trigger a check at once. */
  readonly events?: QmpClient | undefined;
  /** Default 1000 ms. */
  readonly pollMs?: number | undefined;
  /** How long a failed run state waits for QEMU's words to reach its output; default 1000 ms. */
  readonly outputGraceMs?: number | undefined;
  /** Stops the watch (the promise then resolves undefined). */
  readonly signal?: AbortSignal | undefined;
}

export interface QemuRunWatch {
  /** The first failure seen; undefined when the watch was stopped first. Never rejects. */
  readonly failure: Promise<VmFailure | undefined>;
  /** Stops watching. */
  stop(): void;
}

const WATCH_EVENTS = new Set(["STOP", "GUEST_PANICKED", "SHUTDOWN", "BLOCK_IO_ERROR"]);

/**
 * Watches one QEMU run: every `pollMs` (and at once on a QMP event that may
 * mean trouble) it reads the run state, QEMU's output and whether QEMU is
 * alive, and resolves with the first failure. Sources that throw are read
 * again at the next poll.
 */
export function watchQemuRun(options: WatchQemuRunOptions): QemuRunWatch {
  const stopper = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopper.signal]) : stopper.signal;
  const pollMs = options.pollMs ?? 1000;
  const graceMs = options.outputGraceMs ?? 1000;
  let kick: () => void = () => {};
  const offEvent = options.events?.on((e: QmpEvent) => {
    if (WATCH_EVENTS.has(e.event)) kick();
  });
  const readOutput = async () => (options.readOutput ? await options.readOutput().catch(() => "") : "");
  const check = async (): Promise<VmFailure | undefined> => {
    const status = options.queryStatus ? await options.queryStatus().catch(() => undefined) : undefined;
    let output = await readOutput();
    let failure = classifyVmFailure(status?.status, output);
    if (failure?.kind === "accelerator-output" && options.queryStatus) {
      // QEMU prints its report, then stops the VM: give the run state a moment to follow.
      const until = Date.now() + graceMs;
      while (failure.kind === "accelerator-output" && Date.now() < until && !signal.aborted) {
        await pause(Math.min(100, pollMs), signal);
        const later = await options.queryStatus().catch(() => undefined);
        failure = classifyVmFailure(later?.status, output) ?? failure;
      }
    }
    if (failure !== undefined && failure.qemuSaid === "" && options.readOutput) {
      // QEMU prints its report before it pauses; give the words a moment to land.
      const until = Date.now() + graceMs;
      while (failure.qemuSaid === "" && Date.now() < until && !signal.aborted) {
        await pause(Math.min(100, pollMs), signal);
        output = await readOutput();
        failure = classifyVmFailure(status?.status, output) ?? failure;
      }
    }
    if (failure !== undefined) return failure;
    if (options.isAlive && !(await options.isAlive().catch(() => true))) return exitedFailure(await readOutput());
    return undefined;
  };
  const failure = (async (): Promise<VmFailure | undefined> => {
    try {
      while (!signal.aborted) {
        const found = await check();
        if (signal.aborted) return undefined;
        if (found !== undefined) return found;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollMs);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            kick = () => {};
            resolve();
          }
          kick = done;
          signal.addEventListener("abort", done, { once: true });
        });
      }
      return undefined;
    } finally {
      offEvent?.();
    }
  })();
  return { failure, stop: () => stopper.abort() };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
