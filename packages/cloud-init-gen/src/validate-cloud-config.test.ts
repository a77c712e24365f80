import { describe, expect, it } from "vitest";
import { FULL_CONFIG, INVALID_CONFIG, TRICKY_CONFIG } from "../test-support/example-documents.js";
import { CloudInitGenError } from "./errors.js";
import { assertValidCloudConfig, validate } from "./validate-cloud-config.js";
import { formatProblem } from "./validation-problems.js";

describe("validate", () => {
  it("accepts the example documents", () => {
    expect(validate(FULL_CONFIG)).toEqual({ ok: true, problems: [] });
    expect(validate(TRICKY_CONFIG)).toEqual({ ok: true, problems: [] });
  });

  it("collects every problem with its path, not just the first", () => {
    const result = validate(INVALID_CONFIG);
    expect(result.ok).toBe(false);
    expect(result.problems.map(formatProblem)).toEqual([
      "frobnicate: unknown key (pass other cloud-init modules through extraModules); expected one of hostname, fqdn, preserve_hostname, prefer_fqdn_over_hostname, manage_etc_hosts, timezone, users, ssh_authorized_keys, ssh_pwauth, disable_root, chpasswd, package_update, package_upgrade, package_reboot_if_required, packages, apt, write_files, bootcmd, runcmd, power_state, growpart, resize_rootfs, final_message, phone_home, mounts, mount_default_fields, swap, extraModules",
      "hostname: must be a string, got number 5",
      "users[1].name: is required",
      "packages: must have at least 1 item",
      'write_files[2].permissions: must be an octal string like "0644"',
      'write_files[3].path: must be an absolute path, got "relative"',
      'write_files[3].content: must be base64 text, as encoding is "base64"',
      "runcmd[1]: must be a command string or a list of arguments, got number 42",
      "runcmd[2]: must not be an empty argument list",
      'power_state.mode: must be one of "poweroff", "reboot", "halt", got "sleep"',
      "power_state.delay: must be an integer >= 0, got number -1",
      'resize_rootfs: must be one of true, false, "noblock", got "yes"',
      'phone_home.url: must be an http(s) URL, got "ftp://x"',
      "mounts[0]: must have at most 6 fields (fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno)",
      'extraModules.hostname: repeats the typed field "hostname"; set it there instead',
    ]);
  });

  it("finds strings UTF-8 cannot hold and values YAML cannot hold, anywhere", () => {
    const result = validate({ final_message: "bad \ud800", extraModules: { x: { y: [() => 1, Number.NaN] } } });
    expect(result.problems).toEqual([
      { path: "final_message", message: "contains an unpaired UTF-16 surrogate, which UTF-8 cannot hold" },
      {
        path: "extraModules.x.y[0]",
        message: "must be plain data (string, number, boolean, null, list, object), got function",
      },
      { path: "extraModules.x.y[1]", message: "must be a finite number, got NaN" },
    ]);
  });

  it("quotes odd keys in paths", () => {
    const result = validate({ apt: { sources: { "my source": { append: "yes" } } } });
    expect(result.problems.map(formatProblem)).toEqual([
      'apt.sources["my source"].append: must be true or false, got "yes"',
    ]);
  });

  it("assertValidCloudConfig throws a branded error carrying every problem", () => {
    let error: unknown;
    try {
      assertValidCloudConfig(INVALID_CONFIG);
    } catch (e) {
      error = e;
    }
    expect(CloudInitGenError.is(error)).toBe(true);
    expect((error as Record<symbol, unknown>)[Symbol.for("hexclave.error")]).toBe(true);
    expect((error as CloudInitGenError).code).toBe("INVALID_CLOUD_CONFIG");
    expect((error as CloudInitGenError).details.problems).toHaveLength(15);
    expect((error as CloudInitGenError).message).toContain(
      'write_files[2].permissions: must be an octal string like "0644"',
    );
  });
});
