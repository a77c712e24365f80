import { describe, expect, it } from "vitest";
import { imagePlatformOf, rewriteSaveManifest, withImagePlatform } from "./image-platform.js";

describe("image platform", () => {
  it("marks a config imported on amd64 as linux/arm64 v8, keeping everything else", () => {
    const imported = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: ["sha256:ab"] } };
    expect(withImagePlatform(imported, "arm64")).toEqual({
      architecture: "arm64",
      variant: "v8",
      os: "linux",
      rootfs: { type: "layers", diff_ids: ["sha256:ab"] },
    });
  });

  it("drops a variant that does not belong to amd64", () => {
    expect(withImagePlatform({ architecture: "arm64", variant: "v8", os: "linux" }, "amd64")).toEqual({
      architecture: "amd64",
      os: "linux",
    });
    expect(imagePlatformOf("amd64")).toEqual({ architecture: "amd64" });
  });

  it("points the saved archive's manifest at the new config and tag, and refuses archives of several images", () => {
    const entry = { Config: "old.json", RepoTags: ["base:partial-1"], Layers: ["abc/layer.tar"] };
    expect(rewriteSaveManifest([entry], "new.json", "base:1234")).toEqual([
      { Config: "new.json", RepoTags: ["base:1234"], Layers: ["abc/layer.tar"] },
    ]);
    expect(() => rewriteSaveManifest([entry, entry], "new.json", "base:1")).toThrow(/one image.*found 2/);
    expect(() => rewriteSaveManifest([], "new.json", "base:1")).toThrow(/found 0/);
  });
});
