/**
 * `stack emulator bench --report FILE.html`: one self-contained page (inline
 * CSS and SVG, nothing fetched) per bench run. For each configuration:
 *
 * - a waterfall per boot (cold boot, resume of `suspend`, the start after a
 *   `reset`): one row per phase since QEMU's spawn, its bar from the phase
 *   before it to its own median time, each boot on its own time axis;
 * - the whole commands (spawn of `stack emulator ...` to its exit) as bars on
 *   one axis; a bar longer than the axis (the cold boot) is cut and marked.
 *
 * Pure: {@link benchReportLayout} places every bar (page pixels, the SVG
 * starts at the page's top left), {@link renderBenchReportHtml} draws it.
 */
import {
  type BenchConfigSummary,
  BOOT_LANES,
  type BootLane,
  type WholeBenchReport,
} from "../bench/whole-command-stats.js";
import { STEP_LABELS } from "./bench-whole-table.js";
import { formatDuration } from "./format.js";

export const REPORT_WIDTH = 1100;
/** Bar colours by boot, and for the whole-command bars. */
export const REPORT_COLOURS = {
  cold: "#e8590c",
  resume: "#2f9e44",
  reset: "#1971c2",
  whole: "#7048e8",
} as const;

const LANE_TITLES: Readonly<Record<BootLane, string>> = {
  cold: "Cold boot",
  resume: "Resume (start after stop)",
  reset: "Start after reset",
};

const LABEL_X = 24;
const BAR_X = 300;
const BAR_W = REPORT_WIDTH - BAR_X - 120;
const ROW_H = 22;
const BAR_H = 14;

export interface LaidBar {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly fill: string;
  /** `cold`, `resume`, `reset` (waterfall) or `whole` (whole-command bars). */
  readonly series: BootLane | "whole";
  /** Phase or command. */
  readonly label: string;
  readonly valueMs: number;
  /** The value is beyond the axis: the bar is cut at its end. */
  readonly cut: boolean;
}

export interface LaidText {
  readonly x: number;
  readonly y: number;
  readonly text: string;
  readonly kind: "h1" | "h2" | "h3" | "label" | "value" | "tick" | "note";
  readonly anchor?: "start" | "end" | "middle";
}

export interface LaidLine {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

export interface ReportLayout {
  readonly width: number;
  readonly height: number;
  readonly bars: readonly LaidBar[];
  readonly texts: readonly LaidText[];
  readonly gridLines: readonly LaidLine[];
}

/** A round axis end at or above `ms`: 1, 2 or 5 times a power of ten. */
export function niceAxisMs(ms: number): number {
  if (!(ms > 0)) return 1000;
  const power = 10 ** Math.floor(Math.log10(ms));
  for (const step of [1, 2, 5, 10]) if (step * power >= ms) return step * power;
  return 10 * power;
}

function seconds(ms: number): string {
  return formatDuration(ms);
}

export function benchReportLayout(report: WholeBenchReport): ReportLayout {
  const bars: LaidBar[] = [];
  const texts: LaidText[] = [];
  const gridLines: LaidLine[] = [];
  let y = 40;
  texts.push({ x: LABEL_X, y, text: "Hexclave emulator bench", kind: "h1" });
  y += 24;
  texts.push({
    x: LABEL_X,
    y,
    text: `${report.arch}, accelerator ${report.accel ?? "unknown"}, ${report.runs} run(s) per configuration, ${report.at}. Medians.`,
    kind: "note",
  });
  y += 16;
  const axis = (top: number, bottom: number, axisMs: number) => {
    for (let i = 0; i <= 5; i++) {
      const x = BAR_X + (BAR_W * i) / 5;
      gridLines.push({ x1: x, y1: top, x2: x, y2: bottom });
      texts.push({ x, y: bottom + 14, text: tickText((axisMs * i) / 5), kind: "tick", anchor: "middle" });
    }
  };
  for (const s of report.summary) {
    y += 36;
    texts.push({ x: LABEL_X, y, text: configTitle(s), kind: "h2" });
    for (const lane of ["cold", "resume", "reset"] as const) {
      const phases = s.phases[lane];
      if (phases.length === 0) continue;
      y += 30;
      const total = phases[phases.length - 1]!.medianMs;
      const whole = s.whole[BOOT_LANES.find((l) => l.kind === lane)!.step];
      texts.push({
        x: LABEL_X,
        y,
        text: `${LANE_TITLES[lane]}: from QEMU's spawn to ${phases[phases.length - 1]!.phase} in ${seconds(total)}${whole ? `; the whole command took ${seconds(whole.median)}` : ""}`,
        kind: "h3",
      });
      y += 10;
      const axisMs = niceAxisMs(total);
      const top = y;
      let previous = 0;
      for (const p of phases) {
        const x0 = BAR_X + (BAR_W * previous) / axisMs;
        const x1 = BAR_X + (BAR_W * p.medianMs) / axisMs;
        texts.push({ x: BAR_X - 12, y: y + BAR_H - 2, text: p.phase, kind: "label", anchor: "end" });
        bars.push({
          x: x0,
          y: y + (ROW_H - BAR_H) / 2,
          width: Math.max(2, x1 - x0),
          height: BAR_H,
          fill: REPORT_COLOURS[lane],
          series: lane,
          label: p.phase,
          valueMs: p.medianMs,
          cut: false,
        });
        texts.push({ x: Math.max(x1, x0 + 2) + 6, y: y + BAR_H - 2, text: seconds(p.medianMs), kind: "value" });
        previous = p.medianMs;
        y += ROW_H;
      }
      axis(top, y, axisMs);
      y += 18;
    }
    const steps = (Object.keys(STEP_LABELS) as (keyof typeof STEP_LABELS)[]).filter((k) => s.whole[k] !== undefined);
    if (steps.length > 0) {
      y += 30;
      texts.push({
        x: LABEL_X,
        y,
        text: "Whole command: spawn of `stack emulator ...` to its exit",
        kind: "h3",
      });
      y += 10;
      const others = steps.filter((k) => k !== "start-cold").map((k) => s.whole[k]!.median);
      const axisMs = niceAxisMs(others.length > 0 ? Math.max(...others) : s.whole["start-cold"]!.median);
      const top = y;
      for (const step of steps) {
        const ms = s.whole[step]!.median;
        const cut = ms > axisMs;
        const width = Math.max(2, (BAR_W * Math.min(ms, axisMs)) / axisMs);
        texts.push({ x: BAR_X - 12, y: y + BAR_H - 2, text: STEP_LABELS[step], kind: "label", anchor: "end" });
        bars.push({
          x: BAR_X,
          y: y + (ROW_H - BAR_H) / 2,
          width,
          height: BAR_H,
          fill: REPORT_COLOURS.whole,
          series: "whole",
          label: step,
          valueMs: ms,
          cut,
        });
        texts.push({
          x: BAR_X + width + 6,
          y: y + BAR_H - 2,
          text: cut ? `${seconds(ms)} (cut)` : seconds(ms),
          kind: "value",
        });
        y += ROW_H;
      }
      axis(top, y, axisMs);
      y += 24;
      const save = s.save.ms && s.save.bytes;
      texts.push({
        x: LABEL_X,
        y: y + 12,
        text: `${save ? `Suspend save inside stop: ${seconds(s.save.ms!.median)} for ${(s.save.bytes!.median / 2 ** 20).toFixed(0)} MiB. ` : ""}Cold / resume: ${ratio(s.coldResumeRatioWhole)} whole command, ${ratio(s.coldResumeRatioFromSpawn)} from QEMU's spawn to all healthy.`,
        kind: "note",
      });
      y += 12;
    }
  }
  return { width: REPORT_WIDTH, height: Math.ceil(y + 30), bars, texts, gridLines };
}

/** Axis ticks in seconds: `0 s`, `0.4 s`, `20 s`. */
export function tickText(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

function configTitle(s: BenchConfigSummary): string {
  return s.label.includes("CPUs") ? s.label : `${s.label}: ${s.cpus} CPUs, ${s.memoryMb} MB`;
}

function ratio(r: number | null): string {
  return r === null ? "-" : `${r.toFixed(1)}x`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const px = (n: number) => Number(n.toFixed(1));

export function renderBenchReportHtml(report: WholeBenchReport): string {
  const layout = benchReportLayout(report);
  const svg: string[] = [];
  for (const l of layout.gridLines) {
    svg.push(`<line class="grid" x1="${px(l.x1)}" y1="${px(l.y1)}" x2="${px(l.x2)}" y2="${px(l.y2)}"/>`);
  }
  for (const b of layout.bars) {
    svg.push(
      `<rect x="${px(b.x)}" y="${px(b.y)}" width="${px(b.width)}" height="${b.height}" fill="${b.fill}"><title>${escapeXml(`${b.label}: ${formatDuration(b.valueMs)}`)}</title></rect>`,
    );
    if (b.cut) {
      const x = px(b.x + b.width - 14);
      svg.push(
        `<path class="cut" d="M${x} ${px(b.y + b.height)} L${px(x + 6)} ${px(b.y)} M${px(x + 5)} ${px(b.y + b.height)} L${px(x + 11)} ${px(b.y)}"/>`,
      );
    }
  }
  for (const t of layout.texts) {
    const anchor = t.anchor === undefined ? "" : ` text-anchor="${t.anchor}"`;
    svg.push(`<text class="${t.kind}" x="${px(t.x)}" y="${px(t.y)}"${anchor}>${escapeXml(t.text)}</text>`);
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hexclave emulator bench ${escapeXml(report.at)}</title>
<style>
html, body { margin: 0; padding: 0; background: #fff; overflow: hidden; }
svg { display: block; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.h1 { font-size: 22px; font-weight: 700; fill: #212529; }
.h2 { font-size: 18px; font-weight: 700; fill: #212529; }
.h3 { font-size: 14px; font-weight: 600; fill: #343a40; }
.label, .value { font-size: 12px; fill: #343a40; }
.tick { font-size: 10px; fill: #868e96; }
.note { font-size: 12px; fill: #495057; }
.grid { stroke: #e9ecef; stroke-width: 1; }
.cut { stroke: #fff; stroke-width: 2; fill: none; }
</style>
</head>
<body>
<svg width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="Bench waterfall">
${svg.join("\n")}
</svg>
</body>
</html>
`;
}
