import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { serviceUrls } from "../../emulator-settings.js";
import { ExitCode } from "../../exit-codes.js";
import { parseInteger } from "../../flag-values.js";
import { requireInstalledImage } from "../../image-store.js";
import { formatDuration } from "../../render/format.js";
import { writeJson } from "../../render/json-output.js";
import { archArg, ENVIRONMENT_NOTES, eventSink, jsonArg, settingsFor, withProgress } from "../shared.js";

export function startCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "start", description: "Start the emulator and wait until its four services are healthy" },
    args: {
      arch: archArg,
      cpus: {
        type: "string",
        description: "vCPUs, a whole number >= 1 (default: EMULATOR_CPUS, else 4)",
        valueHint: "N",
      },
      memory: {
        type: "string",
        description: "Memory in MB, >= 512 (default: EMULATOR_RAM_MB, else 4096)",
        valueHint: "MB",
      },
      timeout: {
        type: "string",
        description: "Readiness deadline in seconds (default: generous under TCG, shorter with an accelerator)",
        valueHint: "S",
      },
      "stop-on-failure": {
        type: "boolean",
        description: "Stop the VM when readiness fails (default: leave it running to inspect)",
      },
      snapshot: {
        type: "boolean",
        default: true,
        description: "Boot cold instead of resuming the state saved by stop",
      },
      json: jsonArg,
    },
    examples: [
      "stack emulator start",
      "stack emulator start --cpus 2 --memory 3072      # smaller VM",
      "stack emulator start --arch arm64 --timeout 900  # arm64 guest, long deadline under TCG",
      "stack emulator start --json > start.json         # machine-readable result",
      "EMULATOR_BACKEND_PORT=36701 stack emulator start  # move a port that is taken",
    ],
    notes: `If no image is installed, get one with \`stack emulator pull\` or \`stack build-image\`.
Starting a running, healthy emulator does nothing and says so.
If the services are not healthy within the deadline, the failing services and the last serial
lines are printed and the exit code is 1; the VM stays up for inspection unless --stop-on-failure.

EXIT CODES  0 ready, 1 failure, 2 usage error, 130 interrupted

${ENVIRONMENT_NOTES}`,
    async run({ args, io, path }) {
      const settings = settingsFor(
        { arch: args.arch, cpus: args.cpus, memory: args.memory, snapshot: args.snapshot },
        io,
        deps,
        path,
      );
      const timeoutSeconds =
        args.timeout === undefined
          ? undefined
          : parseInteger(args.timeout, { flag: "--timeout" }, { min: 1, unit: "seconds" }, path);
      await requireInstalledImage(settings.home, settings.arch);
      const runtime = await deps.loadRuntime();
      const json = args.json === true;
      const result = await withProgress(io, json, (renderer) =>
        runtime.start({
          settings,
          timeoutSeconds,
          stopOnFailure: args["stop-on-failure"] === true,
          signal: io.signal,
          onEvent: eventSink(renderer),
        }),
      );
      if (json) {
        writeJson(io.stdout, result);
        return result.ready ? ExitCode.Ok : ExitCode.Failure;
      }
      const urls = serviceUrls(settings.ports);
      const urlLines = [
        `  Dashboard  ${urls.dashboard}`,
        `  Backend    ${urls.backend}`,
        `  MinIO      ${urls.minio}`,
        `  Inbucket   ${urls.inbucket}`,
      ].join("\n");
      if (result.alreadyRunning) {
        io.stdout.write(`The emulator is already running and healthy; nothing to do.\n${urlLines}\n`);
        return ExitCode.Ok;
      }
      if (!result.ready) {
        const failing = result.services.filter((s) => !s.up);
        io.stderr.write(
          `error: not healthy after ${formatDuration(result.durationMs)}: ${failing.map((s) => `${s.name} (${s.url}${s.detail === undefined ? "" : `: ${s.detail}`})`).join(", ")}\n`,
        );
        if (result.serialTail.length > 0)
          io.stderr.write(`last serial lines:\n${result.serialTail.map((l) => `  ${l}`).join("\n")}\n`);
        io.stderr.write(
          result.stoppedAfterFailure
            ? "hint: the VM was stopped (--stop-on-failure). Try a longer --timeout, or see `stack emulator logs --serial`.\n"
            : "hint: the VM is still running for inspection: `stack emulator status`, `stack emulator logs --services`; stop it with `stack emulator stop`.\n",
        );
        return ExitCode.Failure;
      }
      io.stdout.write(
        `Emulator ready in ${formatDuration(result.durationMs)} (${result.bootMode === "resume" ? "resumed" : "cold boot"}, ${result.accel}).\n${urlLines}\nStop it with \`stack emulator stop\`.\n`,
      );
      return ExitCode.Ok;
    },
  });
}
