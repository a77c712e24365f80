import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CloudInitGenError } from "./errors.js";
import { seedFiles } from "./seed-files.js";

describe("seedFiles", () => {
  it("always returns all four files, with a DHCP network-config and an empty vendor-data by default", () => {
    const files = seedFiles({
      userData: { hostname: "emulator" },
      metaData: { instanceId: "i-1", localHostname: "emulator" },
    });
    expect(Object.keys(files).sort()).toEqual(["meta-data", "network-config", "user-data", "vendor-data"]);
    expect(files["user-data"]).toBe("#cloud-config\nhostname: emulator\n");
    expect(parse(files["meta-data"])).toEqual({ "instance-id": "i-1", "local-hostname": "emulator" });
    expect(parse(files["network-config"])).toEqual({
      version: 2,
      ethernets: { primary: { match: { name: "e*" }, dhcp4: true } },
    });
    expect(files["vendor-data"]).toBe("#cloud-config\n{}\n");
    expect(parse(files["vendor-data"])).toEqual({});
  });

  it("passes rendered documents through and refuses text with no cloud-init header", () => {
    const files = seedFiles({
      userData: "#!/bin/sh\necho hi\n",
      metaData: "instance-id: x\n",
      networkConfig: "version: 2\n",
    });
    expect(files["user-data"]).toBe("#!/bin/sh\necho hi\n");
    expect(files["meta-data"]).toBe("instance-id: x\n");
    expect(() => seedFiles({ userData: "hostname: x", metaData: { instanceId: "x" } })).toThrow(CloudInitGenError);
  });
});
