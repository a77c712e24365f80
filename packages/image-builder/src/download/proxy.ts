/**
 * Proxy and CA settings for downloads: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`
 * (either case) choose a proxy per URL; a CA file extends Node's trusted roots
 * (`NODE_EXTRA_CA_CERTS` works too, natively).
 */
import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import { HttpProxyAgent, HttpsProxyAgent } from "hpagent";

type Env = Readonly<Record<string, string | undefined>>;

function envValue(env: Env, name: string): string | undefined {
  const value = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function defaultPort(protocol: string): string {
  return protocol === "https:" ? "443" : "80";
}

/** True when `NO_PROXY` (comma or space separated: `*`, hosts, `.domain`, `host:port`) covers the URL. */
export function isNoProxy(url: URL, noProxy: string | undefined): boolean {
  if (noProxy === undefined) return false;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port === "" ? defaultPort(url.protocol) : url.port;
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") return true;
    let entryHost = entry;
    let entryPort: string | undefined;
    const portMatch = /^(.*?):(\d+)$/.exec(entry);
    if (portMatch !== null && !entry.includes("::")) {
      entryHost = portMatch[1] ?? entry;
      entryPort = portMatch[2];
    }
    entryHost = entryHost.replace(/^\[|\]$/g, "").replace(/^\*\./, ".");
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entryHost.startsWith(".")) {
      if (host.endsWith(entryHost) || host === entryHost.slice(1)) return true;
    } else if (host === entryHost || host.endsWith(`.${entryHost}`)) {
      return true;
    }
  }
  return false;
}

/** The proxy URL for a request to `url` under `env`, or undefined for a direct connection. */
export function proxyForUrl(url: string | URL, env: Env = process.env): string | undefined {
  const target = typeof url === "string" ? new URL(url) : url;
  if (isNoProxy(target, envValue(env, "no_proxy"))) return undefined;
  if (target.protocol === "https:") return envValue(env, "https_proxy") ?? envValue(env, "all_proxy");
  if (target.protocol === "http:") return envValue(env, "http_proxy") ?? envValue(env, "all_proxy");
  return undefined;
}

export interface TransportOptions {
  /** A proxy URL, `false` for none, or undefined to read the environment. */
  readonly proxy?: string | false | undefined;
  readonly env?: Env | undefined;
  /** A PEM bundle added to Node's trusted roots. */
  readonly caFile?: string | undefined;
}

export interface GotTransport {
  readonly agent?: { http?: HttpProxyAgent; https?: HttpsProxyAgent };
  readonly https?: { certificateAuthority: string[] };
}

/** got options (agent, CA) for one URL. */
export async function transportFor(url: string, options: TransportOptions = {}): Promise<GotTransport> {
  const proxy = options.proxy === false ? undefined : (options.proxy ?? proxyForUrl(url, options.env ?? process.env));
  const ca = options.caFile === undefined ? undefined : [...rootCertificates, await readFile(options.caFile, "utf8")];
  const agentOptions = { keepAlive: false, proxy: proxy ?? "", ...(ca === undefined ? {} : { ca }) };
  const agent =
    proxy === undefined
      ? undefined
      : new URL(url).protocol === "https:"
        ? { https: new HttpsProxyAgent(agentOptions) }
        : { http: new HttpProxyAgent(agentOptions) };
  return {
    ...(agent === undefined ? {} : { agent }),
    ...(ca === undefined ? {} : { https: { certificateAuthority: ca } }),
  };
}
