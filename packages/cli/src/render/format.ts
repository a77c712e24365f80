/** Pure formatting of sizes, speeds, durations and times for human output. */

import { formatBytes } from "@hexclave/qemu-core";

/** Binary units, the same as the packages' messages: `1536000` -> `1.5 MiB`. */
export { formatBytes };

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** `850` -> `850 ms`, `12_340` -> `12.3 s`, `125_000` -> `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  return hours > 0 ? `${hours} h ${minutes} min` : `${minutes} min ${seconds} s`;
}

/** An ETA: `null` -> `?`, `75` -> `1 min 15 s`. */
export function formatEta(seconds: number | null | undefined): string {
  return seconds === null || seconds === undefined || !Number.isFinite(seconds) ? "?" : formatDuration(seconds * 1000);
}

/** `transferred / total (pct)  speed  ETA eta`, for download progress. */
export function formatTransfer(progress: {
  readonly transferred: number;
  readonly total: number | null | undefined;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number | null | undefined;
}): string {
  const of =
    typeof progress.total === "number" && progress.total > 0
      ? `${formatBytes(progress.transferred)} / ${formatBytes(progress.total)} (${Math.floor((progress.transferred / progress.total) * 100)}%)`
      : formatBytes(progress.transferred);
  return `${of}  ${formatSpeed(progress.bytesPerSecond)}  ETA ${formatEta(progress.etaSeconds)}`;
}

/** `HH:MM:SS` in local time, the prefix of plain progress lines. */
export function formatClock(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}
