/**
 * Typed documents the tests render. The unit tests check their structure;
 * the integration test runs every one through the real `cloud-init schema`.
 */
import type { CloudConfig, NetworkConfigV2 } from "../src/index.js";
import { ShellScript, sh, systemdEnableCommands, systemdUnitFiles } from "../src/index.js";

/** Strings a careless YAML writer would let a reader take for booleans, numbers, null, aliases, tags, ... */
export const TRICKY_STRINGS: readonly string[] = [
  "yes",
  "no",
  "on",
  "off",
  "Yes",
  "OFF",
  "y",
  "n",
  "true",
  "False",
  "null",
  "Null",
  "~",
  "0755",
  "0644",
  "1e3",
  "0x1F",
  "0o17",
  "0b101",
  "1_000",
  "1:20",
  "-.5",
  "+1",
  ".inf",
  ".NaN",
  ".",
  "-.",
  "._",
  ".e5",
  "2024-01-31",
  "2001-12-14t21:59:43.10-05:00",
  "<<",
  "=",
  "*alias",
  "&anchor",
  "!tag",
  "!!str",
  ":colon",
  "key: value",
  "# not a comment",
  "a #b",
  "-",
  "- item",
  "--- document",
  "...",
  "?",
  "? key",
  "%TAG",
  "@at",
  "`backtick",
  "|literal",
  ">folded",
  "'single'",
  '"double"',
  "[flow]",
  "{flow: map}",
  ",comma",
  " leading space",
  "trailing space ",
  "\ttab",
  "",
  " ",
  "line1\nline2",
  "line1\nline2\n",
  "trailing newlines\n\n\n",
  "\nleading newline",
  "  indented first line\nsecond",
  " \n",
  "\t\n",
  "text\n  \nafter a line of spaces",
  "crlf\r\nline",
  "bell\u0007 and esc\u001b",
  "nul\u0000byte",
  "del\u007f c1\u0085 \u0086 nbsp\u00a0",
  "line sep\u2028para sep\u2029",
  "bom\ufeff and \ufffe\uffff",
  "emoji 😀 and 漢字 and é",
  "$HOME `id` $(id) 'q' \"dq\" \\ backslash",
];

const helloScript = new ShellScript()
  .assign("IMAGE", "/var/lib/payload/image with space.tar")
  .line(sh`docker load -i "$IMAGE"`)
  .command(["echo", "it's $done `now`"])
  .toString();

const units = [
  {
    name: "payload.service",
    unit: {
      Description: "Runs the payload container",
      After: ["docker.service", "network-online.target"],
      Wants: "network-online.target",
    },
    service: {
      Type: "simple",
      ExecStartPre: ["-/usr/bin/docker rm -f payload"],
      ExecStart: "/usr/bin/docker run --rm --name payload -p 8080:80 payload:latest",
      ExecStop: "/usr/bin/docker stop payload",
      Restart: "always",
      RestartSec: 2,
      RemainAfterExit: false,
    },
    install: { WantedBy: "multi-user.target" },
  },
] as const;

/** Every typed module at least once. */
export const FULL_CONFIG: CloudConfig = {
  hostname: "emulator",
  fqdn: "emulator.local",
  preserve_hostname: false,
  manage_etc_hosts: true,
  timezone: "Etc/UTC",
  users: [
    "default",
    {
      name: "builder",
      gecos: "Image builder, yes really",
      groups: ["docker", "sudo"],
      shell: "/bin/bash",
      sudo: "ALL=(ALL) NOPASSWD:ALL",
      lock_passwd: true,
      ssh_authorized_keys: [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o0o builder@host",
      ],
    },
  ],
  ssh_pwauth: false,
  chpasswd: { expire: false, users: [{ name: "root", password: "$6$salt$hash", type: "hash" }] },
  package_update: true,
  package_upgrade: false,
  packages: ["curl", ["jq", "1.7.1-3"]],
  apt: {
    preserve_sources_list: true,
    sources: {
      "example.list": {
        source: "deb [signed-by=$KEY_FILE] http://deb.example.org/debian trixie main",
        keyid: "0123456789ABCDEF",
      },
    },
  },
  write_files: [
    { path: "/etc/motd", content: "Welcome\nto the emulator\n", permissions: "0644", owner: "root:root" },
    { path: "/usr/local/bin/load-payload", content: helloScript, permissions: "0755" },
    { path: "/etc/example/b64", content: Buffer.from("binary\u0000data").toString("base64"), encoding: "b64" },
    { path: "/home/builder/.hushlogin", content: "", owner: "builder:builder", defer: true },
    ...systemdUnitFiles(units),
  ],
  bootcmd: [["sh", "-c", "echo booted > /run/booted"]],
  runcmd: [["/usr/local/bin/load-payload"], ...systemdEnableCommands(units), sh`echo ${"stage: done ✓"} > /dev/ttyS0`],
  power_state: { mode: "poweroff", delay: "now", message: "provisioned", timeout: 60, condition: true },
  growpart: { mode: "auto", devices: ["/"], ignore_growroot_disabled: false },
  resize_rootfs: true,
  final_message: "cloud-init finished after $UPTIME seconds",
  phone_home: { url: "http://10.0.2.2:8000/phone-home/$INSTANCE_ID", post: ["instance_id", "hostname"], tries: 3 },
  mounts: [["/dev/vdb", "/data", "ext4", "defaults,nofail", "0", "2"]],
  swap: { filename: "/swap.img", size: "64M", maxsize: "64M" },
  extraModules: { ntp: { enabled: false }, keyboard: { layout: "us" } },
};

/** Tricky strings in places the schema lets hold any string. */
export const TRICKY_CONFIG: CloudConfig = {
  write_files: TRICKY_STRINGS.map((content, i) => ({ path: `/tmp/tricky-${i}`, content })),
  runcmd: TRICKY_STRINGS.filter((s) => s.trim() !== "").map((s) => ["printf", "%s", s]),
  final_message: "on",
};

export const MINIMAL_CONFIG: CloudConfig = {};

export const STATIC_NETWORK: NetworkConfigV2 = {
  version: 2,
  ethernets: {
    lan: {
      match: { macaddress: "52:54:00:12:34:56" },
      "set-name": "lan0",
      addresses: ["10.0.2.15/24"],
      routes: [{ to: "default", via: "10.0.2.2" }],
      nameservers: { addresses: ["10.0.2.3"], search: ["local"] },
      mtu: 1500,
    },
  },
};

/** A document with one mistake per module, as untyped input (JSON from a user, say). */
export const INVALID_CONFIG: Record<string, unknown> = {
  hostname: 5,
  users: [{ name: "ok" }, { gecos: "no name" }],
  write_files: [
    { path: "/etc/a", content: "a" },
    { path: "/etc/b", content: "b", permissions: "0644" },
    { path: "/etc/c", content: "c", permissions: 644 },
    { path: "relative", encoding: "base64", content: "not base64!" },
  ],
  runcmd: [["echo"], 42, []],
  power_state: { mode: "sleep", delay: -1 },
  packages: [],
  phone_home: { url: "ftp://x" },
  mounts: [["a", "b", "c", "d", "e", "f", "g"]],
  resize_rootfs: "yes",
  extraModules: { hostname: "dup" },
  frobnicate: true,
};
