import { describe, expect, it } from "vitest";
import {
  type BenchConfigRun,
  type BenchSample,
  parseBenchConfigs,
  parseSaveLine,
  stats,
  summariseConfig,
} from "./whole-command-stats.js";

describe("stats", () => {
  it.each([
    [[], null],
    [[5], { min: 5, median: 5, max: 5, count: 1 }],
    [[3, 1, 2], { min: 1, median: 2, max: 3, count: 3 }],
    [[4, 1, 3, 2], { min: 1, median: 2.5, max: 4, count: 4 }],
    [[5, 1, 3], { min: 1, median: 3, max: 5, count: 3 }],
    [[4, 2], { min: 2, median: 3, max: 4, count: 2 }],
    [[90_000, 110_000], { min: 90_000, median: 100_000, max: 110_000, count: 2 }],
  ])("%j -> %j", (values, expected) => {
    expect(stats(values)).toEqual(expected);
  });
});

describe("parseBenchConfigs", () => {
  const defaults = { cpus: 4, memoryMb: 4096 };
  it.each([
    ["default", [{ label: "default (4 CPUs, 4096 MB)", cpus: 4, memoryMb: 4096 }]],
    [
      "default, 2x2048",
      [
        { label: "default (4 CPUs, 4096 MB)", cpus: 4, memoryMb: 4096 },
        { label: "2 CPUs, 2048 MB", cpus: 2, memoryMb: 2048 },
      ],
    ],
    ["1x512", [{ label: "1 CPUs, 512 MB", cpus: 1, memoryMb: 512 }]],
    ["", null],
    ["2x", null],
    ["1x256", [{ label: "1 CPUs, 256 MB", cpus: 1, memoryMb: 256 }]],
    ["2x128", null],
    ["257x2048", null],
    ["0x2048", null],
    ["default,,2x2048", null],
    ["4 x 4096", null],
  ])("%j", (text, expected) => {
    expect(parseBenchConfigs(text, defaults)).toEqual(expected);
  });
});

describe("parseSaveLine", () => {
  it.each([
    ["✔ snapshot done in 21.9 s (suspend (469 MiB of state))\n", { saveMs: 21_900, saveBytes: 469 * 2 ** 20 }],
    ["- snapshot done in 850 ms (suspend (12 MiB of state))", { saveMs: 850, saveBytes: 12 * 2 ** 20 }],
    ["snapshot done in 1 min 5 s (suspend (2048 MiB of state))", { saveMs: 65_000, saveBytes: 2048 * 2 ** 20 }],
    [
      "✔ snapshot done in 412 ms (suspend (0.5 MiB of device state, the RAM in its memory file))",
      { saveMs: 412, saveBytes: 2 ** 19 },
    ],
    [
      "✔ snapshot done in 1.2 s (suspend (0.5 MiB of device state, 560 MiB of memory))",
      { saveMs: 1200, saveBytes: 560.5 * 2 ** 20 },
    ],
    ["stop done in 1.2 s (quit)", null],
    ["", null],
  ])("%j", (stderr, expected) => {
    expect(parseSaveLine(stderr)).toEqual(expected);
  });
});

describe("summariseConfig", () => {
  const sample = (step: BenchSample["step"], wholeMs: number, extra: Partial<BenchSample> = {}): BenchSample => ({
    step,
    wholeMs,
    exitCode: 0,
    ...extra,
  });
  const run: BenchConfigRun = {
    label: "2 CPUs, 2048 MB",
    cpus: 2,
    memoryMb: 2048,
    samples: [
      sample("status-stopped", 300, { exitCode: 4 }),
      sample("start-cold", 70_000, { phases: { "qemu-up": 100, "guest-booted": 20_000, "all-healthy": 60_000 } }),
      sample("stop-suspend", 2_000, { saveMs: 1_500, saveBytes: 400 }),
      sample("start-resume", 2_000, { phases: { "all-healthy": 1_000, "qemu-up": 200 } }),
      sample("reset", 500),
      sample("start-after-reset", 2_500, { phases: { "qemu-up": 150, "all-healthy": 1_500 } }),
      sample("start-cold", 80_000, { phases: { "qemu-up": 120, "guest-booted": 22_000, "all-healthy": 64_000 } }),
      sample("stop-suspend", 4_000),
      sample("start-resume", 3_000, { phases: { "qemu-up": 400, "all-healthy": 2_000 } }),
      sample("reset", 700),
      sample("start-after-reset", 3_500, { phases: { "qemu-up": 150, "all-healthy": 1_700 } }),
    ],
  };
  const s = summariseConfig(run);

  it("medians per command, reset + start paired per cycle", () => {
    expect(s.whole["start-cold"]).toEqual({ min: 70_000, median: 75_000, max: 80_000, count: 2 });
    expect(s.whole["reset-to-healthy"]).toEqual({ min: 3_000, median: 3_600, max: 4_200, count: 2 });
    expect(s.whole["status-running"]).toBeUndefined();
  });

  it("phases per boot in time order, medians since QEMU's spawn", () => {
    expect(s.phases.cold).toEqual([
      { phase: "qemu-up", medianMs: 110 },
      { phase: "guest-booted", medianMs: 21_000 },
      { phase: "all-healthy", medianMs: 62_000 },
    ]);
    expect(s.phases.resume.map((p) => p.phase)).toEqual(["qemu-up", "all-healthy"]);
    expect(s.phases.reset).toEqual([
      { phase: "qemu-up", medianMs: 150 },
      { phase: "all-healthy", medianMs: 1_600 },
    ]);
  });

  it("the save only from the stops that saved; the ratios", () => {
    expect(s.save).toEqual({
      ms: { min: 1_500, median: 1_500, max: 1_500, count: 1 },
      bytes: { min: 400, median: 400, max: 400, count: 1 },
    });
    expect(s.coldResumeRatioWhole).toBe(30);
    expect(s.coldResumeRatioFromSpawn).toBe(62_000 / 1_500);
  });

  it("no samples: no stats, no ratios", () => {
    const empty = summariseConfig({ ...run, samples: [] });
    expect(empty.whole).toEqual({});
    expect(empty.save).toEqual({ ms: null, bytes: null });
    expect([empty.coldResumeRatioWhole, empty.coldResumeRatioFromSpawn]).toEqual([null, null]);
  });
});
