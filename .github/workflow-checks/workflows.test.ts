import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { validateWorkflow } from "@action-validator/core";
import { describe, expect, it } from "vitest";
import { readWorkflows, runScripts } from "./workflow-files.js";

const workflows = readWorkflows();
const releaseScript = (name: string) => fileURLToPath(new URL(`../../scripts/release/${name}`, import.meta.url));
const byName = (name: string) => {
  const wf = workflows.find((w) => w.name === name);
  if (!wf) throw new Error(`missing workflow ${name}`);
  return wf.doc;
};

describe("GitHub workflows", () => {
  it("has the three workflows", () => {
    expect(workflows.map((w) => w.name)).toEqual(["ci.yaml", "qemu-emulator-build.yaml", "release.yaml"]);
  });

  it.each(workflows.map((w) => [w.name, w.text] as const))("%s passes the workflow schema", (_name, text) => {
    expect(validateWorkflow(text).errors).toEqual([]);
  });

  it("the schema validator really rejects a broken workflow", () => {
    const broken = "on: push\njobs:\n  a:\n    runs-onn: ubuntu-24.04\n    steps:\n      - run: echo hi\n";
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  it("ci runs lint, typecheck and the README's test command", () => {
    const ci = byName("ci.yaml");
    const runs = runScripts(workflows)
      .filter((s) => s.workflow === "ci.yaml")
      .map((s) => s.script);
    expect(runs).toEqual(expect.arrayContaining(["pnpm lint", "pnpm typecheck", "sudo bash scripts/test.sh"]));
    expect(Object.keys(ci.on)).toEqual(["pull_request", "push"]);
  });

  it("publishing builds both arches on main and dev, one publish at a time", () => {
    const wf = byName("qemu-emulator-build.yaml");
    expect(wf.on.push.branches).toEqual(["main", "dev"]);
    expect(wf.on).toHaveProperty("workflow_dispatch");
    expect(wf.concurrency).toEqual({ group: "qemu-emulator-publish", "cancel-in-progress": false });
    expect(wf.jobs.build.strategy.matrix.include.map((m: { arch: string }) => m.arch)).toEqual(["amd64", "arm64"]);
    expect(wf.jobs.publish.needs).toBe("build");
  });

  it("publishes an immutable dated release and moves the pointer only after every asset is there", () => {
    const steps: Array<{ name?: string; run?: string }> = byName("qemu-emulator-build.yaml").jobs.publish.steps;
    const index = (fragment: string) => steps.findIndex((s) => s.run?.includes(fragment));
    const create = index('gh release create "$version"');
    const verify = index('[ "$expected" = "$uploaded" ]');
    const pointer = index("gh release upload emulator-channels");
    expect(create).toBeGreaterThan(-1);
    expect(verify).toBeGreaterThan(create);
    expect(pointer).toBeGreaterThan(verify);
    expect(steps[index("version=")]?.run).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell line, not a template
      'version="emulator-${CHANNEL}-$(date -u +%Y%m%d)-${GITHUB_SHA::8}"',
    );
    expect(steps[create]?.run).toContain("releases are never rewritten");
    expect(steps[index("checksums.sh")]?.run).toBe("bash scripts/release/checksums.sh release");
    expect(readFileSync(releaseScript("checksums.sh"), "utf8")).toContain("sha256sum -- *");
  });

  it("builds from the cloud base and boot-tests each image through the scripts the rehearsal runs", () => {
    const runs = (byName("qemu-emulator-build.yaml").jobs.build.steps as Array<{ run?: string }>).map((s) => s.run);
    expect(runs).toEqual(
      expect.arrayContaining([
        'bash scripts/release/build-image.sh "$ARCH" "$IMAGES"',
        'bash scripts/release/boot-test.sh "$ARCH" "$IMAGES"',
      ]),
    );
    expect(readFileSync(releaseScript("build-image.sh"), "utf8")).toContain("--base cloud");
    const boot = readFileSync(releaseScript("boot-test.sh"), "utf8");
    const order = ["emulator start", "check_ports", "emulator stop", "emulator start", "emulator reset --yes"];
    let at = boot.indexOf("\nstep ");
    for (const command of order) {
      const next = boot.indexOf(command, at + 1);
      expect(next, `${command} after position ${at}`).toBeGreaterThan(at);
      at = next;
    }
    const rehearsal = readFileSync(releaseScript("rehearse.sh"), "utf8");
    for (const script of ["build-image.sh", "boot-test.sh", "checksums.sh", "channel-pointer.mjs"])
      expect(rehearsal).toContain(`"$here/${script}"`);
  });

  it("releases packages with changesets", () => {
    const steps: Array<{ uses?: string; with?: Record<string, string> }> = byName("release.yaml").jobs.release.steps;
    const changesets = steps.find((s) => s.uses?.startsWith("changesets/action@"));
    expect(changesets?.with?.publish).toBe("pnpm changeset publish");
  });

  it("publishes through trusted publishing (OIDC) with provenance, keeping the token for a first publish", () => {
    const release = byName("release.yaml");
    expect(release.permissions["id-token"]).toBe("write");
    const steps: Array<{
      name?: string;
      run?: string;
      uses?: string;
      with?: Record<string, unknown>;
      env?: Record<string, string>;
    }> = release.jobs.release.steps;
    expect(steps.find((s) => s.uses?.startsWith("actions/setup-node@"))?.with?.["node-version"]).toBe(24);
    const npmCheck = steps.findIndex((s) => s.run?.includes("npm --version") === true);
    const publish = steps.findIndex((s) => s.uses?.startsWith("changesets/action@") === true);
    expect(npmCheck).toBeGreaterThan(-1);
    expect(npmCheck).toBeLessThan(publish);
    expect(steps[npmCheck]?.run).toContain("11.5.1");
    expect(steps[publish]?.env?.NODE_AUTH_TOKEN).toContain("secrets.NPM_TOKEN");
    expect(steps[publish]?.env?.NPM_CONFIG_PROVENANCE).toBe("true");
  });
});
