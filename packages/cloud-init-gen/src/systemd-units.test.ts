import { describe, expect, it } from "vitest";
import type { CloudInitGenError } from "./errors.js";
import { renderSystemdUnit, systemdEnableCommands, systemdUnitFiles } from "./systemd-units.js";

const unit = {
  name: "payload.service",
  unit: { Description: "Payload", After: ["docker.service", "network-online.target"] },
  service: {
    ExecStartPre: ["-/usr/bin/docker rm -f p", "/bin/true"],
    ExecStart: "/usr/bin/docker run p",
    Restart: "always",
    RestartSec: 2,
    RemainAfterExit: false,
  },
  install: { WantedBy: "multi-user.target" },
  sections: { "X-Extra": { Note: "kept" } },
};

describe("systemd units", () => {
  it("renders sections in order, lists as repeated keys, booleans as yes/no", () => {
    expect(renderSystemdUnit(unit)).toBe(
      [
        "[Unit]",
        "Description=Payload",
        "After=docker.service",
        "After=network-online.target",
        "",
        "[Service]",
        "ExecStartPre=-/usr/bin/docker rm -f p",
        "ExecStartPre=/bin/true",
        "ExecStart=/usr/bin/docker run p",
        "Restart=always",
        "RestartSec=2",
        "RemainAfterExit=no",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
        "[X-Extra]",
        "Note=kept",
        "",
      ].join("\n"),
    );
  });

  it("turns units into write_files entries and enable commands", () => {
    const [file] = systemdUnitFiles([unit]);
    expect(file).toEqual({
      path: "/etc/systemd/system/payload.service",
      content: renderSystemdUnit(unit),
      permissions: "0644",
      owner: "root:root",
    });
    expect(systemdEnableCommands([unit, "data.mount"])).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "payload.service", "data.mount"],
    ]);
    expect(systemdEnableCommands(["a.timer"], { now: false })[1]).toEqual(["systemctl", "enable", "a.timer"]);
  });

  it("names every bad field", () => {
    let error: CloudInitGenError | undefined;
    try {
      renderSystemdUnit({
        name: "payload",
        service: { ExecStart: "a\nb", "bad key": "x", Environment: ["A=1", "B=2\n"] },
      });
    } catch (e) {
      error = e as CloudInitGenError;
    }
    expect(error?.code).toBe("INVALID_SYSTEMD_UNIT");
    expect(error?.details.problems).toEqual([
      { path: "name", message: 'must be a unit file name like app.service, got "payload"' },
      { path: "service.ExecStart", message: "must be one line (use a list for repeated keys)" },
      { path: 'service["bad key"]', message: "must be a systemd key name like ExecStart" },
      { path: "service.Environment[1]", message: "must be one line (use a list for repeated keys)" },
    ]);
  });
});
