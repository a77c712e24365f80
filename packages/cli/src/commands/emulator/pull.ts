// Types only at load time: image-builder itself is imported when the command runs, so `stack --help` stays fast.
import type { PullEvent, PullImageResult } from "@hexclave/emulator/pull";
import type { CliDeps } from "../../cli-deps.js";
import { defineStackCommand } from "../../command-runner.js";
import { ExitCode } from "../../exit-codes.js";
import { parseChoice, parseNonEmpty } from "../../flag-values.js";
import { formatBytes } from "../../render/format.js";
import { writeJson } from "../../render/json-output.js";
import { archArg, eventSink, jsonArg, settingsFor, withProgress } from "../shared.js";

/** Pull events the renderer has no shape for, as message lines; the rest pass through. */
function forRenderer(event: PullEvent): unknown {
  switch (event.type) {
    case "pull-release":
      return {
        type: "message",
        level: "info",
        text: `release ${event.version}${event.channel === undefined ? "" : ` (channel ${event.channel})`} from ${event.source}`,
      };
    case "download-resumed":
      return { type: "message", level: "info", text: `resuming ${event.file} at ${formatBytes(event.from)}` };
    case "download-restarted":
      return { type: "message", level: "warn", text: `restarting ${event.file} from zero: ${event.reason}` };
    case "download-retry":
      return {
        type: "message",
        level: "warn",
        text: `retrying ${event.file} (attempt ${event.attempt + 1}): ${event.reason}`,
      };
    default:
      return event;
  }
}

function describeResult(arch: string, r: PullImageResult): string {
  const from = `${r.source.url}${r.source.channel === undefined ? "" : `, channel ${r.source.channel}`}`;
  if (r.status === "current") return `The installed ${arch} image is current (version ${r.version}, from ${from}).\n`;
  return `Installed ${arch} image version ${r.version} (${formatBytes(r.sizeBytes)}, sha256 ${r.sha256}) at ${r.imagePath}, from ${from}.\n`;
}

export function pullCommand(deps: CliDeps) {
  return defineStackCommand({
    meta: { name: "pull", description: "Download the published emulator image (verified, resumable)" },
    args: {
      arch: archArg,
      channel: { type: "string", description: "Release channel: main or dev (default main)", valueHint: "main|dev" },
      version: {
        type: "string",
        description: "A specific release instead of the channel's current one",
        valueHint: "V",
      },
      from: {
        type: "string",
        description: "A mirror: HTTP(S) base URL or a local directory laid out like a release",
        valueHint: "URL|DIR",
      },
      "allow-insecure-http": {
        type: "boolean",
        description: "Accept a plain http:// mirror (anyone on the path could change what it serves)",
      },
      json: jsonArg,
    },
    examples: [
      "stack emulator pull",
      "stack emulator pull --arch arm64 --channel dev",
      "stack emulator pull --version emulator-main-20250101-0123abcd",
      "stack emulator pull --from /mnt/mirror/emulator   # air-gapped install",
    ],
    notes: `A mirror (--from) holds emulator-<channel>.json and <version>/ with a release's files and SHA256SUMS,
or one release's files flat; a plain http:// mirror needs --allow-insecure-http. Does nothing when the installed image is current; refuses while the emulator runs.

ENVIRONMENT

  HEXCLAVE_EMULATOR_RELEASES  owner/name of the GitHub repository with the releases, or a mirror URL
  HTTPS_PROXY, NO_PROXY       proxy for downloads
  HEXCLAVE_CA_BUNDLE          PEM file of extra trusted CAs (NODE_EXTRA_CA_CERTS works too)
  GITHUB_TOKEN                sent to github.com only

EXIT CODES  0 installed or current, 1 failure, 2 usage error`,
    async run({ args, io, path }) {
      const settings = settingsFor({ arch: args.arch }, io, deps, path);
      const channel =
        args.channel === undefined ? "main" : parseChoice(args.channel, ["main", "dev"], { flag: "--channel" }, path);
      const version = args.version === undefined ? undefined : parseNonEmpty(args.version, { flag: "--version" }, path);
      const from = args.from === undefined ? undefined : parseNonEmpty(args.from, { flag: "--from" }, path);
      const json = args.json === true;
      const { pullImage } = await import("@hexclave/emulator/pull");
      const result = await withProgress(io, json, (renderer) => {
        const sink = eventSink(renderer);
        return pullImage({
          arch: settings.arch,
          channel,
          version,
          from,
          allowInsecureHttp: args["allow-insecure-http"] === true,
          cwd: io.cwd,
          home: settings.home,
          env: io.env,
          signal: io.signal,
          onEvent: (event) => sink(forRenderer(event)),
        });
      });
      if (json) writeJson(io.stdout, result);
      else io.stdout.write(describeResult(settings.arch, result));
      return ExitCode.Ok;
    },
  });
}
