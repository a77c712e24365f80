/** `stack emulator bench --report FILE.html`: the page, written to a temporary file beside it, then renamed. */
import { rename, rm, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { cliErrors } from "../cli-errors.js";
import { renderBenchReportHtml } from "../render/bench-report-html.js";
import type { WholeBenchReport } from "./whole-command-stats.js";

/** Writes the report; returns its absolute path. */
export async function writeBenchReport(file: string, report: WholeBenchReport, cwd: string): Promise<string> {
  const target = resolve(cwd, file);
  const temp = `${target}.${process.pid}.tmp`;
  try {
    await writeFile(temp, renderBenchReportHtml(report));
    await rename(temp, target);
  } catch (cause) {
    await rm(temp, { force: true });
    throw cliErrors.create(
      "BENCH_REPORT_UNWRITABLE",
      `Cannot write the bench report ${target}: ${(cause as Error).message}`,
      {
        cause,
        details: { file: target },
      },
    );
  }
  return target;
}
