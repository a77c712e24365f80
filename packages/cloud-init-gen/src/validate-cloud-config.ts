/**
 * `validate(config)`: checks a CloudConfig (typed or from untyped JSON) and
 * collects every problem with its path, before anything is rendered. It
 * follows cloud-init 25.x's schema for the typed modules and adds checks the
 * schema cannot make (octal permissions as strings, base64 content, absolute
 * paths, strings that cannot be written as UTF-8).
 */
import { TYPED_CLOUD_CONFIG_KEYS } from "./cloud-config.js";
import { cloudInitError } from "./errors-data.js";
import { formatProblem, joinPath, ProblemCollector, type ValidationResult } from "./validation-problems.js";

type Obj = Readonly<Record<string, unknown>>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const OCTAL_PERMISSIONS = /^0?[0-7]{3,4}$/;
const OWNER = /^[^:\s]+(?::[^:\s]+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const TIMEZONE = /^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)*$/;
const SWAP_SIZE = /^(?:[0-9]+)?\.?[0-9]+[BKMGT]$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const WRITE_FILE_ENCODINGS = [
  "text/plain",
  "b64",
  "base64",
  "gz",
  "gzip",
  "gz+base64",
  "gzip+base64",
  "gz+b64",
  "gzip+b64",
] as const;
const PHONE_HOME_KEYS = ["pub_key_rsa", "pub_key_ecdsa", "pub_key_ed25519", "instance_id", "hostname", "fqdn"] as const;

/** The checking primitives, bound to one collector. */
class Checker {
  constructor(readonly c: ProblemCollector) {}

  keys(path: string, value: Obj, allowed: readonly string[], hint = ""): void {
    for (const key of Object.keys(value)) {
      if (value[key] !== undefined && !allowed.includes(key))
        this.c.add(joinPath(path, key), `unknown key${hint}; expected one of ${allowed.join(", ")}`);
    }
  }

  object(path: string, v: unknown): v is Obj {
    if (isObject(v)) return true;
    this.c.add(path, `must be an object, got ${describe(v)}`);
    return false;
  }

  string(path: string, v: unknown, opts: { nonEmpty?: boolean; pattern?: RegExp; patternText?: string } = {}): boolean {
    if (typeof v !== "string") {
      this.c.add(path, v === undefined ? "is required" : `must be a string, got ${describe(v)}`);
      return false;
    }
    if (opts.nonEmpty && v === "") {
      this.c.add(path, "must not be empty");
      return false;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.c.add(path, `must be ${opts.patternText ?? `a string matching ${opts.pattern}`}, got ${JSON.stringify(v)}`);
      return false;
    }
    return true;
  }

  boolean(path: string, v: unknown): void {
    if (typeof v !== "boolean") this.c.add(path, `must be true or false, got ${describe(v)}`);
  }

  integer(path: string, v: unknown, min = 0): void {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min)
      this.c.add(path, `must be an integer >= ${min}, got ${describe(v)}`);
  }

  oneOf(path: string, v: unknown, allowed: readonly unknown[]): boolean {
    if (allowed.includes(v)) return true;
    this.c.add(path, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${describe(v)}`);
    return false;
  }

  array(path: string, v: unknown, minItems = 0): v is readonly unknown[] {
    if (!Array.isArray(v)) {
      this.c.add(path, `must be a list, got ${describe(v)}`);
      return false;
    }
    if (v.length < minItems) {
      this.c.add(path, `must have at least ${minItems} item${minItems === 1 ? "" : "s"}`);
      return false;
    }
    return true;
  }

  stringList(path: string, v: unknown, minItems = 1): void {
    if (this.array(path, v, minItems))
      v.forEach((item, i) => {
        this.string(joinPath(path, i), item);
      });
  }

  command(path: string, v: unknown): void {
    if (typeof v === "string") {
      if (v.trim() === "") this.c.add(path, "must not be an empty command");
      return;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) this.c.add(path, "must not be an empty argument list");
      v.forEach((arg, i) => {
        this.string(joinPath(path, i), arg);
      });
      return;
    }
    this.c.add(path, `must be a command string or a list of arguments, got ${describe(v)}`);
  }

  commands(path: string, v: unknown): void {
    if (this.array(path, v, 1))
      v.forEach((item, i) => {
        this.command(joinPath(path, i), item);
      });
  }

  /** Every string anywhere must be encodable as UTF-8; every value must be plain data YAML can hold. */
  plainData(path: string, v: unknown, seen: Set<object> = new Set()): void {
    if (v === null || typeof v === "boolean") return;
    if (typeof v === "string") {
      if (LONE_SURROGATE.test(v)) this.c.add(path, "contains an unpaired UTF-16 surrogate, which UTF-8 cannot hold");
      return;
    }
    if (typeof v === "number") {
      if (!Number.isFinite(v)) this.c.add(path, `must be a finite number, got ${v}`);
      return;
    }
    if (typeof v !== "object") {
      this.c.add(path, `must be plain data (string, number, boolean, null, list, object), got ${typeof v}`);
      return;
    }
    if (seen.has(v)) {
      this.c.add(path, "is a circular reference");
      return;
    }
    seen.add(v);
    if (Array.isArray(v))
      v.forEach((item, i) => {
        this.plainData(joinPath(path, i), item, seen);
      });
    else if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null)
      this.c.add(path, `must be a plain object, got ${v.constructor?.name ?? "an object"}`);
    else
      for (const [key, item] of Object.entries(v)) {
        if (LONE_SURROGATE.test(key))
          this.c.add(joinPath(path, key), "key contains an unpaired UTF-16 surrogate, which UTF-8 cannot hold");
        if (item !== undefined) this.plainData(joinPath(path, key), item, seen);
      }
    seen.delete(v);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

const USER_KEYS = [
  "name",
  "gecos",
  "groups",
  "primary_group",
  "homedir",
  "shell",
  "sudo",
  "lock_passwd",
  "passwd",
  "hashed_passwd",
  "plain_text_passwd",
  "ssh_authorized_keys",
  "ssh_import_id",
  "system",
  "uid",
  "no_create_home",
  "create_groups",
  "expiredate",
  "inactive",
];

function checkUser(k: Checker, path: string, user: unknown): void {
  if (user === "default") return;
  if (typeof user === "string") {
    k.c.add(path, `must be "default" or a user object, got ${describe(user)}`);
    return;
  }
  if (!k.object(path, user)) return;
  k.keys(path, user, USER_KEYS);
  k.string(joinPath(path, "name"), user.name, { pattern: USER_NAME, patternText: "a user name like alice" });
  for (const key of ["gecos", "primary_group", "homedir", "shell", "passwd", "hashed_passwd", "plain_text_passwd"])
    if (user[key] !== undefined) k.string(joinPath(path, key), user[key]);
  if (user.inactive !== undefined) k.string(joinPath(path, "inactive"), user.inactive, { pattern: /^[0-9]+$/ });
  for (const key of ["lock_passwd", "system", "no_create_home", "create_groups"])
    if (user[key] !== undefined) k.boolean(joinPath(path, key), user[key]);
  for (const key of ["ssh_authorized_keys", "ssh_import_id"])
    if (user[key] !== undefined) k.stringList(joinPath(path, key), user[key]);
  if (user.groups !== undefined && typeof user.groups !== "string") k.stringList(joinPath(path, "groups"), user.groups);
  if (user.sudo !== undefined && user.sudo !== null && typeof user.sudo !== "string")
    k.stringList(joinPath(path, "sudo"), user.sudo);
  if (user.uid !== undefined) k.integer(joinPath(path, "uid"), user.uid);
  if (user.expiredate !== undefined)
    k.string(joinPath(path, "expiredate"), user.expiredate, {
      pattern: /^\d{4}-\d{2}-\d{2}$/,
      patternText: "a date like 2030-12-31",
    });
}

function checkWriteFile(k: Checker, path: string, file: unknown): void {
  if (!k.object(path, file)) return;
  k.keys(path, file, ["path", "content", "encoding", "permissions", "owner", "append", "defer"]);
  k.string(joinPath(path, "path"), file.path, { pattern: /^\/./, patternText: "an absolute path" });
  if (file.content !== undefined) k.string(joinPath(path, "content"), file.content);
  if (file.encoding !== undefined) k.oneOf(joinPath(path, "encoding"), file.encoding, WRITE_FILE_ENCODINGS);
  if (
    typeof file.encoding === "string" &&
    /b64|base64/.test(file.encoding) &&
    typeof file.content === "string" &&
    !BASE64.test(file.content.replace(/\s+/g, ""))
  )
    k.c.add(joinPath(path, "content"), `must be base64 text, as encoding is ${JSON.stringify(file.encoding)}`);
  if (
    file.permissions !== undefined &&
    (typeof file.permissions !== "string" || !OCTAL_PERMISSIONS.test(file.permissions))
  )
    k.c.add(joinPath(path, "permissions"), 'must be an octal string like "0644"');
  if (file.owner !== undefined)
    k.string(joinPath(path, "owner"), file.owner, { pattern: OWNER, patternText: 'an owner like "root:root"' });
  for (const key of ["append", "defer"]) if (file[key] !== undefined) k.boolean(joinPath(path, key), file[key]);
}

function checkApt(k: Checker, path: string, apt: unknown): void {
  if (!k.object(path, apt)) return;
  k.keys(path, apt, [
    "preserve_sources_list",
    "disable_suites",
    "primary",
    "security",
    "conf",
    "http_proxy",
    "https_proxy",
    "sources",
  ]);
  if (Object.values(apt).every((v) => v === undefined)) k.c.add(path, "must set at least one field");
  if (apt.preserve_sources_list !== undefined)
    k.boolean(joinPath(path, "preserve_sources_list"), apt.preserve_sources_list);
  if (apt.disable_suites !== undefined) k.stringList(joinPath(path, "disable_suites"), apt.disable_suites);
  for (const key of ["conf", "http_proxy", "https_proxy"])
    if (apt[key] !== undefined) k.string(joinPath(path, key), apt[key]);
  for (const key of ["primary", "security"]) {
    const mirrors = apt[key];
    const mp = joinPath(path, key);
    if (mirrors === undefined || !k.array(mp, mirrors, 1)) continue;
    mirrors.forEach((m, i) => {
      const ip = joinPath(mp, i);
      if (!k.object(ip, m)) return;
      k.keys(ip, m, ["arches", "uri", "search"]);
      k.stringList(joinPath(ip, "arches"), m.arches);
      if (m.uri !== undefined) k.string(joinPath(ip, "uri"), m.uri, { nonEmpty: true });
      if (m.search !== undefined) k.stringList(joinPath(ip, "search"), m.search);
    });
  }
  if (apt.sources !== undefined) {
    const sp = joinPath(path, "sources");
    if (k.object(sp, apt.sources))
      for (const [id, source] of Object.entries(apt.sources)) {
        const ip = joinPath(sp, id);
        if (!k.object(ip, source)) continue;
        k.keys(ip, source, ["source", "keyid", "key", "keyserver", "filename", "append"]);
        if (Object.values(source).every((v) => v === undefined)) k.c.add(ip, "must set at least one field");
        for (const key of ["source", "keyid", "key", "keyserver", "filename"])
          if (source[key] !== undefined) k.string(joinPath(ip, key), source[key], { nonEmpty: true });
        if (source.append !== undefined) k.boolean(joinPath(ip, "append"), source.append);
      }
  }
}

function checkModules(k: Checker, config: Obj): void {
  const at = (key: string) => joinPath("", key);
  if (config.hostname !== undefined)
    k.string(at("hostname"), config.hostname, { pattern: HOSTNAME_LABEL, patternText: "a host name like web-1" });
  if (config.fqdn !== undefined)
    k.string(at("fqdn"), config.fqdn, {
      pattern:
        /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
      patternText: "a domain name like web-1.example.org",
    });
  for (const key of [
    "preserve_hostname",
    "prefer_fqdn_over_hostname",
    "ssh_pwauth",
    "disable_root",
    "package_update",
    "package_upgrade",
    "package_reboot_if_required",
  ])
    if (config[key] !== undefined) k.boolean(at(key), config[key]);
  if (config.manage_etc_hosts !== undefined)
    k.oneOf(at("manage_etc_hosts"), config.manage_etc_hosts, [true, false, "localhost"]);
  if (config.timezone !== undefined)
    k.string(at("timezone"), config.timezone, { pattern: TIMEZONE, patternText: "a zoneinfo name like Europe/Berlin" });
  if (config.users !== undefined && k.array(at("users"), config.users))
    config.users.forEach((u, i) => {
      checkUser(k, joinPath("users", i), u);
    });
  if (config.ssh_authorized_keys !== undefined) k.stringList(at("ssh_authorized_keys"), config.ssh_authorized_keys);
  if (config.chpasswd !== undefined && k.object("chpasswd", config.chpasswd)) {
    const cp = config.chpasswd;
    k.keys("chpasswd", cp, ["expire", "users"]);
    if (cp.expire !== undefined) k.boolean("chpasswd.expire", cp.expire);
    if (cp.users !== undefined && k.array("chpasswd.users", cp.users))
      cp.users.forEach((u, i) => {
        const p = joinPath("chpasswd.users", i);
        if (!k.object(p, u)) return;
        k.keys(p, u, ["name", "password", "type"]);
        k.string(joinPath(p, "name"), u.name, { nonEmpty: true });
        if (u.type === "RANDOM") {
          if (u.password !== undefined) k.c.add(joinPath(p, "password"), 'must be absent when type is "RANDOM"');
        } else {
          if (u.type !== undefined) k.oneOf(joinPath(p, "type"), u.type, ["hash", "text", "RANDOM"]);
          k.string(joinPath(p, "password"), u.password);
        }
      });
  }
  if (config.packages !== undefined && k.array("packages", config.packages, 1))
    config.packages.forEach((pkg, i) => {
      const p = joinPath("packages", i);
      if (typeof pkg === "string") k.string(p, pkg, { nonEmpty: true });
      else if (Array.isArray(pkg) && pkg.length === 2)
        pkg.forEach((s, j) => {
          k.string(joinPath(p, j), s, { nonEmpty: true });
        });
      else k.c.add(p, `must be a package name or [name, version], got ${describe(pkg)}`);
    });
  if (config.apt !== undefined) checkApt(k, "apt", config.apt);
  if (config.write_files !== undefined && k.array("write_files", config.write_files, 1))
    config.write_files.forEach((f, i) => {
      checkWriteFile(k, joinPath("write_files", i), f);
    });
  for (const key of ["bootcmd", "runcmd"]) if (config[key] !== undefined) k.commands(key, config[key]);
  if (config.power_state !== undefined && k.object("power_state", config.power_state)) {
    const ps = config.power_state;
    k.keys("power_state", ps, ["mode", "delay", "message", "timeout", "condition"]);
    k.oneOf("power_state.mode", ps.mode, ["poweroff", "reboot", "halt"]);
    if (ps.delay !== undefined && ps.delay !== "now") k.integer("power_state.delay", ps.delay);
    if (ps.message !== undefined) k.string("power_state.message", ps.message);
    if (ps.timeout !== undefined) k.integer("power_state.timeout", ps.timeout);
    if (ps.condition !== undefined && typeof ps.condition !== "boolean")
      k.command("power_state.condition", ps.condition);
  }
  if (config.growpart !== undefined && k.object("growpart", config.growpart)) {
    const gp = config.growpart;
    k.keys("growpart", gp, ["mode", "devices", "ignore_growroot_disabled"]);
    if (gp.mode !== undefined) k.oneOf("growpart.mode", gp.mode, ["auto", "growpart", "gpart", "off"]);
    if (gp.devices !== undefined) k.stringList("growpart.devices", gp.devices, 0);
    if (gp.ignore_growroot_disabled !== undefined)
      k.boolean("growpart.ignore_growroot_disabled", gp.ignore_growroot_disabled);
  }
  if (config.resize_rootfs !== undefined) k.oneOf("resize_rootfs", config.resize_rootfs, [true, false, "noblock"]);
  if (config.final_message !== undefined) k.string("final_message", config.final_message);
  if (config.phone_home !== undefined && k.object("phone_home", config.phone_home)) {
    const ph = config.phone_home;
    k.keys("phone_home", ph, ["url", "post", "tries"]);
    k.string("phone_home.url", ph.url, { pattern: /^https?:\/\/[^\s/]+/, patternText: "an http(s) URL" });
    if (ph.post !== undefined && ph.post !== "all" && k.array("phone_home.post", ph.post))
      ph.post.forEach((key, i) => {
        k.oneOf(joinPath("phone_home.post", i), key, PHONE_HOME_KEYS);
      });
    if (ph.tries !== undefined) k.integer("phone_home.tries", ph.tries, 1);
  }
  if (config.mounts !== undefined && k.array("mounts", config.mounts, 1))
    config.mounts.forEach((m, i) => {
      const p = joinPath("mounts", i);
      if (!k.array(p, m, 1)) return;
      if (m.length > 6)
        k.c.add(p, "must have at most 6 fields (fs_spec, fs_file, fs_vfstype, fs_mntops, fs_freq, fs_passno)");
      m.forEach((field, j) => {
        k.string(joinPath(p, j), field);
      });
    });
  if (config.mount_default_fields !== undefined && k.array("mount_default_fields", config.mount_default_fields, 6)) {
    if (config.mount_default_fields.length !== 6) k.c.add("mount_default_fields", "must have exactly 6 fields");
    config.mount_default_fields.forEach((f, i) => {
      if (f !== null) k.string(joinPath("mount_default_fields", i), f);
    });
  }
  if (config.swap !== undefined && k.object("swap", config.swap)) {
    const sw = config.swap;
    k.keys("swap", sw, ["filename", "size", "maxsize"]);
    if (sw.filename !== undefined)
      k.string("swap.filename", sw.filename, { pattern: /^\//, patternText: "an absolute path" });
    for (const key of ["size", "maxsize"]) {
      const v = sw[key];
      if (v === undefined || (key === "size" && v === "auto")) continue;
      if (typeof v === "number") k.integer(joinPath("swap", key), v);
      else k.string(joinPath("swap", key), v, { pattern: SWAP_SIZE, patternText: 'a size like "512M" or "2G"' });
    }
  }
}

/** Checks a cloud-config and returns every problem with its path (`ok` when there is none). */
export function validate(config: unknown): ValidationResult {
  const c = new ProblemCollector();
  const k = new Checker(c);
  if (!k.object("", config)) return c.result();
  k.keys(
    "",
    config,
    [...TYPED_CLOUD_CONFIG_KEYS, "extraModules"],
    " (pass other cloud-init modules through extraModules)",
  );
  checkModules(k, config);
  if (config.extraModules !== undefined && k.object("extraModules", config.extraModules)) {
    for (const key of Object.keys(config.extraModules)) {
      if ((TYPED_CLOUD_CONFIG_KEYS as readonly string[]).includes(key))
        c.add(joinPath("extraModules", key), `repeats the typed field "${key}"; set it there instead`);
    }
  }
  // Strings anywhere (typed fields and extraModules) must be writable as UTF-8, values must be plain data.
  k.plainData("", config);
  return c.result();
}

/** Throws INVALID_CLOUD_CONFIG listing every problem (also in `details.problems`) unless `config` is valid. */
export function assertValidCloudConfig(config: unknown): void {
  const result = validate(config);
  if (result.ok) return;
  throw cloudInitError(
    "INVALID_CLOUD_CONFIG",
    `cloud-config has ${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}:\n${result.problems
      .map((p) => `  - ${formatProblem(p)}`)
      .join("\n")}`,
    { details: { problems: result.problems } },
  );
}
