import { describeGuestNetwork, MACHINE_SETTINGS } from "@hexclave/emulator";
import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import type { EmulatorStartResult } from "../../emulator-runtime.js";
import { resolveFileBridgeSettings } from "../../emulator-settings.js";
import { ExitCode } from "../../exit-codes.js";
import { parseInteger } from "../../flag-values.js";
import { requireInstalledImage } from "../../image-store.js";
import { checkProjectDir, sharingLine } from "../../project-dir.js";
import { formatDuration } from "../../render/format.js";
import { writeJson } from "../../render/json-output.js";
import {
  accelArg,
  archArg,
  ENVIRONMENT_NOTES,
  eventSink,
  jsonArg,
  settingsFor,
  urlLines,
  withProgress,
  withRuntime,
} from "../shared.js";

export function startCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "start", description: "Start the emulator and wait until its four services are healthy" },
    args: {
      arch: archArg,
      accel: accelArg,
      cpus: {
        type: "string",
        description: `vCPUs, ${MACHINE_SETTINGS.cpus.min} to ${MACHINE_SETTINGS.cpus.max} (default: EMULATOR_CPUS, else ${MACHINE_SETTINGS.cpus.default})`,
        valueHint: "N",
      },
      memory: {
        type: "string",
        description: `Memory in MB, ${MACHINE_SETTINGS.memoryMb.min} to ${MACHINE_SETTINGS.memoryMb.max} (default: EMULATOR_RAM_MB, else ${MACHINE_SETTINGS.memoryMb.default})`,
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
      // --- file bridge (issue 10) ---
      "project-dir": {
        type: "string",
        description:
          "Directory the guest may read through the file bridge (default: the current directory, if it holds package.json, .git or stack.config.*, and is not / or your home); writes need --bridge-writable",
        valueHint: "DIR",
      },
      "config-file": {
        type: "string",
        description: "Config file (stack.config.ts) served to the guest; stop writes the guest's version back",
        valueHint: "PATH",
      },
      "bridge-writable": {
        type: "string",
        description:
          "A path under the project directory the guest may write (repeatable; `.` for all of it). Default: none, only --config-file. .git, hooks and tool directories never",
        valueHint: "PATH",
      },
      "file-bridge": {
        type: "boolean",
        default: true,
        description: "Start without the file bridge (the guest sees no host files)",
      },
      // --- the guest's network (issue 15) ---
      "guest-network": {
        type: "string",
        description:
          "What the guest may reach: isolated (default: nothing on this machine, the LAN or the internet; the file bridge and the forwarded ports work) or open (this machine's 127.0.0.1 as 10.0.2.2, the LAN, the internet). Default: EMULATOR_GUEST_NETWORK, else isolated",
        valueHint: "MODE",
      },
      "guest-reach": {
        type: "string",
        description:
          "A port on this machine's 127.0.0.1 the guest may reach, at 10.0.2.100:PORT (repeatable; e.g. your app, for webhooks). Default: EMULATOR_GUEST_REACH (comma-separated), else none",
        valueHint: "PORT",
      },
    },
    examples: [
      "stack emulator start",
      "stack emulator start --config-file ./stack.config.ts  # the guest edits it; stop writes it back",
      "stack emulator start --cpus 2 --memory 3072      # smaller VM",
      "stack emulator start --arch arm64 --timeout 900  # arm64 guest, long deadline under TCG",
      "stack emulator start --json > start.json         # machine-readable result",
      "stack emulator start --accel tcg                 # no hardware accelerator (also EMULATOR_ACCEL=tcg)",
      "stack emulator start --guest-reach 3000          # webhooks reach your app on 127.0.0.1:3000 as 10.0.2.100:3000",
      "stack emulator start --guest-network open        # the guest reaches this machine, the LAN and the internet",
      "EMULATOR_BACKEND_PORT=36701 stack emulator start  # move a port that is taken",
    ],
    notes: `If no image is installed, get one with \`stack emulator pull\` or \`stack build-image\`.
Starting a running, healthy emulator does nothing and says so.
If the services are not healthy within the deadline, the failing services and the last serial
lines are printed and the exit code is 1; the VM stays up for inspection unless --stop-on-failure.

Ctrl-C stops the VM this start launched (its data disk is kept; the next start boots it cold).
Only one start runs at a time; \`stack emulator stop\` during a start stops the VM and ends that start.

Without --project-dir, the current directory is shared only if it holds package.json, .git or stack.config.*
and is not / or your home (or above it). The guest's network is isolated by default: it reaches nothing on
this machine, the LAN or the internet, except the file bridge and the ports granted with --guest-reach
(at 10.0.2.100:PORT); --guest-network open gives it this machine's 127.0.0.1 (as 10.0.2.2), the LAN and
the internet. A saved state resumes under either mode.
EXIT CODES  0 ready, 1 failure, 2 usage error, 130 interrupted

${ENVIRONMENT_NOTES}`,
    async run({ args, io, path }) {
      const settings = settingsFor(
        {
          arch: args.arch,
          cpus: args.cpus,
          memory: args.memory,
          snapshot: args.snapshot,
          accel: args.accel,
          guestNetwork: args["guest-network"],
          guestReach: args["guest-reach"],
        },
        io,
        deps,
        path,
      );
      const timeoutSeconds =
        args.timeout === undefined
          ? undefined
          : parseInteger(args.timeout, { flag: "--timeout" }, { min: 1, unit: "seconds" }, path);
      const fileBridge = resolveFileBridgeSettings(
        {
          projectDir: args["project-dir"],
          configFile: args["config-file"],
          fileBridge: args["file-bridge"],
          bridgeWritable: args["bridge-writable"],
        },
        io.cwd,
        path,
      );
      await checkProjectDir(fileBridge, {
        explicit: args["project-dir"] !== undefined,
        userHome: deps.userHome,
        commandPath: path,
      });
      await requireInstalledImage(settings.home, settings.arch);
      const json = args.json === true;
      if (!json) io.stderr.write(sharingLine(fileBridge));
      const stopOnFailure = args["stop-on-failure"] === true;
      const result = await withRuntime(deps, io, settings, (runtime) =>
        withProgress(io, json, (renderer) =>
          runtime.start({
            arch: settings.arch,
            cpus: settings.cpus,
            memoryMb: settings.memoryMb,
            ports: settings.ports,
            ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}),
            noSnapshot: !settings.snapshot,
            accel: settings.accel,
            stopOnFailure,
            fileBridge,
            guestNetwork: settings.guestNetwork,
            signal: io.signal,
            onEvent: eventSink(renderer),
          }),
        ),
      );
      if (json) {
        writeJson(io.stdout, result);
        return result.ready ? ExitCode.Ok : ExitCode.Failure;
      }
      if (!result.ready) {
        io.stderr.write(renderNotReady(result));
        return ExitCode.Failure;
      }
      if (result.alreadyRunning) {
        io.stdout.write(`The emulator is already running and healthy; nothing was started.\n${urlLines(settings)}\n`);
        return ExitCode.Ok;
      }
      const how = result.bootKind === "resume" ? "resumed the saved state" : `cold boot: ${result.reason}`;
      io.stdout.write(
        `Emulator ready in ${formatDuration(result.durationMs)} (${how}; accelerator ${result.accel}).\n${urlLines(settings)}\n${fileBridgeLine(result)}${guestNetworkLine(result)}Stop it with \`stack emulator stop\`.\n`,
      );
      return ExitCode.Ok;
    },
  });
}

/** A readiness failure: which services, why, the serial log's last lines, and what to do. */
export function renderNotReady(result: EmulatorStartResult): string {
  const failing = result.services.filter((s) => !s.up);
  const lines = [
    `error: the emulator was not healthy within the deadline (${formatDuration(result.durationMs)}); not answering:`,
    ...failing.map((s) => `  ${s.name.padEnd(10)} ${s.url}${s.detail === "" ? "" : `  ${s.detail}`}`),
  ];
  if (result.serialTail.length > 0) {
    lines.push(`last ${result.serialTail.length} lines of the serial log:`, ...result.serialTail.map((l) => `  ${l}`));
  }
  lines.push(
    result.stoppedAfterFailure
      ? "hint: the VM was stopped (--stop-on-failure). Try a longer --timeout, or read `stack emulator logs --serial`."
      : "hint: the VM is still running for inspection: `stack emulator status`, `stack emulator logs --services`; stop it with `stack emulator stop`, or wait longer with `stack emulator start --timeout S`.",
  );
  return `${lines.join("\n")}\n`;
}

/** The file bridge of a start, for people (issue 10). */
export function guestNetworkLine(result: EmulatorStartResult): string {
  return result.guestNetwork === undefined ? "" : `Guest network: ${describeGuestNetwork(result.guestNetwork)}.\n`;
}

export function fileBridgeLine(result: EmulatorStartResult): string {
  const b = result.fileBridge;
  if (b === undefined) return "";
  if (!b.enabled) return "File bridge: off (--no-file-bridge).\n";
  const config = b.configFile === null ? "" : `; config file ${b.configFile} (written back by stop)`;
  const writable = b.writable.length === 0 ? "read-only" : `guest may write ${b.writable.join(", ")}`;
  return `File bridge: ${b.projectDir} on 127.0.0.1:${b.port} (${writable})${config}.\n`;
}
