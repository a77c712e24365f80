/**
 * The bench report as a person sees it: Debian's headless Chromium renders the
 * page made from a fixed bench result to a PNG, and the bars' colours must be
 * where the layout puts them (scripts/setup.sh installs `chromium`).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { execaRunner } from "@hexclave/qemu-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXED_BENCH_REPORT } from "../../test-support/bench-report-fixture.js";
import { type DecodedPng, decodePng } from "../../test-support/png.js";
import { benchReportLayout, REPORT_COLOURS, renderBenchReportHtml } from "./bench-report-html.js";

const CHROMIUM = process.env.HEXCLAVE_CHROMIUM ?? "/usr/bin/chromium";

function hex(colour: string): [number, number, number] {
  return [1, 3, 5].map((i) => Number.parseInt(colour.slice(i, i + 2), 16)) as [number, number, number];
}

function near(actual: readonly number[], expected: readonly number[], tolerance = 10): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]!) <= tolerance);
}

describe("bench --report: the page in headless Chromium", () => {
  const layout = benchReportLayout(FIXED_BENCH_REPORT);
  let dir: string;
  let png: DecodedPng;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "hexclave-bench-report-"));
    const page = join(dir, "report.html");
    await writeFile(page, renderBenchReportHtml(FIXED_BENCH_REPORT));
    const shot = join(dir, "report.png");
    const r = await execaRunner(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        `--user-data-dir=${join(dir, "profile")}`,
        `--window-size=${layout.width},${layout.height}`,
        `--screenshot=${shot}`,
        pathToFileURL(page).href,
      ],
      { timeoutMs: 90_000 },
    );
    if (r.spawnError !== undefined) {
      throw new Error(
        `${CHROMIUM} cannot run (${r.spawnError.message}): install it (apt-get install chromium, see scripts/setup.sh)`,
      );
    }
    expect(r.exitCode, r.stderr).toBe(0);
    png = decodePng(await readFile(shot));
  }, 120_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("is the size of the layout", () => {
    expect([png.width, png.height]).toEqual([layout.width, layout.height]);
  });

  it("has every bar's colour at the bar's centre, for each boot and the whole commands", () => {
    const checked = layout.bars.filter((b) => b.width >= 8);
    const wrong = checked
      .map((b) => ({
        bar: `${b.series} ${b.label}`,
        want: b.fill,
        got: png.pixel(Math.round(b.x + b.width / 2), Math.round(b.y + b.height / 2)),
      }))
      .filter((c) => !near(c.got, hex(c.want)));
    expect(wrong).toEqual([]);
    expect(new Set(checked.map((b) => b.series))).toEqual(new Set(["cold", "resume", "reset", "whole"]));
  });

  it("is white beside the bars and has text (dark pixels) in the label column", () => {
    const bar = layout.bars.find((b) => b.series === "resume" && b.label === "all-healthy")!;
    expect(png.pixel(Math.round(bar.x + bar.width + 60), Math.round(bar.y + bar.height / 2))).toEqual([255, 255, 255]);
    let dark = 0;
    for (let y = Math.round(bar.y); y < bar.y + bar.height; y++) {
      for (let x = 150; x < 300; x++) if (png.pixel(x, y).every((v) => v < 128)) dark++;
    }
    expect(dark).toBeGreaterThan(10);
    const colours = Object.values(REPORT_COLOURS).map(hex);
    expect(colours.some((c) => near(png.pixel(png.width - 3, png.height - 3), c))).toBe(false);
  });
});
