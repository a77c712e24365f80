/**
 * `stack emulator bench` for people: per configuration, the whole-command
 * wall times (min / median / max), the save, the phases since QEMU's spawn
 * per boot, and the cold/resume ratios. Pure.
 */
import type { BenchConfigSummary, BenchStep, Stats } from "../bench/whole-command-stats.js";
import { formatDuration } from "./format.js";

export const STEP_LABELS: Readonly<Record<BenchStep | "reset-to-healthy", string>> = {
  "status-stopped": "status --json (stopped)",
  "start-cold": "start (cold boot)",
  "status-running": "status --json (running)",
  "stop-suspend": "stop (suspend)",
  "start-resume": "start (resume)",
  reset: "reset --yes",
  "start-after-reset": "start after reset",
  "reset-to-healthy": "reset + start (to healthy)",
};

/** Rows of cells as aligned columns, a dashed rule under the header. */
export function alignColumns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const cell = (s: Stats | null | undefined) => (s ? formatDuration(s.median) : "-");
const range = (s: Stats | null | undefined) => (s ? `${formatDuration(s.min)} .. ${formatDuration(s.max)}` : "-");
const times = (r: number | null) => (r === null ? "-" : `${r.toFixed(1)}x`);

export function renderWholeBenchTables(summaries: readonly BenchConfigSummary[]): string {
  const parts: string[] = [];
  for (const s of summaries) {
    const rows = (Object.keys(STEP_LABELS) as (keyof typeof STEP_LABELS)[]).flatMap((step) => {
      const st = s.whole[step];
      return st ? [[STEP_LABELS[step], String(st.count), cell(st), range(st)]] : [];
    });
    parts.push(`Whole command (spawn of \`stack emulator ...\` to its exit), ${s.label}`);
    parts.push(alignColumns(["command", "runs", "median", "min .. max"], rows));
    const mib = s.save.bytes ? s.save.bytes.median / 2 ** 20 : undefined;
    // A memory-file suspend streams the device state only (well under 1 MiB): one decimal below 10 MiB.
    const size = mib === undefined ? "-" : `${mib.toFixed(mib < 10 ? 1 : 0)} MiB`;
    parts.push(`suspend save (inside stop): ${cell(s.save.ms)} for ${size} of state (median)`);
    const names = [...new Set([...s.phases.cold, ...s.phases.resume, ...s.phases.reset].map((p) => p.phase))];
    const at = (lane: keyof BenchConfigSummary["phases"], phase: string) => {
      const p = s.phases[lane].find((x) => x.phase === phase);
      return p ? formatDuration(p.medianMs) : "-";
    };
    const order = (phase: string) => s.phases.cold.find((p) => p.phase === phase)?.medianMs ?? Number.MAX_VALUE;
    names.sort((a, b) => order(a) - order(b));
    parts.push("");
    parts.push("From QEMU's spawn (median per phase)");
    parts.push(
      alignColumns(
        ["phase", "cold", "resume", "after reset"],
        names.map((n) => [n, at("cold", n), at("resume", n), at("reset", n)]),
      ),
    );
    parts.push(
      `cold / resume: ${times(s.coldResumeRatioWhole)} (whole command), ${times(s.coldResumeRatioFromSpawn)} (QEMU spawn to all healthy)`,
    );
    parts.push("");
  }
  return `${parts.join("\n").trimEnd()}\n`;
}
