/** `logs`: the guest console (`serial`, from the host's log file) or the services in the guest (`services`, journalctl through the guest agent). */
import { open, stat } from "node:fs/promises";
import { SERVICE_UNIT } from "@hexclave/image-builder/image";
import { type EmulatorContext, GUEST_AGENT_TIMEOUT_MS } from "../context.js";
import { emulatorErrors } from "../errors-data.js";
import { aborted, sleep } from "../internal/abort.js";
import type { EmulatorLogsOptions } from "../types.js";

export function logs(ctx: EmulatorContext, options: EmulatorLogsOptions): AsyncIterable<string> {
  return options.source === "serial" ? serialLines(ctx, options) : serviceLines(ctx, options);
}

async function* serialLines(ctx: EmulatorContext, options: EmulatorLogsOptions): AsyncGenerator<string> {
  const file = ctx.paths.serialLog;
  let offset = 0;
  let partial = "";
  for (;;) {
    let size = 0;
    try {
      size = (await stat(file)).size;
    } catch {
      if (!options.follow) {
        throw emulatorErrors.create("EMULATOR_NO_LOGS", `There is no serial log yet (${file})`, {
          details: { file },
        });
      }
    }
    if (size < offset) offset = 0; // a new run truncated it
    if (size > offset) {
      const handle = await open(file, "r");
      try {
        const buffer = Buffer.alloc(size - offset);
        await handle.read(buffer, 0, buffer.length, offset);
        offset = size;
        const text = partial + buffer.toString("utf8").replace(/\r/g, "");
        const lines = text.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) yield line;
      } finally {
        await handle.close();
      }
    }
    if (!options.follow || aborted(options.signal)) break;
    await sleep(500, options.signal);
    if (aborted(options.signal)) break;
  }
  if (partial !== "") yield partial;
}

async function* serviceLines(ctx: EmulatorContext, options: EmulatorLogsOptions): AsyncGenerator<string> {
  const status = await ctx.vm.status();
  if (status.state !== "running") {
    throw emulatorErrors.create(
      "EMULATOR_NOT_RUNNING",
      "The emulator is not running: its service logs live in the guest",
      {
        hint: "Start it with `stack emulator start`, or read the console with `stack emulator logs --serial`.",
      },
    );
  }
  let cursor: string | undefined;
  const n = String(options.lines ?? 200);
  for (;;) {
    const agent = await ctx.vm.guestAgent({
      timeoutMs: GUEST_AGENT_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let out: string;
    try {
      const args = ["--no-pager", "-o", "short-iso", "--show-cursor", "-u", SERVICE_UNIT];
      const r = await agent.exec(
        "/usr/bin/journalctl",
        cursor === undefined ? [...args, "-n", n] : [...args, "--after-cursor", cursor],
        { timeoutMs: 30_000 },
      );
      if (r.exitCode !== 0) {
        throw emulatorErrors.create("EMULATOR_NO_LOGS", `journalctl failed in the guest: ${r.stderr.trim()}`);
      }
      out = r.stdout;
    } finally {
      agent.close();
    }
    for (const line of out.split("\n")) {
      const m = /^-- cursor: (.*)$/.exec(line);
      if (m) cursor = m[1];
      else if (line !== "" && line !== "-- No entries --") yield line;
    }
    if (!options.follow || aborted(options.signal)) return;
    await sleep(2000, options.signal);
    if (aborted(options.signal)) return;
  }
}
