import { HexclaveError } from "@hexclave/qemu-core";
import { describe, expect, it } from "vitest";
import {
  hostDebianArch,
  mmdebstrapArgs,
  SELFTEST_BASE_MIRROR,
  SELFTEST_BASE_PACKAGES,
  SELFTEST_BASE_REPOSITORY,
  selftestBaseRecipe,
  selftestBaseTag,
} from "./selftest-base.js";

describe("selftest base recipe", () => {
  const recipe = selftestBaseRecipe({ arch: "amd64" });

  it("tags the image with a hash of the recipe", () => {
    expect(selftestBaseTag(recipe)).toMatch(new RegExp(`^${SELFTEST_BASE_REPOSITORY}:[0-9a-f]{16}$`));
    expect(selftestBaseTag(selftestBaseRecipe({ arch: "amd64" }))).toBe(selftestBaseTag(recipe));
  });

  it("changes the tag when the mirror, the arch or the package list changes, not the package order", () => {
    const tag = selftestBaseTag(recipe);
    expect(selftestBaseTag(selftestBaseRecipe({ arch: "amd64", mirror: "http://mirror.example/debian" }))).not.toBe(
      tag,
    );
    expect(selftestBaseTag(selftestBaseRecipe({ arch: "arm64" }))).not.toBe(tag);
    expect(selftestBaseTag({ ...recipe, packages: [...recipe.packages, "less"] })).not.toBe(tag);
    expect(selftestBaseTag({ ...recipe, suite: "forky" })).not.toBe(tag);
    expect(selftestBaseTag({ ...recipe, packages: [...recipe.packages].reverse() })).toBe(tag);
  });

  it("includes what the self-test image runs", () => {
    for (const p of ["postgresql-17", "redis-server", "python3", "python3-psycopg2", "tini", "jq", "curl", "procps"]) {
      expect(SELFTEST_BASE_PACKAGES).toContain(p);
    }
    expect(recipe.mirror).toBe(SELFTEST_BASE_MIRROR);
    expect(recipe.suite).toBe("trixie");
  });

  it("builds the mmdebstrap arguments that stream a tarball to stdout", () => {
    const args = mmdebstrapArgs(selftestBaseRecipe({ arch: "arm64", mirror: "http://127.0.0.1:3142/debian" }));
    expect(args.slice(0, 3)).toEqual([
      "--variant=minbase",
      "--architectures=arm64",
      `--include=${SELFTEST_BASE_PACKAGES.join(",")}`,
    ]);
    expect(args.slice(-5)).toEqual([
      "--aptopt=Acquire::Retries 3",
      "--format=tar",
      "trixie",
      "-",
      "http://127.0.0.1:3142/debian",
    ]);
    expect(args).toContain("--dpkgopt=path-exclude=/usr/share/doc/*");
    expect(args.filter((a) => a.startsWith("--customize-hook="))).toHaveLength(recipe.customizeHooks.length);
  });

  it("maps Node's CPU names to Debian architectures and rejects others", () => {
    expect(hostDebianArch("x64")).toBe("amd64");
    expect(hostDebianArch("arm64")).toBe("arm64");
    try {
      hostDebianArch("ppc64");
      expect.unreachable();
    } catch (error) {
      expect(HexclaveError.is(error)).toBe(true);
      expect((error as HexclaveError).message).toContain("ppc64");
      expect((error as HexclaveError).hint).toContain("amd64 or arm64");
    }
  });
});
