/**
 * What the commands get from outside the CLI: the host's arch and home, the
 * emulator runtime, the image builder and the doctor's probes. `runCli` uses
 * {@link defaultCliDeps}; tests may replace one piece.
 *
 * `@hexclave/emulator` and `@hexclave/image-builder` are imported lazily, on first
 * use: `--help` or a usage error should not wait for them, and only `build-image`
 * loads image-builder (dockerode and its gRPC stack).
 */
import { homedir } from "node:os";
import { type Arch, detectHost } from "@hexclave/qemu-core";
import { stackCommandRunner, thisStackInvocation } from "./bench/stack-process.js";
import type { RunStackCommand } from "./bench/whole-command-bench.js";
import { createDefaultProbes, type DoctorProbes } from "./doctor/doctor-probes.js";
import { findStackOnPath, type StackOnPath } from "./doctor/stack-on-path.js";
import type { EmulatorRuntime } from "./emulator-runtime.js";
import { archFromNode } from "./emulator-settings.js";

/** image-builder's `buildImage` (packages/image-builder/src/pipeline.ts). */
export type BuildImage = typeof import("@hexclave/image-builder").buildImage;

/** Where the runtime works: the emulator home and the environment (for the accelerator probe's cache and the like). */
export interface RuntimeLocation {
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface CliDeps {
  readonly hostArch: Arch;
  readonly userHome: string;
  /** The runtime's `createEmulator({ home, env })`. The caller closes it. */
  loadRuntime(location: RuntimeLocation): Promise<EmulatorRuntime>;
  loadBuildImage(): Promise<BuildImage>;
  doctorProbes(env: Readonly<Record<string, string | undefined>>): DoctorProbes;
  /** Which `stack` the user's shell runs (doctor's `stack-on-path` check). */
  stackOnPath(env: Readonly<Record<string, string | undefined>>): Promise<StackOnPath>;
  /** `stack emulator <args>` as a new process of this CLI, timed spawn to exit (`bench`). */
  stackCommand(options: { cwd: string; env: Readonly<Record<string, string | undefined>> }): RunStackCommand;
}

function hostArch(): Arch {
  try {
    return detectHost().arch;
  } catch {
    return archFromNode(process.arch);
  }
}

export function defaultCliDeps(): CliDeps {
  return {
    hostArch: hostArch(),
    userHome: homedir(),
    loadRuntime: async ({ home, env }) => (await import("@hexclave/emulator")).createEmulator({ home, env }),
    loadBuildImage: async () => (await import("@hexclave/image-builder")).buildImage,
    doctorProbes: (env) => createDefaultProbes({ env }),
    stackOnPath: (env) => findStackOnPath(env.PATH, process.argv[1]),
    stackCommand: (options) => stackCommandRunner(thisStackInvocation(), options),
  };
}
