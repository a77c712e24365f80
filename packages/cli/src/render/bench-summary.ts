/** Summary of `stack emulator bench` runs: min, median and max per boot mode and phase. Pure. */
import type { BenchRun } from "../emulator-runtime.js";
import { formatDuration } from "./format.js";

export interface PhaseSummary {
  readonly mode: "resume" | "cold";
  readonly phase: string;
  readonly runs: number;
  readonly minMs: number;
  readonly medianMs: number;
  readonly maxMs: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Phases keep the order they first appear in; modes are `cold` then `resume`. */
export function summariseBench(runs: readonly BenchRun[]): PhaseSummary[] {
  const out: PhaseSummary[] = [];
  for (const mode of ["cold", "resume"] as const) {
    const ofMode = runs.filter((r) => r.mode === mode);
    const phases: string[] = [];
    for (const run of ofMode)
      for (const phase of Object.keys(run.phases)) if (!phases.includes(phase)) phases.push(phase);
    for (const phase of phases) {
      const values = ofMode.map((r) => r.phases[phase]).filter((v): v is number => typeof v === "number");
      if (values.length === 0) continue;
      out.push({
        mode,
        phase,
        runs: values.length,
        minMs: Math.min(...values),
        medianMs: median(values),
        maxMs: Math.max(...values),
      });
    }
  }
  return out;
}

export function renderBenchTable(summary: readonly PhaseSummary[]): string {
  const header = ["mode", "phase", "runs", "min", "median", "max"];
  const rows = summary.map((s) => [
    s.mode,
    s.phase,
    String(s.runs),
    formatDuration(s.minMs),
    formatDuration(s.medianMs),
    formatDuration(s.maxMs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const coldAll = summary.find((s) => s.mode === "cold" && s.phase === "all-healthy");
  const resumeAll = summary.find((s) => s.mode === "resume" && s.phase === "all-healthy");
  const ratio =
    coldAll !== undefined && resumeAll !== undefined && resumeAll.medianMs > 0
      ? `\nresume is ${(coldAll.medianMs / resumeAll.medianMs).toFixed(1)}x faster than a cold boot (median all-healthy).`
      : "";
  return `${[line(header), ...rows.map(line)].join("\n")}${ratio}\n`;
}
