import { describe, expect, it } from "vitest";
import { loadProfile } from "../profiles.js";
import { HEALTH_REPORT_DIR, HEALTH_REPORT_FILE } from "./service-names.js";
import { provisioningScript, serviceUnit } from "./user-data.js";

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

  it("binds the guest's health report directory, made fresh by systemd on every start, into the container", () => {
    const unit = serviceUnit("hexclave:test");
    expect(unit.service?.RuntimeDirectory).toBe("hexclave-health");
    expect(HEALTH_REPORT_DIR).toBe("/run/hexclave-health");
    const run = String(unit.service?.ExecStart).split(" ");
    const bind = run.indexOf(`${HEALTH_REPORT_DIR}:${HEALTH_REPORT_DIR}`);
    expect(run[bind - 1]).toBe("-v");
    expect(run).toContain(`HEXCLAVE_HEALTH_REPORT=${HEALTH_REPORT_FILE}`);
    // Docker's HEALTHCHECK (an exec of the health tool every 10-15 s) is off in the guest; the supervisor's monitor checks.
    expect(run).toContain("--no-healthcheck");
    // Options before the image: docker run passes what follows the image to its entrypoint.
    expect(run.indexOf("hexclave:test")).toBe(run.length - 1);
  });
});
