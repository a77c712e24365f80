/**
 * Where `pull` reads releases from, and what each request needs (pure).
 *
 * Layouts:
 * - GitHub (default; repo from `HEXCLAVE_EMULATOR_RELEASES=owner/name`):
 *   `https://github.com/<repo>/releases/download/emulator-channels/emulator-<channel>.json`
 *   and `https://github.com/<repo>/releases/download/<version>/<file>`.
 * - A mirror (`--from URL|DIR`, or `HEXCLAVE_EMULATOR_RELEASES=<http(s) URL>`):
 *   `<from>/emulator-<channel>.json` and `<from>/<version>/<file>` (each
 *   `<version>/` holds a release's files and its `SHA256SUMS`). A mirror
 *   without a pointer may hold one release flat: `<from>/SHA256SUMS` and
 *   `<from>/<file>` (a directory of downloaded release assets).
 */
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CHANNELS_RELEASE_TAG,
  type Channel,
  channelPointerFileName,
  SHA256SUMS_FILE,
} from "@hexclave/image-builder/release";
import { emulatorErrors } from "../errors-data.js";

export const RELEASES_ENV = "HEXCLAVE_EMULATOR_RELEASES";
export const CA_BUNDLE_ENV = "HEXCLAVE_CA_BUNDLE";
export const GITHUB_TOKEN_ENV = "GITHUB_TOKEN";
/** The repository whose releases `pull` reads by default. */
export const DEFAULT_RELEASES_REPO = "hexclave/hexclave";

export interface PullSource {
  readonly kind: "github" | "url" | "directory";
  /** Base URL (no trailing slash) or absolute directory. */
  readonly root: string;
  /** What is shown and recorded in the manifest's `source.url`. */
  readonly display: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

function sourceInvalid(message: string): never {
  throw emulatorErrors.create("PULL_SOURCE_INVALID", message, { details: { message } });
}

/** The flag that lets `pull` read a plain http:// mirror. */
export const ALLOW_INSECURE_HTTP_FLAG = "--allow-insecure-http";

/**
 * Refuses a plain http:// location unless `allowInsecureHttp`: anyone on the
 * path could change what it serves (pointers, manifests and checksums alike).
 */
export function assertSecureLocation(location: string, what: string, allowInsecureHttp: boolean | undefined): void {
  if (allowInsecureHttp === true || !/^http:\/\//i.test(location)) return;
  throw emulatorErrors.create(
    "PULL_SOURCE_INVALID",
    `${what} ${location} is plain http://: anyone on the network path could change the release it serves`,
    {
      hint: `Use an https:// mirror or a local directory, or pass ${ALLOW_INSECURE_HTTP_FLAG} to accept plain http on purpose (for example a mirror on this machine).`,
      details: { location },
    },
  );
}

function httpSource(value: string, what: string, allowInsecureHttp: boolean | undefined): PullSource {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return sourceInvalid(`${what} ${JSON.stringify(value)} is not a valid URL`);
  }
  assertSecureLocation(url.href, what, allowInsecureHttp);
  const root = url.href.replace(/\/+$/, "");
  return { kind: "url", root, display: root };
}

/** The source for `--from` (URL or directory), else `HEXCLAVE_EMULATOR_RELEASES`, else GitHub's default repo. Pure. */
export function resolvePullSource(options: {
  from?: string | undefined;
  env?: Env;
  cwd?: string;
  /** Accept a plain http:// mirror ({@link ALLOW_INSECURE_HTTP_FLAG}). */
  allowInsecureHttp?: boolean | undefined;
}): PullSource {
  const { from, allowInsecureHttp } = options;
  if (from !== undefined) {
    if (from.trim() === "") sourceInvalid("--from is empty");
    if (/^https?:\/\//i.test(from)) return httpSource(from, "--from", allowInsecureHttp);
    if (/^file:\/\//i.test(from)) {
      const dir = fileURLToPath(from);
      return { kind: "directory", root: dir, display: dir };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(from))
      sourceInvalid(`--from ${from}: only http(s):// URLs and local directories are supported`);
    const dir = isAbsolute(from) ? from : resolve(options.cwd ?? process.cwd(), from);
    return { kind: "directory", root: dir, display: dir };
  }
  const configured = options.env?.[RELEASES_ENV]?.trim();
  if (configured !== undefined && configured !== "") {
    if (/^https?:\/\//i.test(configured)) return httpSource(configured, RELEASES_ENV, allowInsecureHttp);
    if (!REPO.test(configured))
      sourceInvalid(`${RELEASES_ENV}=${configured} is neither owner/name nor an http(s):// URL`);
    return githubSource(configured);
  }
  return githubSource(DEFAULT_RELEASES_REPO);
}

function githubSource(repo: string): PullSource {
  return {
    kind: "github",
    root: `https://github.com/${repo}/releases/download`,
    display: `https://github.com/${repo}/releases`,
  };
}

/** A location under the source: URL (segments encoded) or path. Pure. */
export function sourceLocation(source: PullSource, ...segments: string[]): string {
  if (source.kind === "directory") return join(source.root, ...segments);
  return [source.root, ...segments.map(encodeURIComponent)].join("/");
}

/** Where the channel pointer lives. Pure. */
export function pointerLocation(source: PullSource, channel: Channel): string {
  return source.kind === "github"
    ? sourceLocation(source, CHANNELS_RELEASE_TAG, channelPointerFileName(channel))
    : sourceLocation(source, channelPointerFileName(channel));
}

/** Where a release's file lives (`version` undefined: a flat mirror). Pure. */
export function releaseFileLocation(source: PullSource, version: string | undefined, name: string): string {
  return version === undefined ? sourceLocation(source, name) : sourceLocation(source, version, name);
}

/** Where a release's SHA256SUMS lives. Pure. */
export function sumsLocation(source: PullSource, version: string | undefined): string {
  return releaseFileLocation(source, version, SHA256SUMS_FILE);
}

/** True for hosts that may receive a GitHub token (github.com and its subdomains). */
export function isGithubHost(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return protocol === "https:" && (hostname === "github.com" || hostname.endsWith(".github.com"));
  } catch {
    return false;
  }
}

/** `authorization: Bearer <token>` for GitHub hosts when a token is given; nothing for any other host. Pure. */
export function authHeadersFor(url: string, token: string | undefined): Record<string, string> {
  return token !== undefined && token !== "" && isGithubHost(url) ? { authorization: `Bearer ${token}` } : {};
}
