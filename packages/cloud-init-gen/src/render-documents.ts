/** The YAML documents of a NoCloud seed: user-data, meta-data, network-config. */
import { type CloudConfig, cloudConfigToDocument } from "./cloud-config.js";
import { cloudInitError } from "./errors-data.js";
import type { NetworkConfigV2 } from "./network-config.js";
import { assertValidCloudConfig } from "./validate-cloud-config.js";
import { formatProblem, joinPath, ProblemCollector } from "./validation-problems.js";
import { toYamlText } from "./yaml-text.js";

export const CLOUD_CONFIG_HEADER = "#cloud-config\n";

/** Validates `config` (throws INVALID_CLOUD_CONFIG with every problem), then renders `#cloud-config` + YAML. */
export function renderUserData(config: CloudConfig): string {
  assertValidCloudConfig(config);
  const doc = cloudConfigToDocument(config);
  return CLOUD_CONFIG_HEADER + (Object.keys(doc).length === 0 ? "{}\n" : toYamlText(doc));
}

export interface MetaData {
  /** Changing it makes cloud-init run its per-instance modules again. */
  readonly instanceId: string;
  readonly localHostname?: string;
  /** Extra keys written as given (for example `public-keys`). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `instance-id` and `local-hostname` as NoCloud's meta-data file. */
export function renderMetaData(metaData: MetaData): string {
  const c = new ProblemCollector();
  if (typeof metaData.instanceId !== "string" || metaData.instanceId.trim() === "")
    c.add("instanceId", "must be a non-empty string");
  else if (/[\r\n]/.test(metaData.instanceId)) c.add("instanceId", "must be one line");
  if (
    metaData.localHostname !== undefined &&
    (typeof metaData.localHostname !== "string" || !HOSTNAME.test(metaData.localHostname))
  )
    c.add("localHostname", `must be a host name like web-1, got ${JSON.stringify(metaData.localHostname)}`);
  for (const key of Object.keys(metaData.extra ?? {}))
    if (key === "instance-id" || key === "local-hostname")
      c.add(joinPath("extra", key), "repeats a typed field; use instanceId or localHostname");
  const result = c.result();
  if (!result.ok)
    throw cloudInitError("INVALID_META_DATA", `meta-data: ${result.problems.map(formatProblem).join("; ")}`, {
      details: { problems: result.problems },
    });
  return toYamlText({
    "instance-id": metaData.instanceId,
    ...(metaData.localHostname === undefined ? {} : { "local-hostname": metaData.localHostname }),
    ...metaData.extra,
  });
}

/** Renders a version 2 network-config (top-level `version: 2`, as NoCloud reads it). */
export function renderNetworkConfig(config: NetworkConfigV2): string {
  const c = new ProblemCollector();
  if (config.version !== 2) c.add("version", `must be 2, got ${JSON.stringify(config.version)}`);
  for (const [name, eth] of Object.entries(config.ethernets ?? {})) {
    const p = joinPath("ethernets", name);
    if (eth.match === undefined && !/^[A-Za-z0-9._-]{1,15}$/.test(name))
      c.add(p, "without match, the key must be an interface name of at most 15 characters");
    if (eth.match !== undefined && Object.values(eth.match).every((v) => v === undefined))
      c.add(joinPath(p, "match"), "must set name, macaddress or driver");
    if (eth["set-name"] !== undefined && eth.match === undefined) c.add(joinPath(p, "set-name"), "requires match");
    eth.addresses?.forEach((a, i) => {
      if (!/^[0-9a-fA-F:.]+\/[0-9]{1,3}$/.test(a))
        c.add(
          joinPath(joinPath(p, "addresses"), i),
          `must be an address in CIDR form like 10.0.2.15/24, got ${JSON.stringify(a)}`,
        );
    });
    if (eth.mtu !== undefined && (!Number.isInteger(eth.mtu) || eth.mtu < 68))
      c.add(joinPath(p, "mtu"), `must be an integer >= 68, got ${eth.mtu}`);
  }
  const result = c.result();
  if (!result.ok)
    throw cloudInitError("INVALID_NETWORK_CONFIG", `network-config: ${result.problems.map(formatProblem).join("; ")}`, {
      details: { problems: result.problems },
    });
  return toYamlText(config);
}
