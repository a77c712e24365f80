/**
 * The whole-command bench's data and its statistics: what one `stack emulator
 * bench` run measured (every spawned command, its wall time from spawn to
 * exit, and for starts the phases since QEMU was spawned), and the medians
 * per configuration. Pure.
 */
import { MACHINE_SETTINGS } from "@hexclave/emulator";
import type { Accelerator, Arch } from "@hexclave/qemu-core";

export const BENCH_SCHEMA_VERSION = 2;

/** The commands the bench times, in the order of one cycle. */
export const BENCH_STEPS = [
  "status-stopped",
  "start-cold",
  "status-running",
  "stop-suspend",
  "start-resume",
  "reset",
  "start-after-reset",
] as const;
export type BenchStep = (typeof BENCH_STEPS)[number];

/** What each step runs (after `stack emulator`). */
export const BENCH_STEP_COMMANDS: Readonly<Record<BenchStep, readonly string[]>> = {
  "status-stopped": ["status", "--json"],
  "start-cold": ["start", "--json"],
  "status-running": ["status", "--json"],
  "stop-suspend": ["stop", "--json"],
  "start-resume": ["start", "--json"],
  reset: ["reset", "--yes", "--json"],
  "start-after-reset": ["start", "--json"],
};

/** One spawned command. */
export interface BenchSample {
  readonly step: BenchStep;
  /** Wall time from the spawn of the `stack` process to its exit. */
  readonly wholeMs: number;
  readonly exitCode: number;
  /** Starts: milliseconds since QEMU was spawned per phase (`qemu-up`, `guest-booted`, each service, `all-healthy`). */
  readonly phases?: Readonly<Record<string, number>>;
  /** Starts: what the start did (`cold` or `resume`, as its --json says). */
  readonly bootKind?: string;
  /** `stop-suspend`: the save of the VM state (the stop's `snapshot` stage) and its size. */
  readonly saveMs?: number;
  readonly saveBytes?: number;
}

/** One machine size: `default` is the settings of the environment (EMULATOR_CPUS, EMULATOR_RAM_MB or the defaults). */
export interface BenchConfig {
  readonly label: string;
  readonly cpus: number;
  readonly memoryMb: number;
}

export interface BenchConfigRun extends BenchConfig {
  readonly samples: readonly BenchSample[];
}

export interface Stats {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly count: number;
}

/** The boots a waterfall shows: a cold boot, a resume of `suspend`, the start after a `reset`. */
export const BOOT_LANES = [
  { kind: "cold", step: "start-cold" },
  { kind: "resume", step: "start-resume" },
  { kind: "reset", step: "start-after-reset" },
] as const;
export type BootLane = (typeof BOOT_LANES)[number]["kind"];

export interface BenchConfigSummary extends BenchConfig {
  /** Whole-command wall time per step, plus `reset-to-healthy` (each reset plus the start after it). */
  readonly whole: Readonly<Partial<Record<BenchStep | "reset-to-healthy", Stats>>>;
  /** Per boot, the median of each phase since QEMU's spawn, in time order. */
  readonly phases: Readonly<Record<BootLane, readonly { readonly phase: string; readonly medianMs: number }[]>>;
  readonly save: { readonly ms: Stats | null; readonly bytes: Stats | null };
  /** Median cold start over median resume start, whole command; null without both. */
  readonly coldResumeRatioWhole: number | null;
  /** The same for the phase `all-healthy` since QEMU's spawn. */
  readonly coldResumeRatioFromSpawn: number | null;
}

/** `stack emulator bench --json`, and the input of the HTML report. */
export interface WholeBenchReport {
  readonly schemaVersion: typeof BENCH_SCHEMA_VERSION;
  readonly arch: Arch;
  /** The accelerator the starts reported (null if none did). */
  readonly accel: Accelerator | null;
  readonly runs: number;
  /** When it ran (ISO 8601). */
  readonly at: string;
  readonly configs: readonly BenchConfigRun[];
  readonly summary: readonly BenchConfigSummary[];
}

export function stats(values: readonly number[]): Stats | null {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return null;
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[n - 1]!, count: n };
}

function ratio(a: Stats | null | undefined, b: Stats | null | undefined): number | null {
  return a && b && b.median > 0 ? a.median / b.median : null;
}

/** Parses `--configs`: `default`, or `<cpus>x<memoryMb>` (`2x2048`), comma-separated; null when malformed. */
export function parseBenchConfigs(text: string, defaults: { cpus: number; memoryMb: number }): BenchConfig[] | null {
  const configs: BenchConfig[] = [];
  for (const raw of text.split(",")) {
    const token = raw.trim();
    if (token === "default") {
      configs.push({ label: `default (${defaults.cpus} CPUs, ${defaults.memoryMb} MB)`, ...defaults });
      continue;
    }
    const m = /^(\d+)x(\d+)$/.exec(token);
    if (m === null) return null;
    const cpus = Number(m[1]);
    const memoryMb = Number(m[2]);
    const { cpus: c, memoryMb: m2 } = MACHINE_SETTINGS;
    if (cpus < c.min || cpus > c.max || memoryMb < m2.min || memoryMb > m2.max) return null;
    configs.push({ label: `${cpus} CPUs, ${memoryMb} MB`, cpus, memoryMb });
  }
  return configs.length > 0 ? configs : null;
}

export function summariseConfig(run: BenchConfigRun): BenchConfigSummary {
  const of = (step: BenchStep) => run.samples.filter((s) => s.step === step);
  const whole: Partial<Record<BenchStep | "reset-to-healthy", Stats>> = {};
  for (const step of BENCH_STEPS) {
    const s = stats(of(step).map((x) => x.wholeMs));
    if (s !== null) whole[step] = s;
  }
  const resets = of("reset");
  const after = of("start-after-reset");
  const toHealthy = stats(resets.slice(0, after.length).map((r, i) => r.wholeMs + after[i]!.wholeMs));
  if (toHealthy !== null) whole["reset-to-healthy"] = toHealthy;
  const phases = Object.fromEntries(
    BOOT_LANES.map(({ kind, step }) => {
      const byPhase = new Map<string, number[]>();
      for (const sample of of(step)) {
        for (const [phase, ms] of Object.entries(sample.phases ?? {}))
          byPhase.set(phase, [...(byPhase.get(phase) ?? []), ms]);
      }
      const medians = [...byPhase].map(([phase, values]) => ({ phase, medianMs: stats(values)!.median }));
      return [kind, medians.sort((a, b) => a.medianMs - b.medianMs)];
    }),
  ) as Record<BootLane, { phase: string; medianMs: number }[]>;
  const saves = of("stop-suspend");
  const fromSpawn = (kind: BootLane) => phases[kind].find((p) => p.phase === "all-healthy")?.medianMs;
  const coldSpawn = fromSpawn("cold");
  const resumeSpawn = fromSpawn("resume");
  return {
    label: run.label,
    cpus: run.cpus,
    memoryMb: run.memoryMb,
    whole,
    phases,
    save: {
      ms: stats(saves.flatMap((s) => (s.saveMs === undefined ? [] : [s.saveMs]))),
      bytes: stats(saves.flatMap((s) => (s.saveBytes === undefined ? [] : [s.saveBytes]))),
    },
    coldResumeRatioWhole: ratio(whole["start-cold"], whole["start-resume"]),
    coldResumeRatioFromSpawn:
      coldSpawn !== undefined && resumeSpawn !== undefined && resumeSpawn > 0 ? coldSpawn / resumeSpawn : null,
  };
}

const DURATION_PART = /(\d+(?:\.\d+)?) (h|min|s|ms)\b/g;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, min: 60_000, s: 1000, ms: 1 };

/**
 * The save of a `stop` from its progress lines on stderr (the CLI's plain
 * format: `snapshot done in 0.9 s (suspend (0.8 MiB of device state, 560
 * MiB of memory))`, or the older `(suspend (469 MiB of state))`); the size
 * is all the save wrote. Null when the stop did not save.
 */
export function parseSaveLine(stderr: string): { saveMs: number; saveBytes: number } | null {
  const m =
    /snapshot done in ([^(]+?) \(suspend \((\d+(?:\.\d+)?) MiB of (?:device )?state(?:, (\d+(?:\.\d+)?) MiB of memory)?/.exec(
      stderr,
    );
  if (m === null) return null;
  let ms = 0;
  for (const part of m[1]!.matchAll(DURATION_PART)) ms += Number(part[1]) * UNIT_MS[part[2]!]!;
  return { saveMs: ms, saveBytes: Math.round((Number(m[2]) + Number(m[3] ?? 0)) * 2 ** 20) };
}
