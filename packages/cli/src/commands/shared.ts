/** Pieces every emulator command uses: flag definitions, settings, progress. */

import { MACHINE_SETTINGS } from "@hexclave/emulator";
import type { CliDeps } from "../cli-deps.js";
import type { CliIo } from "../cli-io.js";
import { wantsColour, wantsFancyOutput } from "../cli-io.js";
import type { EmulatorRuntime } from "../emulator-runtime.js";
import {
  type EmulatorFlags,
  type EmulatorSettings,
  resolveEmulatorSettings,
  serviceUrls,
} from "../emulator-settings.js";
import { toProgressEvent } from "../render/progress-events.js";
import { createPlainRenderer, type ProgressRenderer } from "../render/progress-renderer.js";
import { resolveReportingProblems, type SettingsWithProblems } from "../settings-problems.js";

export const archArg = {
  type: "string",
  description: "Guest architecture: amd64 or arm64 (default: EMULATOR_ARCH, else the host's)",
  valueHint: "amd64|arm64",
} as const;

export const accelArg = {
  type: "string",
  description:
    "Accelerator: auto (probe; falls back to tcg when it fails the guest), kvm, hvf, whpx or tcg (forced: no fallback). Default: EMULATOR_ACCEL, else auto",
  valueHint: "auto|kvm|hvf|whpx|tcg",
} as const;

export const jsonArg = {
  type: "boolean",
  description: "Print one JSON document on stdout (progress, if any, goes to stderr)",
} as const;

const { cpus: CPUS, memoryMb: MEMORY } = MACHINE_SETTINGS;

export const ENVIRONMENT_NOTES = `ENVIRONMENT

  HEXCLAVE_EMULATOR_HOME   images and instances (default ~/.hexclave/emulator)
  EMULATOR_ARCH            amd64 or arm64 (a flag wins over it)
  EMULATOR_CPUS            vCPUs, ${CPUS.min} to ${CPUS.max} (default ${CPUS.default})
  EMULATOR_RAM_MB          memory in MB, ${MEMORY.min} to ${MEMORY.max} (default ${MEMORY.default})
  EMULATOR_DASHBOARD_PORT, EMULATOR_BACKEND_PORT, EMULATOR_MINIO_PORT, EMULATOR_INBUCKET_PORT
                           host ports on 127.0.0.1 (default 26700-26703)
  EMULATOR_NO_SNAPSHOT=1   plain cold boots (like --no-snapshot)
  EMULATOR_ACCEL           auto (default: probe, tcg if the accelerator fails the guest), kvm, hvf, whpx or tcg
  HEXCLAVE_DEBUG=1         print stack traces of errors`;

export function settingsFor(flags: EmulatorFlags, io: CliIo, deps: CliDeps, path: readonly string[]): EmulatorSettings {
  return resolveEmulatorSettings(flags, {
    env: io.env,
    hostArch: deps.hostArch,
    userHome: deps.userHome,
    cwd: io.cwd,
    commandPath: path,
  });
}

/** {@link settingsFor} for doctor and status: a bad `EMULATOR_*` variable is reported (and its default used), not refused. */
export function settingsReportingProblems(
  flags: EmulatorFlags,
  io: CliIo,
  deps: CliDeps,
  path: readonly string[],
): SettingsWithProblems {
  return resolveReportingProblems(io.env, (env) => settingsFor(flags, { ...io, env }, deps, path));
}

/**
 * A renderer on stderr: spinner and colour on a terminal (not with --json), plain lines otherwise. The spinner's
 * module (ora) is loaded only when it may be drawn.
 */
export async function progressFor(io: CliIo, json: boolean): Promise<ProgressRenderer> {
  const fancy = !json && wantsFancyOutput(io);
  const options = { stream: io.stderr, colour: wantsColour(io) };
  if (!fancy) return createPlainRenderer(options);
  const { createProgressRenderer } = await import("../render/tty-renderer.js");
  return createProgressRenderer({ ...options, fancy });
}

/** Feeds library events (of any known shape) to a renderer. */
export function eventSink(renderer: ProgressRenderer): (event: unknown) => void {
  return (event) => {
    const progress = toProgressEvent(event);
    if (progress !== undefined) renderer.event(progress);
  };
}

/** Runs `fn` with a progress renderer that is always closed. */
export async function withProgress<T>(
  io: CliIo,
  json: boolean,
  fn: (renderer: ProgressRenderer) => Promise<T>,
): Promise<T> {
  const renderer = await progressFor(io, json);
  try {
    return await fn(renderer);
  } finally {
    renderer.close();
  }
}

/** Runs `fn` with the emulator runtime for `settings.home`, closing it after (its QMP connection, so the process can end). */
export async function withRuntime<T>(
  deps: CliDeps,
  io: CliIo,
  settings: EmulatorSettings,
  fn: (runtime: EmulatorRuntime) => Promise<T>,
): Promise<T> {
  const runtime = await deps.loadRuntime({ home: settings.home, env: io.env });
  try {
    return await fn(runtime);
  } finally {
    runtime.close();
  }
}

/** The four URLs, one per line, indented: what `start` ends with. */
export function urlLines(settings: EmulatorSettings): string {
  const urls = serviceUrls(settings.ports);
  return [
    `  Dashboard  ${urls.dashboard}`,
    `  Backend    ${urls.backend}`,
    `  MinIO      ${urls.minio}`,
    `  Inbucket   ${urls.inbucket}`,
  ].join("\n");
}
