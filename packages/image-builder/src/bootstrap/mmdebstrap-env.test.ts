import { describe, expect, it } from "vitest";
import { mmdebstrapEnv, systemFirstPath } from "./mmdebstrap-env.js";

describe("mmdebstrap's environment", () => {
  it("puts the system's directories before a version manager's shims, keeping the rest", () => {
    expect(systemFirstPath("/root/.pyenv/shims:/usr/bin:/opt/tool/bin")).toBe(
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/root/.pyenv/shims:/opt/tool/bin",
    );
    expect(mmdebstrapEnv({}).PATH).toBe("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    expect(mmdebstrapEnv({}).LC_ALL).toBe("C.UTF-8");
  });
});
