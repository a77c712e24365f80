/** A fixed `stack emulator bench` result (two configurations, two runs), for the report's tests. */
import {
  BENCH_SCHEMA_VERSION,
  type BenchConfigRun,
  type BenchSample,
  summariseConfig,
  type WholeBenchReport,
} from "../src/bench/whole-command-stats.js";

const coldPhases = (scale: number) => ({
  "qemu-up": 300 * scale,
  "guest-booted": 21_000 * scale,
  inbucket: 48_000 * scale,
  minio: 52_000 * scale,
  backend: 61_000 * scale,
  dashboard: 63_000 * scale,
  "all-healthy": 63_500 * scale,
});
const warmPhases = (scale: number) => ({
  "qemu-up": 250 * scale,
  "guest-booted": 900 * scale,
  inbucket: 1_300 * scale,
  minio: 1_350 * scale,
  backend: 1_700 * scale,
  dashboard: 1_800 * scale,
  "all-healthy": 1_850 * scale,
});

function cycle(scale: number): BenchSample[] {
  const s = (step: BenchSample["step"], wholeMs: number, extra: Partial<BenchSample> = {}): BenchSample => ({
    step,
    wholeMs: wholeMs * scale,
    exitCode: 0,
    ...extra,
  });
  return [
    s("status-stopped", 450, { exitCode: 4 }),
    s("start-cold", 66_000, { phases: coldPhases(scale) }),
    s("status-running", 7_900),
    s("stop-suspend", 22_700, { saveMs: 21_900 * scale, saveBytes: 469 * 2 ** 20 }),
    s("start-resume", 4_500, { phases: warmPhases(scale) }),
    s("reset", 1_200),
    s("start-after-reset", 5_100, { phases: warmPhases(scale * 1.2) }),
  ];
}

const configs: BenchConfigRun[] = [
  { label: "default (4 CPUs, 4096 MB)", cpus: 4, memoryMb: 4096, samples: [...cycle(1), ...cycle(1.1)] },
  { label: "2 CPUs, 2048 MB", cpus: 2, memoryMb: 2048, samples: [...cycle(0.8), ...cycle(0.9)] },
];

export const FIXED_BENCH_REPORT: WholeBenchReport = {
  schemaVersion: BENCH_SCHEMA_VERSION,
  arch: "amd64",
  accel: "tcg",
  runs: 2,
  at: "2026-12-01T23:00:00.000Z",
  configs,
  summary: configs.map(summariseConfig),
};
