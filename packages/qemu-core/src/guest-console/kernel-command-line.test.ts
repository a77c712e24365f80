import { describe, expect, it } from "vitest";
import { withKernelOptions } from "./kernel-command-line.js";

describe("withKernelOptions", () => {
  it("adds options the command line does not set, keeping the image's own values", () => {
    expect(withKernelOptions("root=/dev/vda rw quiet", ["init_on_free=1", "quiet"])).toBe(
      "root=/dev/vda rw quiet init_on_free=1",
    );
    expect(withKernelOptions("root=/dev/vda init_on_free=0", ["init_on_free=1"])).toBe("root=/dev/vda init_on_free=0");
    expect(withKernelOptions("  ", ["nokaslr"])).toBe("nokaslr");
  });

  it("is idempotent", () => {
    const once = withKernelOptions("root=/dev/vda", ["panic=-1", "init_on_free=1"]);
    expect(withKernelOptions(once, ["panic=-1", "init_on_free=1"])).toBe(once);
  });
});
