/**
 * The four files of a NoCloud seed, ready for an ISO (volume id `cidata`)
 * or a NoCloud HTTP server. All four are always present: without
 * `vendor-data` and `network-config` cloud-init retries 404s for about 20 s.
 */
import type { CloudConfig } from "./cloud-config.js";
import { cloudInitError } from "./errors-data.js";
import { dhcpNetworkConfig, type NetworkConfigV2 } from "./network-config.js";
import { type MetaData, renderMetaData, renderNetworkConfig, renderUserData } from "./render-documents.js";

export interface SeedInput {
  /** A typed cloud-config, or an already rendered document (`#cloud-config`, `#!`, MIME multi-part, ...). */
  readonly userData: CloudConfig | string;
  readonly metaData: MetaData | string;
  /** Default: DHCP on the first ethernet NIC, matched by name ({@link dhcpNetworkConfig}). */
  readonly networkConfig?: NetworkConfigV2 | string;
  /** Default: an empty cloud-config (`#cloud-config\n{}`). */
  readonly vendorData?: CloudConfig | string;
}

export interface SeedFiles {
  readonly "user-data": string;
  readonly "meta-data": string;
  readonly "network-config": string;
  readonly "vendor-data": string;
}

/** The header lines cloud-init recognises as the start of a user-data or vendor-data document. */
const USER_DATA_HEADERS = [
  "#cloud-config",
  "#!",
  "#cloud-boothook",
  "#include",
  "#cloud-config-archive",
  "#part-handler",
  "## template: jinja",
  "Content-Type: multipart/",
];

function renderedOrTyped(name: string, value: CloudConfig | string): string {
  if (typeof value !== "string") return renderUserData(value);
  if (!USER_DATA_HEADERS.some((h) => value.startsWith(h)))
    throw cloudInitError(
      "INVALID_SEED_DOCUMENT",
      `${name} does not start with a cloud-init header: ${JSON.stringify(value.slice(0, 40))}`,
    );
  return value;
}

/** Renders every seed file; typed inputs are validated first (every problem reported with its path). */
export function seedFiles(input: SeedInput): SeedFiles {
  return {
    "user-data": renderedOrTyped("user-data", input.userData),
    "meta-data": typeof input.metaData === "string" ? input.metaData : renderMetaData(input.metaData),
    "network-config":
      typeof input.networkConfig === "string"
        ? input.networkConfig
        : renderNetworkConfig(input.networkConfig ?? dhcpNetworkConfig()),
    "vendor-data":
      input.vendorData === undefined ? "#cloud-config\n{}\n" : renderedOrTyped("vendor-data", input.vendorData),
  };
}
