/** Translates image-builder's build events into progress events: one line per stage, markers, download progress. Pure. */
import type { BuildEvent } from "@hexclave/image-builder";
import { formatDuration } from "./format.js";
import { type ProgressEvent, toProgressEvent } from "./progress-events.js";

export function buildEventToProgress(event: BuildEvent): ProgressEvent | undefined {
  switch (event.type) {
    case "build-stage-started":
      return { type: "stage-start", stage: `${event.arch} ${event.stage}` };
    case "build-stage-done":
      return { type: "stage-end", stage: `${event.arch} ${event.stage}`, durationMs: event.durationMs };
    case "build-accelerator":
      return { type: "accelerator", accel: event.accel, reason: event.reason };
    case "build-accelerator-fallback":
      return toProgressEvent(event);
    case "build-base-chosen":
      return { type: "message", level: "info", text: `base: ${event.base} (${event.reason})` };
    case "base-download":
      return toProgressEvent(event.event);
    case "warm-boot-stage":
      return { type: "marker", name: event.stage, elapsedMs: event.elapsedMs };
    case "warm-boot-healthy":
      return {
        type: "message",
        level: "info",
        text: `guest: ${event.service} healthy after ${formatDuration(event.elapsedMs)}`,
      };
    case "warm-boot-retry":
      return {
        type: "message",
        level: "warn",
        text: `the guest kernel panicked during the provisioning boot (${event.reason}); starting it again (attempt ${event.attempt}; the failed boot's console: ${event.serialLog})`,
      };
    case "payload-step":
      return {
        type: "message",
        level: "info",
        text: `payload step ${event.index}/${event.total}: ${event.instruction}`,
      };
    case "payload-reused":
      return {
        type: "message",
        level: "info",
        text: `payload unchanged (${event.imageId.slice(0, 19)}): reusing ${event.tarball}`,
      };
    case "bootstrap-cached":
      return { type: "message", level: "info", text: `Debian base unchanged: reusing ${event.dir}` };
    case "mmdebstrap-progress": {
      const count = event.step === undefined ? "" : ` ${event.done}/${event.total ?? "?"} packages ${event.step}`;
      return {
        type: "message",
        level: "info",
        text: `mmdebstrap ${event.arch}: ${event.phase}${count} (${formatDuration(event.elapsedMs)})`,
      };
    }
    case "selftest-base-platform":
      return { type: "message", level: "info", text: `self-test base ${event.tag} marked as linux/${event.arch}` };
    case "bootstrap-step":
      return {
        type: "message",
        level: "info",
        text: `bootstrap ${event.step} done in ${formatDuration(event.durationMs)}`,
      };
    default:
      return undefined;
  }
}
