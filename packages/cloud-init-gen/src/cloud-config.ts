/**
 * Types for the cloud-config modules this library knows (the names and
 * shapes of cloud-init 25.x's schema), plus `extraModules`, a typed escape
 * hatch for any other module: its keys are passed through to the top level
 * of the document unchanged.
 */

/** A command for `runcmd`/`bootcmd`: a string runs through `sh -c`, an array is executed directly. */
export type CloudInitCommand = string | readonly string[];

/** A user for the `users` module; `"default"` keeps the distro's default user. */
export interface UserConfig {
  readonly name: string;
  readonly gecos?: string;
  /** Supplementary groups: a comma-separated string or a list. */
  readonly groups?: string | readonly string[];
  readonly primary_group?: string;
  readonly homedir?: string;
  readonly shell?: string;
  /** A sudo rule (`"ALL=(ALL) NOPASSWD:ALL"`), a list of rules, or `null` for none. */
  readonly sudo?: string | readonly string[] | null;
  readonly lock_passwd?: boolean;
  readonly passwd?: string;
  readonly hashed_passwd?: string;
  readonly plain_text_passwd?: string;
  readonly ssh_authorized_keys?: readonly string[];
  readonly ssh_import_id?: readonly string[];
  readonly system?: boolean;
  readonly uid?: number;
  readonly no_create_home?: boolean;
  readonly create_groups?: boolean;
  /** `YYYY-MM-DD`. */
  readonly expiredate?: string;
  readonly inactive?: string;
}

export type ChpasswdUser =
  | { readonly name: string; readonly password: string; readonly type?: "hash" | "text" }
  | { readonly name: string; readonly type: "RANDOM" };

export interface ChpasswdConfig {
  readonly expire?: boolean;
  readonly users?: readonly ChpasswdUser[];
}

/** A package name, or `[name, version]`. */
export type PackageSpec = string | readonly [name: string, version: string];

export interface AptSource {
  /** A sources.list line (`deb [signed-by=$KEY_FILE] http://... trixie main`). */
  readonly source?: string;
  readonly keyid?: string;
  /** An ASCII-armoured PGP key. */
  readonly key?: string;
  readonly keyserver?: string;
  readonly filename?: string;
  readonly append?: boolean;
}

export interface AptMirror {
  readonly arches: readonly string[];
  readonly uri?: string;
  readonly search?: readonly string[];
}

export interface AptConfig {
  readonly preserve_sources_list?: boolean;
  readonly disable_suites?: readonly string[];
  readonly primary?: readonly AptMirror[];
  readonly security?: readonly AptMirror[];
  /** Raw apt.conf snippet. */
  readonly conf?: string;
  readonly http_proxy?: string;
  readonly https_proxy?: string;
  /** Keyed by source id (also the file name under `/etc/apt/sources.list.d`). */
  readonly sources?: Readonly<Record<string, AptSource>>;
}

export type WriteFileEncoding =
  | "text/plain"
  | "b64"
  | "base64"
  | "gz"
  | "gzip"
  | "gz+base64"
  | "gzip+base64"
  | "gz+b64"
  | "gzip+b64";

export interface WriteFile {
  /** Absolute path of the file in the guest. */
  readonly path: string;
  readonly content?: string;
  readonly encoding?: WriteFileEncoding;
  /** Octal string such as `"0644"` or `"0755"` (never a number: YAML would read 0644 as 420). */
  readonly permissions?: string;
  /** `user:group` (default `root:root`). */
  readonly owner?: string;
  readonly append?: boolean;
  /** Write in the final stage, after users and packages exist. */
  readonly defer?: boolean;
}

export interface PowerStateConfig {
  readonly mode: "poweroff" | "reboot" | "halt";
  /** Minutes after cloud-init finishes, or `"now"`. */
  readonly delay?: number | "now";
  readonly message?: string;
  /** Seconds to wait for cloud-init to finish. */
  readonly timeout?: number;
  /** `true`, `false`, or a command whose exit code 0 means "go ahead". */
  readonly condition?: boolean | CloudInitCommand;
}

export interface GrowpartConfig {
  readonly mode?: "auto" | "growpart" | "gpart" | "off";
  readonly devices?: readonly string[];
  readonly ignore_growroot_disabled?: boolean;
}

export type PhoneHomeKey = "pub_key_rsa" | "pub_key_ecdsa" | "pub_key_ed25519" | "instance_id" | "hostname" | "fqdn";

export interface PhoneHomeConfig {
  readonly url: string;
  readonly post?: "all" | readonly PhoneHomeKey[];
  readonly tries?: number;
}

/** `[fs_spec, fs_file?, fs_vfstype?, fs_mntops?, fs_freq?, fs_passno?]`, as in /etc/fstab. */
export type MountEntry = readonly [string, ...string[]];

export interface SwapConfig {
  readonly filename?: string;
  readonly size?: number | "auto" | string;
  readonly maxsize?: number | string;
}

export interface CloudConfig {
  readonly hostname?: string;
  readonly fqdn?: string;
  readonly preserve_hostname?: boolean;
  readonly prefer_fqdn_over_hostname?: boolean;
  readonly manage_etc_hosts?: boolean | "localhost";
  readonly timezone?: string;
  readonly users?: readonly (UserConfig | "default")[];
  readonly ssh_authorized_keys?: readonly string[];
  readonly ssh_pwauth?: boolean;
  readonly disable_root?: boolean;
  readonly chpasswd?: ChpasswdConfig;
  readonly package_update?: boolean;
  readonly package_upgrade?: boolean;
  readonly package_reboot_if_required?: boolean;
  readonly packages?: readonly PackageSpec[];
  readonly apt?: AptConfig;
  readonly write_files?: readonly WriteFile[];
  readonly bootcmd?: readonly CloudInitCommand[];
  readonly runcmd?: readonly CloudInitCommand[];
  readonly power_state?: PowerStateConfig;
  readonly growpart?: GrowpartConfig;
  readonly resize_rootfs?: boolean | "noblock";
  readonly final_message?: string;
  readonly phone_home?: PhoneHomeConfig;
  readonly mounts?: readonly MountEntry[];
  readonly mount_default_fields?: readonly [
    string | null,
    string | null,
    string | null,
    string | null,
    string | null,
    string | null,
  ];
  readonly swap?: SwapConfig;
  /**
   * Escape hatch for any other module (`ntp`, `ca_certs`, `keyboard`, ...):
   * each key is written at the top level of the document as given. Keys
   * must not repeat a typed key above.
   */
  readonly extraModules?: Readonly<Record<string, unknown>>;
}

/** Top-level keys with a typed field in {@link CloudConfig} (not counting `extraModules`). */
export const TYPED_CLOUD_CONFIG_KEYS = [
  "hostname",
  "fqdn",
  "preserve_hostname",
  "prefer_fqdn_over_hostname",
  "manage_etc_hosts",
  "timezone",
  "users",
  "ssh_authorized_keys",
  "ssh_pwauth",
  "disable_root",
  "chpasswd",
  "package_update",
  "package_upgrade",
  "package_reboot_if_required",
  "packages",
  "apt",
  "write_files",
  "bootcmd",
  "runcmd",
  "power_state",
  "growpart",
  "resize_rootfs",
  "final_message",
  "phone_home",
  "mounts",
  "mount_default_fields",
  "swap",
] as const satisfies readonly (keyof CloudConfig)[];

/** The plain object written as YAML: typed keys in a stable order, then `extraModules`' keys. */
export function cloudConfigToDocument(config: CloudConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of TYPED_CLOUD_CONFIG_KEYS) {
    const value = config[key];
    if (value !== undefined) out[key] = value;
  }
  for (const [key, value] of Object.entries(config.extraModules ?? {})) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}
