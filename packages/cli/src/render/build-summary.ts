/** The final summary of `stack build-image`: image path, size, sha256 and stage durations. Pure. */
import type { BuiltImage } from "@hexclave/image-builder";
import { formatBytes, formatDuration } from "./format.js";

export interface BuildSummary {
  readonly arch: string;
  readonly imagePath: string;
  readonly manifestPath: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly stages: readonly { readonly stage: string; readonly durationMs: number }[];
  readonly totalMs: number;
}

export function summariseBuiltImage(built: BuiltImage, totalMs: number): BuildSummary {
  return {
    arch: built.arch,
    imagePath: built.image,
    manifestPath: built.manifestPath,
    sizeBytes: built.manifest.image.size,
    sha256: built.manifest.image.sha256,
    stages: Object.entries(built.manifest.durations).map(([stage, durationMs]) => ({ stage, durationMs })),
    totalMs,
  };
}

export function renderBuildSummary(summary: BuildSummary): string {
  const lines = [
    `built ${summary.arch} image in ${formatDuration(summary.totalMs)}`,
    `  image     ${summary.imagePath}`,
    `  manifest  ${summary.manifestPath}`,
    `  size      ${formatBytes(summary.sizeBytes)}`,
    `  sha256    ${summary.sha256}`,
  ];
  if (summary.stages.length > 0) {
    lines.push("  stages");
    const width = Math.max(...summary.stages.map((s) => s.stage.length));
    for (const s of summary.stages) lines.push(`    ${s.stage.padEnd(width)}  ${formatDuration(s.durationMs)}`);
  }
  return `${lines.join("\n")}\n`;
}
