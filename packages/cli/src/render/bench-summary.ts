/**
 * `stack emulator bench` output: the runtime's result (image-builder's
 * `EmulatorBenchResult`: runs, and min/median/max per phase per boot kind with
 * the cold/resume ratio) as a table, and as the `--json` document. Pure.
 */
import type { Accelerator, Arch } from "@hexclave/qemu-core";
import type { EmulatorBenchResult, EmulatorBenchRun, EmulatorBenchSummary } from "../emulator-runtime.js";
import { formatDuration } from "./format.js";

export const BENCH_SCHEMA_VERSION = 1;

/**
 * `stack emulator bench --json`: one document for scripts (the root `pnpm bench`).
 * Phases are milliseconds since QEMU was spawned: `qemu-up`, `guest-booted`,
 * one per service, `all-healthy`. `summary.ratio` is the median cold
 * all-healthy over the median resume all-healthy (null without both).
 */
export interface BenchReport {
  readonly schemaVersion: typeof BENCH_SCHEMA_VERSION;
  readonly arch: Arch;
  readonly cpus: number;
  readonly memoryMb: number;
  /** The accelerator of the benchmarked starts (null if unknown). */
  readonly accel: Accelerator | null;
  readonly runs: readonly EmulatorBenchRun[];
  readonly summary: EmulatorBenchSummary;
}

export function benchReport(
  result: EmulatorBenchResult,
  machine: { arch: Arch; cpus: number; memoryMb: number; accel: Accelerator | null },
): BenchReport {
  return { schemaVersion: BENCH_SCHEMA_VERSION, ...machine, runs: result.runs, summary: result.summary };
}

/** One row per boot kind and phase (cold first), then the ratio line. */
export function renderBenchTable(summary: EmulatorBenchSummary): string {
  const header = ["boot", "phase", "runs", "min", "median", "max"];
  const rows: string[][] = [];
  for (const kind of ["cold", "resume"] as const) {
    for (const [phase, stats] of Object.entries(summary[kind])) {
      rows.push([
        kind,
        phase,
        String(stats.count),
        formatDuration(stats.min),
        formatDuration(stats.median),
        formatDuration(stats.max),
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const cold = summary.cold["all-healthy"];
  const resume = summary.resume["all-healthy"];
  const ratio =
    summary.ratio !== null && cold !== undefined && resume !== undefined
      ? `\ncold boot ${formatDuration(cold.median)} vs resume ${formatDuration(resume.median)} to all healthy (median): resume is ${summary.ratio.toFixed(1)}x faster.`
      : "";
  return `${[line(header), ...rows.map(line)].join("\n")}${ratio}\n`;
}
