import { describe, expect, it } from "vitest";
import { FIXED_BENCH_REPORT } from "../../test-support/bench-report-fixture.js";
import { benchReportLayout, niceAxisMs, REPORT_COLOURS, renderBenchReportHtml, tickText } from "./bench-report-html.js";
import { STEP_LABELS } from "./bench-whole-table.js";

describe("niceAxisMs", () => {
  it.each([
    [0, 1000],
    [1, 1],
    [850, 1000],
    [1_850, 2_000],
    [2_001, 5_000],
    [63_500, 100_000],
    [100_000, 100_000],
  ])("%i -> %i", (ms, axis) => {
    expect(niceAxisMs(ms)).toBe(axis);
  });
});

describe("tickText", () => {
  it.each([
    [0, "0 s"],
    [400, "0.4 s"],
    [1_200, "1.2 s"],
    [20_000, "20 s"],
    [100_000, "100 s"],
  ])("%i -> %s", (ms, text) => {
    expect(tickText(ms)).toBe(text);
  });
});

describe("benchReportLayout", () => {
  const layout = benchReportLayout(FIXED_BENCH_REPORT);
  const [defaults] = FIXED_BENCH_REPORT.summary;

  it("one waterfall bar per phase and boot, each starting where the phase before it ended", () => {
    const cold = layout.bars.filter((b) => b.series === "cold").slice(0, defaults!.phases.cold.length);
    expect(cold.map((b) => b.label)).toEqual(defaults!.phases.cold.map((p) => p.phase));
    for (let i = 1; i < cold.length; i++) {
      expect(cold[i]!.x).toBeCloseTo(cold[i - 1]!.x + cold[i - 1]!.width, 5);
      expect(cold[i]!.y).toBeGreaterThan(cold[i - 1]!.y);
    }
    expect(new Set(layout.bars.map((b) => b.fill))).toEqual(new Set(Object.values(REPORT_COLOURS)));
  });

  it("whole-command bars on one axis: the cold start (beyond it) is cut, the others are not", () => {
    const whole = layout.bars.filter((b) => b.series === "whole").slice(0, 8);
    expect(whole.map((b) => b.label)).toEqual(Object.keys(STEP_LABELS));
    expect(whole.filter((b) => b.cut).map((b) => b.label)).toEqual(["start-cold"]);
    const longest = Math.max(...whole.map((b) => b.x + b.width));
    expect(whole.find((b) => b.label === "start-cold")!.x + whole.find((b) => b.label === "start-cold")!.width).toBe(
      longest,
    );
  });

  it("everything inside the page", () => {
    for (const b of layout.bars) {
      expect(b.x + b.width).toBeLessThanOrEqual(layout.width);
      expect(b.y + b.height).toBeLessThanOrEqual(layout.height);
    }
  });
});

describe("renderBenchReportHtml", () => {
  const html = renderBenchReportHtml(FIXED_BENCH_REPORT);

  it("is self-contained: no script, no external resource", () => {
    expect(html).not.toMatch(/<script|<link|\bsrc=|\bhref=|url\(|https?:/i);
    expect(html).toMatch(/^<!doctype html>/);
  });

  it("draws each bar and names the boots, the save and the ratios", () => {
    expect(html.match(/<rect /g)?.length).toBe(benchReportLayout(FIXED_BENCH_REPORT).bars.length);
    expect(html).toContain("Cold boot: from QEMU's spawn");
    expect(html).toContain("Suspend save inside stop: 23.0 s for 469 MiB.");
    expect(html).toContain("Cold / resume: 14.7x whole command, 34.3x from QEMU's spawn to all healthy.");
  });

  it("escapes what it prints", () => {
    const report = {
      ...FIXED_BENCH_REPORT,
      summary: [{ ...FIXED_BENCH_REPORT.summary[0]!, label: "<b>&" }],
    };
    expect(renderBenchReportHtml(report)).toContain("&lt;b&gt;&amp;: 4 CPUs, 4096 MB");
  });
});
