/** Netplan-style network configuration, version 2, as cloud-init's NoCloud `network-config` file reads it. */

export interface NetworkMatch {
  /** Interface name glob, such as `"en*"`. */
  readonly name?: string;
  readonly macaddress?: string;
  readonly driver?: string;
}

export interface NetworkRoute {
  readonly to: string;
  readonly via: string;
  readonly metric?: number;
}

export interface NetworkNameservers {
  readonly addresses?: readonly string[];
  readonly search?: readonly string[];
}

export interface EthernetConfig {
  readonly match?: NetworkMatch;
  readonly "set-name"?: string;
  readonly dhcp4?: boolean;
  readonly dhcp6?: boolean;
  /** CIDR addresses such as `"10.0.2.15/24"`. */
  readonly addresses?: readonly string[];
  readonly routes?: readonly NetworkRoute[];
  readonly nameservers?: NetworkNameservers;
  readonly mtu?: number;
  /** Do not wait for this interface at boot. */
  readonly optional?: boolean;
}

export interface NetworkConfigV2 {
  readonly version: 2;
  /** Keyed by a name of your choice (the interface name unless `match` is given). */
  readonly ethernets?: Readonly<Record<string, EthernetConfig>>;
}

/** DHCP (IPv4) on the ethernet NIC(s) whose name starts with `e` (`eth0`, `ens3`, `enp0s2`), matched by name. */
export function dhcpNetworkConfig(options: { readonly interfaceNameGlob?: string } = {}): NetworkConfigV2 {
  return {
    version: 2,
    ethernets: { primary: { match: { name: options.interfaceNameGlob ?? "e*" }, dhcp4: true } },
  };
}
