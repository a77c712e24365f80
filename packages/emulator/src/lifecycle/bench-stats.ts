/**
 * Statistics of `bench`: min, median and max per phase, per boot kind, and
 * the cold/resume ratio. Pure.
 */
import type { BootKind } from "../store/snapshot-record.js";

/** One stop -> start -> all healthy cycle. Phases are ms since QEMU was spawned. */
export interface EmulatorBenchRun {
  readonly kind: BootKind;
  /** `qemu-up`, `guest-booted`, one per service, `all-healthy`. */
  readonly phases: Readonly<Record<string, number>>;
  readonly stopMs: number;
}

export interface PhaseStats {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly count: number;
}

export interface EmulatorBenchSummary {
  /** Phase -> stats, per boot kind. */
  readonly cold: Readonly<Record<string, PhaseStats>>;
  readonly resume: Readonly<Record<string, PhaseStats>>;
  /** Median cold all-healthy over median resume all-healthy; null without both. */
  readonly ratio: number | null;
}

export function phaseStats(values: readonly number[]): PhaseStats {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { min: 0, median: 0, max: 0, count: 0 };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[n - 1]!, count: n };
}

function statsFor(runs: readonly EmulatorBenchRun[]): Record<string, PhaseStats> {
  const byPhase = new Map<string, number[]>();
  for (const run of runs) {
    for (const [phase, ms] of Object.entries(run.phases)) {
      const list = byPhase.get(phase) ?? [];
      list.push(ms);
      byPhase.set(phase, list);
    }
  }
  return Object.fromEntries([...byPhase].map(([phase, values]) => [phase, phaseStats(values)]));
}

export function summariseEmulatorBench(runs: readonly EmulatorBenchRun[]): EmulatorBenchSummary {
  const cold = statsFor(runs.filter((r) => r.kind === "cold"));
  const resume = statsFor(runs.filter((r) => r.kind === "resume"));
  const c = cold["all-healthy"]?.median;
  const r = resume["all-healthy"]?.median;
  return { cold, resume, ratio: c !== undefined && r !== undefined && r > 0 ? c / r : null };
}
