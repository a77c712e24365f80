import { describe, expect, it } from "vitest";
import { binfmtEnabled, binfmtHandler, hostDebianArchOf } from "./foreign-arch.js";
import { mountsBelow } from "./tree-cleanup.js";

const mountinfo = [
  "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "100 22 0:5 / /work/cache/.tmp-x/root/dev rw - devtmpfs udev rw",
  "101 100 0:6 / /work/cache/.tmp-x/root/dev/pts rw - devpts devpts rw",
  "102 22 0:7 / /work/cache/.tmp-x/root/proc rw - proc proc rw",
  "103 22 0:8 / /work/cache/.tmp-xy/root/proc rw - proc proc rw",
  "104 22 0:9 / /work/cache/with\\040space/proc rw - proc proc rw",
].join("\n");

describe("mountsBelow", () => {
  it("finds mounts below a directory, deepest first, not in look-alike siblings", () => {
    expect(mountsBelow(mountinfo, "/work/cache/.tmp-x")).toEqual([
      "/work/cache/.tmp-x/root/dev/pts",
      "/work/cache/.tmp-x/root/proc",
      "/work/cache/.tmp-x/root/dev",
    ]);
    expect(mountsBelow(mountinfo, "/work/other")).toEqual([]);
  });
  it("decodes mountinfo's octal escapes", () => {
    expect(mountsBelow(mountinfo, "/work/cache/with space")).toEqual(["/work/cache/with space/proc"]);
  });
});

describe("foreign arch", () => {
  it("names the binfmt handler and reads its status", () => {
    expect(binfmtHandler("arm64")).toBe("qemu-aarch64");
    expect(binfmtHandler("amd64")).toBe("qemu-x86_64");
    expect(binfmtEnabled("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n")).toBe(true);
    expect(binfmtEnabled("disabled\n")).toBe(false);
    expect(hostDebianArchOf("x64")).toBe("amd64");
    expect(hostDebianArchOf("arm64")).toBe("arm64");
  });
});
