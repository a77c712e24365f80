import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { readWorkflows, runScripts } from "./workflow-files.js";

const scripts = runScripts(readWorkflows());
const dir = mkdtempSync(join(tmpdir(), "workflow-shellcheck-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("every run: script of every workflow passes shellcheck", () => {
  it("finds the scripts", () => {
    expect(scripts.length).toBeGreaterThan(10);
  });

  it.each(scripts.map((s, i) => [`${s.workflow} ${s.job}: ${s.step}`, s, i] as const))("%s", async (_label, s, i) => {
    // GitHub runs `run:` with `bash -e {0}` on Linux runners.
    const file = join(dir, `script-${i}.sh`);
    writeFileSync(file, `#!/usr/bin/env bash\nset -e\n${s.script}\n`);
    const result = await execa("shellcheck", ["--shell=bash", "--severity=style", "-e", "SC1091", file], {
      reject: false,
    });
    expect(result.stdout, result.stdout).toBe("");
    expect(result.exitCode).toBe(0);
  });

  it("shellcheck really flags a broken script", async () => {
    const file = join(dir, "broken.sh");
    writeFileSync(file, "#!/usr/bin/env bash\necho $undefined_var_with_spaces\nif [ $x = 1 ]; then echo; fi\n");
    const result = await execa("shellcheck", ["--shell=bash", file], { reject: false });
    expect(result.exitCode).not.toBe(0);
  });
});
