/** Reads the repository's GitHub workflows and pulls out their `run:` scripts, for the workflow tests. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const workflowsDir = fileURLToPath(new URL("../workflows/", import.meta.url));

export interface WorkflowFile {
  readonly name: string;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked by the schema validator
  readonly doc: any;
}

export function readWorkflows(): WorkflowFile[] {
  return readdirSync(workflowsDir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((name) => {
      const text = readFileSync(join(workflowsDir, name), "utf8");
      return { name, text, doc: parse(text) };
    });
}

export interface RunScript {
  readonly workflow: string;
  readonly job: string;
  readonly step: string;
  readonly script: string;
}

/**
 * Every `run:` script, with `${{ … }}` expressions replaced by a shell-safe placeholder so shellcheck
 * sees what the runner's bash would (GitHub substitutes them before the shell runs).
 */
export function runScripts(workflows: readonly WorkflowFile[]): RunScript[] {
  const scripts: RunScript[] = [];
  for (const wf of workflows) {
    for (const [jobId, job] of Object.entries<Record<string, unknown>>(wf.doc.jobs ?? {})) {
      const steps = (job.steps ?? []) as Array<Record<string, unknown>>;
      steps.forEach((step, i) => {
        if (typeof step.run !== "string") return;
        const script = step.run.replace(/\$\{\{[^}]*\}\}/g, "GHA_EXPRESSION");
        scripts.push({ workflow: wf.name, job: jobId, step: String(step.name ?? `step ${i + 1}`), script });
      });
    }
  }
  return scripts;
}
