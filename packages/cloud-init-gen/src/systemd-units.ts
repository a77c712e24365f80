/**
 * A typed systemd unit description turned into `write_files` entries (and
 * the `runcmd` commands that enable it), so units are not pasted as text.
 */
import type { WriteFile } from "./cloud-config.js";
import { cloudInitError } from "./errors-data.js";
import { formatProblem, joinPath, ProblemCollector } from "./validation-problems.js";

/** A value: a string or number, a boolean (`yes`/`no`), or a list (one `Key=` line per item). */
export type SystemdValue = string | number | boolean | readonly (string | number)[];

export type SystemdSection = Readonly<Record<string, SystemdValue | undefined>>;

export interface SystemdUnit {
  /** File name with its type: `app.service`, `app.timer`, `data.mount`, ... */
  readonly name: string;
  readonly unit?: SystemdSection;
  readonly service?: SystemdSection;
  readonly socket?: SystemdSection;
  readonly timer?: SystemdSection;
  readonly mount?: SystemdSection;
  readonly path?: SystemdSection;
  readonly install?: SystemdSection;
  /** Other sections by their exact name. */
  readonly sections?: Readonly<Record<string, SystemdSection>>;
  /** Default `/etc/systemd/system`. */
  readonly directory?: string;
}

const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(?:service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$/;
const KEY = /^[A-Za-z][A-Za-z0-9]*$/;

const KNOWN_SECTIONS = [
  ["unit", "Unit"],
  ["service", "Service"],
  ["socket", "Socket"],
  ["timer", "Timer"],
  ["mount", "Mount"],
  ["path", "Path"],
  ["install", "Install"],
] as const;

function sectionsOf(unit: SystemdUnit): [string, SystemdSection, string][] {
  const out: [string, SystemdSection, string][] = [];
  for (const [field, title] of KNOWN_SECTIONS) {
    const section = unit[field];
    if (section !== undefined) out.push([title, section, field]);
  }
  for (const [title, section] of Object.entries(unit.sections ?? {}))
    out.push([title, section, joinPath("sections", title)]);
  return out;
}

function formatValue(value: string | number | boolean): string {
  return typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
}

/** The unit file's text. Throws INVALID_SYSTEMD_UNIT naming every bad field. */
export function renderSystemdUnit(unit: SystemdUnit): string {
  const c = new ProblemCollector();
  if (!UNIT_NAME.test(unit.name))
    c.add("name", `must be a unit file name like app.service, got ${JSON.stringify(unit.name)}`);
  const sections = sectionsOf(unit);
  if (sections.length === 0) c.add("", "has no sections");
  const lines: string[] = [];
  for (const [title, section, path] of sections) {
    if (!/^[A-Za-z][A-Za-z0-9 -]*$/.test(title)) c.add(path, "section name must be letters, digits, spaces or dashes");
    if (lines.length > 0) lines.push("");
    lines.push(`[${title}]`);
    for (const [key, value] of Object.entries(section)) {
      if (value === undefined) continue;
      const kp = joinPath(path, key);
      if (!KEY.test(key)) c.add(kp, "must be a systemd key name like ExecStart");
      const items = Array.isArray(value) ? value : [value as string | number | boolean];
      items.forEach((item, i) => {
        const text = formatValue(item);
        if (/[\r\n]/.test(text))
          c.add(Array.isArray(value) ? joinPath(kp, i) : kp, "must be one line (use a list for repeated keys)");
        lines.push(`${key}=${text}`);
      });
    }
  }
  const result = c.result();
  if (!result.ok)
    throw cloudInitError(
      "INVALID_SYSTEMD_UNIT",
      `systemd unit ${JSON.stringify(unit.name)}: ${result.problems.map(formatProblem).join("; ")}`,
      { details: { problems: result.problems } },
    );
  return `${lines.join("\n")}\n`;
}

/** One `write_files` entry per unit (`/etc/systemd/system/<name>`, 0644, root:root). */
export function systemdUnitFiles(units: readonly SystemdUnit[]): WriteFile[] {
  return units.map((unit) => ({
    path: `${(unit.directory ?? "/etc/systemd/system").replace(/\/+$/, "")}/${unit.name}`,
    content: renderSystemdUnit(unit),
    permissions: "0644",
    owner: "root:root",
  }));
}

export interface EnableOptions {
  /** Start the units now too (`enable --now`); default true. */
  readonly now?: boolean;
}

/** `runcmd` entries: `systemctl daemon-reload`, then `systemctl enable [--now] <units...>` (argument lists, no shell). */
export function systemdEnableCommands(
  units: readonly (SystemdUnit | string)[],
  options: EnableOptions = {},
): string[][] {
  const names = units.map((u) => (typeof u === "string" ? u : u.name));
  for (const name of names)
    if (!UNIT_NAME.test(name))
      throw cloudInitError("INVALID_SYSTEMD_UNIT", `Not a unit file name: ${JSON.stringify(name)}`);
  if (names.length === 0) return [["systemctl", "daemon-reload"]];
  return [
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", ...((options.now ?? true) ? ["--now"] : []), ...names],
  ];
}
