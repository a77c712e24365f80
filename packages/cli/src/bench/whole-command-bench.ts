/**
 * The whole-command bench: times `stack emulator start|stop|reset|status --json`
 * as a user does, from the spawn of the `stack` process to its exit, and keeps
 * what each start reports (its phases since QEMU's spawn) and each suspend
 * (the save's time and size) beside it.
 *
 * Per configuration (machine size), after `reset --hard` (so the first cold
 * start saves a `fresh` snapshot of this size, which `reset` needs): `status`
 * stopped (`runs` times), then `runs` cycles of cold start -> `status`
 * running -> stop (suspend) -> start (resume) -> reset -> start, each cycle
 * after the first beginning with a power-off (`stop --no-snapshot`). Leaves the
 * emulator running. The command runner is given, so tests can replace it.
 */
import { cliErrors } from "../cli-errors.js";
import {
  BENCH_STEP_COMMANDS,
  BENCH_STEPS,
  type BenchConfig,
  type BenchConfigRun,
  type BenchSample,
  type BenchStep,
  parseSaveLine,
} from "./whole-command-stats.js";

/** One finished `stack emulator ...` process. */
export interface CommandOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Spawn to exit. */
  readonly wholeMs: number;
}

/** Runs `stack emulator <args>` with `env` added to the environment. */
export type RunStackCommand = (
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  signal: AbortSignal | undefined,
) => Promise<CommandOutcome>;

export type WholeBenchEvent =
  | { readonly type: "config"; readonly config: BenchConfig }
  | { readonly type: "sample"; readonly config: BenchConfig; readonly sample: BenchSample };

export interface WholeBenchOptions {
  readonly runs: number;
  readonly configs: readonly BenchConfig[];
  readonly run: RunStackCommand;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: WholeBenchEvent) => void;
}

export interface WholeBenchRun {
  readonly configs: readonly BenchConfigRun[];
  /** The accelerator the last start reported. */
  readonly accel: string | null;
}

/** `status` exits 0 healthy, 3 degraded, 4 stopped: all are answers. */
const STATUS_ANSWERS = new Set([0, 3, 4]);

export async function runWholeCommandBench(options: WholeBenchOptions): Promise<WholeBenchRun> {
  const out: BenchConfigRun[] = [];
  let accel: string | null = null;
  for (const config of options.configs) {
    options.onEvent?.({ type: "config", config });
    const env = { EMULATOR_CPUS: String(config.cpus), EMULATOR_RAM_MB: String(config.memoryMb) };
    const samples: BenchSample[] = [];
    const powerOff = async () => {
      const r = await options.run(["stop", "--no-snapshot", "--json"], env, options.signal);
      if (r.exitCode !== 0) throw failed("stop --no-snapshot", r);
    };
    const timed = async (step: BenchStep): Promise<BenchSample> => {
      const args = BENCH_STEP_COMMANDS[step];
      const r = await options.run(args, env, options.signal);
      const ok = step.startsWith("status") ? STATUS_ANSWERS.has(r.exitCode) : r.exitCode === 0;
      if (!ok) throw failed(args.join(" "), r);
      let sample: BenchSample = { step, wholeMs: r.wholeMs, exitCode: r.exitCode };
      if (step.startsWith("start")) {
        const result = parseJson(args.join(" "), r) as {
          phases?: Record<string, number>;
          accel?: string;
          bootKind?: string;
        };
        accel = result.accel ?? accel;
        sample = { ...sample, phases: result.phases ?? {}, ...(result.bootKind ? { bootKind: result.bootKind } : {}) };
      }
      if (step === "stop-suspend") sample = { ...sample, ...(parseSaveLine(r.stderr) ?? {}) };
      samples.push(sample);
      options.onEvent?.({ type: "sample", config, sample });
      return sample;
    };
    // A fresh snapshot fits one machine size only: without its own, a reset at this size would cold boot.
    const reset = await options.run(["reset", "--hard", "--yes", "--json"], env, options.signal);
    if (reset.exitCode !== 0) throw failed("reset --hard --yes", reset);
    for (let i = 0; i < options.runs; i++) await timed("status-stopped");
    for (let i = 0; i < options.runs; i++) {
      if (i > 0) await powerOff();
      for (const step of BENCH_STEPS.filter((x) => x !== "status-stopped")) await timed(step);
    }
    out.push({ ...config, samples });
  }
  return { configs: out, accel };
}

function parseJson(command: string, r: CommandOutcome): unknown {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw cliErrors.create("BENCH_COMMAND_FAILED", `\`stack emulator ${command}\` printed no JSON document`, {
      details: { command, stdout: r.stdout.slice(-2000), stderr: r.stderr.slice(-2000) },
    });
  }
}

function failed(command: string, r: CommandOutcome) {
  const tail = r.stderr.trim().split("\n").slice(-5).join("\n");
  return cliErrors.create(
    "BENCH_COMMAND_FAILED",
    `\`stack emulator ${command}\` exited with ${r.exitCode}${tail === "" ? "" : `:\n${tail}`}`,
    { details: { command, exitCode: r.exitCode, stderr: r.stderr.slice(-2000) } },
  );
}
