import { describe, expect, it } from "vitest";
import { cloudImageFileName, normaliseMirrorUrl } from "./cloud.js";

describe("cloud image names", () => {
  it("names Debian 13's published files", () => {
    expect(cloudImageFileName("generic", "amd64")).toBe("debian-13-generic-amd64.qcow2");
    expect(cloudImageFileName("genericcloud", "arm64")).toBe("debian-13-genericcloud-arm64.qcow2");
    expect(cloudImageFileName("nocloud", "amd64")).toBe("debian-13-nocloud-amd64.qcow2");
  });

  it("resolves names inside the mirror directory whether or not it ends in a slash", () => {
    for (const mirror of [
      "https://m.example/images/cloud/trixie/latest",
      "https://m.example/images/cloud/trixie/latest/",
    ]) {
      expect(new URL("SHA512SUMS", normaliseMirrorUrl(mirror)).href).toBe(
        "https://m.example/images/cloud/trixie/latest/SHA512SUMS",
      );
    }
  });
});
