/**
 * What the commands get from outside the CLI: the host's arch and home, the
 * emulator runtime, the image builder and the doctor's probes. `runCli` uses
 * {@link defaultCliDeps}; tests may replace one piece.
 */
import { homedir } from "node:os";
import { type Arch, detectHost } from "@hexclave/qemu-core";
import { cliErrors } from "./cli-errors.js";
import { createDefaultProbes, type DoctorProbes } from "./doctor/doctor-probes.js";
import type { EmulatorRuntime } from "./emulator-runtime.js";
import { archFromNode } from "./emulator-settings.js";
import { imageBuilderExport } from "./library-bridge.js";

/** image-builder's `buildImage` (packages/image-builder/src/pipeline.ts). */
export type BuildImage = typeof import("@hexclave/image-builder").buildImage;

export interface CliDeps {
  readonly hostArch: Arch;
  readonly userHome: string;
  /** Throws `RUNTIME_UNAVAILABLE` when no runtime is installed. */
  loadRuntime(): Promise<EmulatorRuntime>;
  loadBuildImage(): Promise<BuildImage>;
  doctorProbes(env: Readonly<Record<string, string | undefined>>): DoctorProbes;
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
    async loadRuntime() {
      const create = await imageBuilderExport("createEmulatorRuntime");
      if (create === undefined) {
        throw cliErrors.create(
          "RUNTIME_UNAVAILABLE",
          "The emulator runtime is not part of this build: @hexclave/image-builder does not export createEmulatorRuntime yet",
        );
      }
      return create();
    },
    loadBuildImage: async () => (await import("@hexclave/image-builder")).buildImage,
    doctorProbes: (env) => createDefaultProbes({ env }),
  };
}
