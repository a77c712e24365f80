import { describe, expect, it } from "vitest";
import { loadProfile } from "../profiles.js";
import { provisioningScript } from "./user-data.js";

describe("provisioningScript health waits", () => {
  it("passes each accepted HTTP status as its own argument (svix accepts 200 or 204)", async () => {
    const services = (await loadProfile("hexclave")).services;
    const script = provisioningScript({
      imageTag: "hexclave-emulator-payload:hexclave-amd64",
      imageId: `sha256:${"ab".repeat(32)}`,
      services,
      healthTimeoutSeconds: 900,
      instanceId: "hexclave-build-test",
    });
    const svix = script.split("\n").find((l) => l.startsWith("wait_for svix "));
    expect(svix).toMatch(/ check_http 8071 \S+ 200 204$/);
    for (const s of services) expect(script).toContain(`wait_for ${s.name} `);
  });
});
