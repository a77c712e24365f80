/**
 * The file bridge of one run (issue 10): launched by `start` before QEMU reads
 * its fw_cfg file (its socket bound, its process coming up while QEMU loads),
 * stopped by `stop`/`reset` (or a start that leaves no QEMU), which writes the
 * `--config-file` back to the host.
 */
import { HexclaveError } from "@hexclave/qemu-core";
import type { Emit, EmulatorContext } from "../context.js";
import {
  type BridgeProcessInfo,
  type BridgeStopResult,
  type LaunchedBridge,
  launchBridgeProcess,
  stopBridgeProcess,
} from "../file-bridge/bridge-process.js";
import type { ConfigWriteBackResult } from "../file-bridge/config-file-session.js";
import { errorText } from "../internal/error-text.js";
import type { EmulatorConfigWriteBack, EmulatorFileBridgeInfo, EmulatorStartFileBridgeOptions } from "../types.js";

export function describeConfigWriteBack(result: ConfigWriteBackResult): EmulatorConfigWriteBack {
  switch (result.outcome) {
    case "unchanged":
      return { outcome: "unchanged", hostPath: result.hostPath, reason: result.reason };
    case "written":
      return { outcome: "written", hostPath: result.hostPath, backupPath: result.backupPath };
    case "conflict":
      return {
        outcome: "conflict",
        hostPath: result.hostPath,
        guestCopyPath: result.guestCopyPath,
        reason: result.reason,
        message: result.error.message,
      };
  }
}

/** What a start reports about its bridge. */
export function bridgeInfoOf(bridge: BridgeProcessInfo): EmulatorFileBridgeInfo {
  return {
    enabled: bridge.enabled,
    port: bridge.port,
    guestUrl: bridge.guestUrl,
    projectDir: bridge.projectDir,
    configFile: bridge.configFile,
    writable: bridge.writable,
  };
}

/**
 * Launches the detached file bridge process (or records "no bridge"), reporting a write-back left by an earlier
 * run. Returns once its socket listens and `bridge.fwcfg` is written: QEMU may start while the process comes up
 * (`ready`, awaited after QEMU's spawn).
 */
export async function launchFileBridge(
  ctx: EmulatorContext,
  o: EmulatorStartFileBridgeOptions | undefined,
  signal: AbortSignal | undefined,
  emit: Emit,
): Promise<LaunchedBridge> {
  const began = Date.now();
  emit({ type: "stage-start", stage: "file-bridge", label: "file bridge" });
  const launched = await launchBridgeProcess({
    instanceDir: ctx.paths.dir,
    ...(o?.enabled === undefined ? {} : { enabled: o.enabled }),
    ...(o?.projectDir === undefined ? {} : { projectDir: o.projectDir }),
    ...(o?.configFile === undefined ? {} : { configFile: o.configFile }),
    ...(o?.writable === undefined ? {} : { writable: o.writable }),
    ...(o?.port === undefined ? {} : { port: o.port }),
    ...(o?.maxBodyBytes === undefined ? {} : { maxBodyBytes: o.maxBodyBytes }),
    ...(signal ? { signal } : {}),
  });
  const info = launched.info;
  if (info.previous !== null) reportWriteBack(info.previous, emit, "left by an earlier run");
  emit({
    type: "stage-end",
    stage: "file-bridge",
    durationMs: Date.now() - began,
    detail: info.enabled
      ? `127.0.0.1:${info.port} serving ${info.projectDir}${info.configFile ? `, config file ${info.configFile}` : ""}`
      : "off",
  });
  return launched;
}

/** Stops the bridge process and writes the config file back; a failure is a warning, never a failed stop. */
export async function stopFileBridge(ctx: EmulatorContext, emit: Emit): Promise<EmulatorConfigWriteBack | undefined> {
  try {
    return reportWriteBack(await stopBridgeProcess(ctx.paths.dir), emit);
  } catch (error) {
    const message = `The file bridge could not be stopped cleanly: ${errorText(error)}`;
    emit({ type: "message", level: "warn", text: message });
    const hostPath = HexclaveError.is(error) ? error.details.hostPath : undefined;
    return { outcome: "failed", hostPath: typeof hostPath === "string" ? hostPath : null, message };
  }
}

function reportWriteBack(stopped: BridgeStopResult, emit: Emit, context?: string): EmulatorConfigWriteBack | undefined {
  if (stopped.configFile === null) return undefined;
  const result = describeConfigWriteBack(stopped.configFile);
  const from = context === undefined ? "" : ` (${context})`;
  if (result.outcome === "conflict") emit({ type: "message", level: "warn", text: `${result.message}${from}` });
  else if (result.outcome === "written") {
    emit({
      type: "message",
      level: "info",
      text: `Config file written back to ${result.hostPath} (previous copy: ${result.backupPath})${from}`,
    });
  }
  return result;
}
