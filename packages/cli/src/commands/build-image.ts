import { resolve } from "node:path";
import { imagePaths, probeCacheDir, resolveSettings } from "@hexclave/emulator";
import type { CliDeps } from "../cli-deps.js";
import { defineStackCommand } from "../command-runner.js";
import { asUsageError } from "../emulator-settings.js";
import { ExitCode } from "../exit-codes.js";
import { parseBuildArgs, parseChoice, parseHttpUrl, parseInteger } from "../flag-values.js";
import { buildEventToProgress } from "../render/build-events.js";
import { type BuildSummary, renderBuildSummary, summariseBuiltImage } from "../render/build-summary.js";
import { writeJson } from "../render/json-output.js";
import { accelArg, jsonArg, settingsFor, withProgress } from "./shared.js";

/** The cloud image host's directory (holding SHA512SUMS) for `--base cloud`, when `--cloud-url` is not given. */
export const CLOUD_IMAGE_URL_ENV = "HEXCLAVE_CLOUD_IMAGE_URL";

export function buildImageCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: {
      name: "build-image",
      description: "Build the emulator image: Docker payload, Debian base, warm boot, compressed qcow2",
    },
    args: {
      arch: {
        type: "positional",
        required: false,
        description: "amd64, arm64 or both (default: the host's arch)",
        valueHint: "amd64|arm64|both",
      },
      profile: {
        type: "string",
        description: "hexclave (docker/Dockerfile, needs a registry) or selftest (offline)",
        valueHint: "hexclave|selftest",
      },
      base: {
        type: "string",
        description: "Debian base: auto, cloud (download) or bootstrap (mmdebstrap)",
        valueHint: "auto|cloud|bootstrap",
      },
      "cloud-url": {
        type: "string",
        description: `The cloud image host's directory holding SHA512SUMS (default Debian's; or ${CLOUD_IMAGE_URL_ENV})`,
        valueHint: "URL",
      },
      "build-arg": {
        type: "string",
        description:
          "A Docker build argument for the payload's Dockerfile (repeatable), e.g. HEXCLAVE_SERVER_TAG=<branch or sha> or a registry mirror's image names",
        valueHint: "NAME=VALUE",
      },
      timeout: {
        type: "string",
        description:
          "Deadline of the warm boot in seconds (default: 30 min plus the profile's health wait, three times that for a guest of another arch)",
        valueHint: "S",
      },
      out: { type: "string", description: "Output directory (default: the emulator home's images/)", valueHint: "DIR" },
      compression: { type: "string", description: "qcow2 compression: zstd (default) or zlib", valueHint: "zstd|zlib" },
      accel: accelArg,
      json: jsonArg,
    },
    examples: [
      "stack build-image                                         # host arch, hexclave profile",
      "stack build-image amd64 --profile selftest --base bootstrap  # no registry or cloud host needed",
      "stack build-image both --out ./dist-images",
      "stack build-image amd64 --build-arg HEXCLAVE_SERVER_TAG=main  # another server image tag",
      "pnpm build-image arm64                                    # same, from the repository root",
    ],
    notes: `The build VM uses the host's CPUs and 4096 MB unless EMULATOR_CPUS / EMULATOR_RAM_MB say otherwise.
--accel (or EMULATOR_ACCEL) picks the accelerator; auto probes and, if the accelerator fails the build VM,
boots it again under tcg and remembers that for this host.
Output: stack-emulator-<arch>.qcow2 and stack-emulator-<arch>.json. Ctrl-C leaves nothing half-written.

EXIT CODES  0 built, 1 failure, 2 usage error, 130 interrupted`,
    async run({ args, io, path }) {
      const settings = settingsFor({ accel: args.accel }, io, deps, path);
      const target =
        args.arch === undefined
          ? settings.arch
          : parseChoice(args.arch, ["amd64", "arm64", "both"], { flag: "ARCH" }, path);
      const profile =
        args.profile === undefined
          ? "hexclave"
          : parseChoice(args.profile, ["hexclave", "selftest"], { flag: "--profile" }, path);
      const base =
        args.base === undefined
          ? "auto"
          : parseChoice(args.base, ["auto", "cloud", "bootstrap"], { flag: "--base" }, path);
      const compression =
        args.compression === undefined
          ? "zstd"
          : parseChoice(args.compression, ["zstd", "zlib"], { flag: "--compression" }, path);
      // The build VM's sizes: the variables through the runtime's bounds table, else the build's own defaults.
      const machine = asUsageError(() => resolveSettings({}, io.env), path);
      const cpus = machine.sources.cpus === "env" ? machine.cpus : undefined;
      const memoryMb = machine.sources.memoryMb === "env" ? machine.memoryMb : undefined;
      const cloudUrlRaw = args["cloud-url"] ?? io.env[CLOUD_IMAGE_URL_ENV];
      const cloudMirror =
        cloudUrlRaw === undefined || cloudUrlRaw === ""
          ? undefined
          : parseHttpUrl(
              cloudUrlRaw,
              args["cloud-url"] === undefined ? { env: CLOUD_IMAGE_URL_ENV } : { flag: "--cloud-url" },
              path,
            );
      const buildArgs = parseBuildArgs(args["build-arg"], path);
      const timeoutSeconds =
        args.timeout === undefined
          ? undefined
          : parseInteger(args.timeout, { flag: "--timeout" }, { min: 60, unit: "seconds" }, path);
      const json = args.json === true;
      const buildImage = await deps.loadBuildImage();
      // One image store per arch would differ only by file name: both land in the same directory.
      const outDir =
        args.out === undefined
          ? imagePaths(settings.home, target === "arm64" ? "arm64" : "amd64").dir
          : resolve(io.cwd, args.out);
      const started = Date.now();
      const result = await withProgress(io, json, (renderer) =>
        buildImage({
          arch: target,
          profile,
          base,
          outDir,
          compression,
          cloudMirror,
          ...(Object.keys(buildArgs).length > 0 ? { buildArgs } : {}),
          ...(timeoutSeconds === undefined ? {} : { deadlineMs: timeoutSeconds * 1000 }),
          accel: settings.accel,
          // The probe's answer is shared with start and doctor: the emulator home's cache.
          acceleratorCacheDir: probeCacheDir(settings.home),
          cpus,
          memoryMb,
          signal: io.signal,
          onEvent: (event) => {
            const progress = buildEventToProgress(event);
            if (progress !== undefined) renderer.event(progress);
          },
        }),
      );
      const summaries: BuildSummary[] = result.images.map((built) => summariseBuiltImage(built, Date.now() - started));
      if (!json) for (const summary of summaries) io.stdout.write(renderBuildSummary(summary));
      if (json) writeJson(io.stdout, { images: summaries });
      return ExitCode.Ok;
    },
  });
}
