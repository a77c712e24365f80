#!/usr/bin/env node
/**
 * `pnpm bench`: the project's speed and size measurements, printed as tables with ratios.
 *
 *   pnpm bench                     everything
 *   pnpm bench -- --only probe     accelerator probe (cold and cached)
 *   pnpm bench -- --only build     self-test image build: time per stage; size zstd vs zlib vs none vs no zeroing
 *   pnpm bench -- --only emulator  `stack emulator bench`: whole commands (start cold/resume, stop, reset,
 *                                  status --json) timed spawn to exit, with each start's phases from QEMU's
 *                                  spawn, the suspend's save, the cold/resume ratios; then the boot breakdown
 *   pnpm bench -- --only cli       `stack emulator status --json` with the VM stopped: median wall time (what
 *                                  the CLI loads before it answers; node's own start is about 0.05 s)
 *   --runs N                       emulator cycles per configuration (default 3); CLI runs are 5x this, at least 11
 *   --configs LIST                 machine sizes for the emulator section (default "default,2x2048": the
 *                                  defaults, then EMULATOR_CPUS=2 EMULATOR_RAM_MB=2048)
 *   --report FILE.html             the emulator section's HTML report (waterfall of the phases, command bars)
 *   --no-trim-run                  skip the second warm boot that measures the size without zeroing
 *   --json                         one JSON document on stdout instead of tables
 *
 * Timings on shared 2-core machines vary by up to 2x from hour to hour: compare within one run.
 * The build and emulator sections need the packages built (`pnpm bench` builds them first).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repo = fileURLToPath(new URL("..", import.meta.url));
const qemuCore = await import(join(repo, "packages/qemu-core/dist/index.js"));
const imageBuilder = await import(join(repo, "packages/image-builder/dist/index.js"));
const emulator = await import(join(repo, "packages/emulator/dist/index.js"));
const cli = await import(join(repo, "packages/cli/dist/index.js"));

// `pnpm bench -- --only cli` hands the script a literal `--` first (pnpm passes it on): drop it, so both spellings work.
const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv[0] === "--" ? argv.slice(1) : argv,
  options: {
    only: { type: "string" },
    runs: { type: "string", default: "3" },
    configs: { type: "string", default: "default,2x2048" },
    report: { type: "string" },
    "no-trim-run": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const sections = values.only ? values.only.split(",") : ["probe", "cli", "build", "emulator"];
for (const s of sections) {
  if (!["probe", "cli", "build", "emulator"].includes(s)) {
    console.error(`bench: unknown section '${s}' (probe, cli, build, emulator)`);
    process.exit(2);
  }
}
const runs = Number.parseInt(values.runs, 10);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench: --runs must be a whole number >= 1, got '${values.runs}'`);
  process.exit(2);
}

const report = {};
const log = (line) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);
const seconds = (ms) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Prints rows (arrays of cells) as an aligned table with a header row. */
function table(title, header, rows) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i] ?? "").length)));
  const line = (cells) => cells.map((c, i) => String(c ?? "").padEnd(widths[i])).join("  ");
  log(`\n${title}`);
  log(line(header));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) log(line(r));
}

/** The accelerator probe's cache of the user's emulator home, as start, doctor and build-image use it. */
const probeCacheDir = emulator.probeCacheDir(emulator.emulatorHome());

async function benchProbe() {
  const timed = async (cache) => {
    const started = performance.now();
    const result = await qemuCore.probeAccelerator({ arch: "amd64", cache, cacheDir: probeCacheDir });
    return { ms: performance.now() - started, result };
  };
  const fresh = await timed(false);
  await timed(true); // fill the cache
  const cached = await timed(true);
  report.probe = { accel: fresh.result.accel, reason: fresh.result.reason, freshMs: fresh.ms, cachedMs: cached.ms };
  table(
    "Accelerator probe (amd64 guest)",
    ["run", "time", "answer", "ratio"],
    [
      ["uncached", `${fresh.ms.toFixed(0)} ms`, fresh.result.accel, "1.0x"],
      ["cached", `${cached.ms.toFixed(1)} ms`, cached.result.accel, `${(fresh.ms / cached.ms).toFixed(0)}x faster`],
    ],
  );
  log(`reason: ${fresh.result.reason}`);
}

/** Median wall time of `stack emulator status --json` in an empty emulator home (VM stopped, no image). */
async function benchCli() {
  const home = await mkdtemp(join(tmpdir(), "hexclave-bench-cli-"));
  const bin = join(repo, "packages/cli/dist/bin.js");
  const count = Math.max(11, runs * 5);
  const times = [];
  try {
    for (let i = 0; i < count + 1; i++) {
      const started = performance.now();
      const r = spawnSync(process.execPath, [bin, "emulator", "status", "--json"], {
        env: { ...process.env, HEXCLAVE_EMULATOR_HOME: home },
        encoding: "utf8",
      });
      const ms = performance.now() - started;
      if (!r.stdout.includes('"health"')) throw new Error(`status printed no JSON: ${r.stderr || r.stdout}`);
      if (i > 0) times.push(ms); // the first run warms the file cache
    }
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  const started = performance.now();
  spawnSync(process.execPath, ["-e", ""]);
  const nodeMs = performance.now() - started;
  // What it loads, a figure the machine's load does not change: the CommonJS files in node's module cache at exit.
  const probeHome = await mkdtemp(join(tmpdir(), "hexclave-bench-cli-"));
  const probe = spawnSync(
    process.execPath,
    ["--require", join(repo, "scripts/bench-loaded-modules.cjs"), bin, "emulator", "status", "--json"],
    { env: { ...process.env, HEXCLAVE_EMULATOR_HOME: probeHome }, encoding: "utf8" },
  );
  await rm(probeHome, { recursive: true, force: true });
  const loaded = JSON.parse(probe.stderr.split("\n").find((l) => l.startsWith("{")) ?? "{}");
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  report.cli = {
    statusMedianMs: median,
    statusMinMs: times[0],
    statusMaxMs: times.at(-1),
    runs: count,
    nodeMs,
    loaded,
  };
  table(
    `stack emulator status --json, VM stopped (${count} runs)`,
    ["command", "median", "min", "max"],
    [
      ["status --json", `${median.toFixed(0)} ms`, `${times[0].toFixed(0)} ms`, `${times.at(-1).toFixed(0)} ms`],
      ["node -e '' (once)", `${nodeMs.toFixed(0)} ms`, "-", "-"],
    ],
  );
  log(
    `loaded: ${loaded.modules ?? "?"} modules (${loaded.files} CommonJS files); dockerode ${loaded.packages?.includes("dockerode") ? "LOADED" : "not loaded"}, got ${loaded.packages?.includes("got") ? "LOADED" : "not loaded"}`,
  );
}

async function benchBuild() {
  log("\nBuilding the self-test image for measurement (two warm boots unless --no-trim-run) ...");
  const result = await imageBuilder.benchSelftestBuild({
    noTrimRun: !values["no-trim-run"],
    acceleratorCacheDir: probeCacheDir,
  });
  report.build = result;
  const total = ["payload", "base", "warm-boot", "compaction"].reduce((s, k) => s + (result.stages[k] ?? 0), 0);
  table(
    `Self-test build, ${result.arch} under ${result.accel}: time per stage`,
    ["stage", "time", "share"],
    Object.entries(result.stages).map(([stage, ms]) => [
      stage,
      seconds(ms),
      stage.startsWith("guest:") ? "(from QEMU start)" : `${((ms / total) * 100).toFixed(0)} %`,
    ]),
  );
  table(
    "Output size",
    ["variant", "size", "compaction time", "size / zstd"],
    result.sizes.map((r) => [r.variant, mib(r.bytes), seconds(r.compactMs), `${r.ratioToZstd.toFixed(2)}x`]),
  );
  log(`base image ${mib(result.baseBytes)}, payload tarball ${mib(result.payloadBytes)}`);
}

/** The newest built shared self-test image, or a fresh build into .cache/bench-image. */
async function selftestImageDir() {
  const fromEnv = process.env.HEXCLAVE_SELFTEST_IMAGE_DIR;
  if (fromEnv) return fromEnv;
  const cache = join(repo, ".cache/selftest-image");
  const manifest = imageBuilder.manifestFileName("amd64");
  if (existsSync(cache)) {
    const built = readdirSync(cache)
      .map((d) => join(cache, d))
      .filter((d) => existsSync(join(d, manifest)))
      .sort((a, b) => statSync(join(b, manifest)).mtimeMs - statSync(join(a, manifest)).mtimeMs);
    if (built[0]) return built[0];
  }
  const outDir = join(repo, ".cache/bench-image");
  log(`\nNo built self-test image found; building one into ${outDir} ...`);
  await imageBuilder.buildImage({
    arch: "amd64",
    profile: "selftest",
    base: "bootstrap",
    outDir,
    acceleratorCacheDir: probeCacheDir,
  });
  return outDir;
}

/** Kernel, userspace, Docker and the service unit, from the guest's own clocks (through the guest agent). */
async function bootBreakdown(home) {
  const vm = new qemuCore.VmInstance({ home, name: emulator.DEFAULT_INSTANCE });
  try {
    const agent = await vm.guestAgent();
    const analyze = await agent.exec("/usr/bin/systemd-analyze", []);
    const units = await agent.exec("/usr/bin/systemctl", [
      "show",
      "-p",
      "Id,ActiveEnterTimestampMonotonic",
      "docker.service",
      "hexclave.service",
    ]);
    const text = analyze.stdout;
    const part = (name) => {
      const m = new RegExp(`([\\d.]+)(ms|s|min) \\(${name}\\)`).exec(text);
      if (!m) return undefined;
      const v = Number.parseFloat(m[1]);
      return m[2] === "ms" ? v : m[2] === "min" ? v * 60_000 : v * 1000;
    };
    const active = {};
    let id;
    for (const line of units.stdout.split("\n")) {
      if (line.startsWith("Id=")) id = line.slice(3);
      if (line.startsWith("ActiveEnterTimestampMonotonic=") && id) active[id] = Number(line.split("=")[1]) / 1000;
    }
    return {
      kernelMs: (part("firmware") ?? 0) + (part("loader") ?? 0) + (part("kernel") ?? 0) + (part("initrd") ?? 0),
      userspaceMs: part("userspace"),
      dockerActiveMs: active["docker.service"],
      serviceUnitActiveMs: active["hexclave.service"],
      raw: text.trim(),
    };
  } finally {
    await vm.close?.();
  }
}

/** `stack emulator bench --json` in `home`: its document (progress lines go to this stderr). */
function stackBench(home) {
  const args = [join(repo, "packages/cli/dist/bin.js"), "emulator", "bench", "--json", "--runs", String(runs)];
  args.push("--configs", values.configs);
  if (values.report) args.push("--report", resolve(values.report));
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, HEXCLAVE_EMULATOR_HOME: home },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.on("error", fail);
    child.on("close", (code) => {
      if (code !== 0) fail(new Error(`stack emulator bench exited with ${code}`));
      else done(JSON.parse(stdout));
    });
  });
}

async function benchEmulator() {
  const imageDir = await selftestImageDir();
  const home = await mkdtemp(join(tmpdir(), "hexclave-bench-home-"));
  try {
    const installed = emulator.imagePaths(home, "amd64");
    await mkdir(installed.dir, { recursive: true });
    for (const name of ["imageFileName", "manifestFileName", "kernelFileName", "initrdFileName"]) {
      const file = imageBuilder[name]("amd64");
      await link(join(imageDir, file), join(installed.dir, file)).catch(() =>
        copyFile(join(imageDir, file), join(installed.dir, file)),
      );
    }
    log(`\nEmulator: stack emulator bench --runs ${runs} --configs ${values.configs} (image ${imageDir})`);
    const bench = await stackBench(home);
    const breakdown = await bootBreakdown(home).catch((e) => ({ error: String(e) }));
    report.emulator = { bench, breakdown };
    log("");
    log(cli.renderWholeBenchTables(bench.summary).trimEnd());
    if (values.report) log(`HTML report: ${resolve(values.report)}`);
    if (!breakdown.error) {
      table(
        "Boot breakdown of the running guest (guest clocks; it runs the last configuration)",
        ["part", "time"],
        [
          ["firmware + kernel + initrd", seconds(breakdown.kernelMs)],
          ["userspace (systemd until default target)", seconds(breakdown.userspaceMs)],
          ["Docker engine active (guest clock)", seconds(breakdown.dockerActiveMs)],
          ["service unit active (guest clock)", seconds(breakdown.serviceUnitActiveMs)],
        ],
      );
    } else {
      log(`boot breakdown unavailable: ${breakdown.error}`);
    }
  } finally {
    const left = emulator.createEmulator({ home });
    await left.stop({ noSnapshot: true }).catch(() => {});
    left.close();
    await rm(home, { recursive: true, force: true });
  }
}

const benches = { probe: benchProbe, cli: benchCli, build: benchBuild, emulator: benchEmulator };
for (const s of sections) await benches[s]();
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
