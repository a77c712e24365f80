/**
 * The `cloud` base image: Debian 13's published cloud qcow2 for an arch,
 * verified against the mirror's SHA512SUMS and cached by checksum:
 * `<cacheDir>/base/<sha512>.qcow2` plus `<sha512>.qcow2.json` recording what
 * was verified. A cached file is used only when its record names the same
 * digest and size.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Arch } from "@hexclave/qemu-core";
import got from "got";
import { parseChecksumFile } from "../download/checksum-file.js";
import { type DownloadVerifiedOptions, downloadVerified } from "../download/download-verified.js";
import type { DownloadEvent } from "../download/events.js";
import { type TransportOptions, transportFor } from "../download/proxy.js";
import { imageBuilderErrors } from "../errors-data.js";

/** Debian's cloud image host for trixie (Debian 13), latest build. */
export const DEFAULT_CLOUD_MIRROR = "https://cloud.debian.org/images/cloud/trixie/latest/";

export type CloudVariant = "generic" | "genericcloud" | "nocloud";

/** `debian-13-<variant>-<arch>.qcow2`, the name Debian publishes. */
export function cloudImageFileName(variant: CloudVariant, arch: Arch): string {
  return `debian-13-${variant}-${arch}.qcow2`;
}

/** `mirrorUrl` with exactly one trailing slash, so relative names resolve inside it. */
export function normaliseMirrorUrl(mirrorUrl: string): string {
  return mirrorUrl.endsWith("/") ? mirrorUrl : `${mirrorUrl}/`;
}

export interface CloudBaseImageOptions
  extends TransportOptions,
    Pick<DownloadVerifiedOptions, "retries" | "backoff" | "timeouts" | "checkFreeSpace" | "maxBytes" | "headers"> {
  readonly arch: Arch;
  /** Default {@link DEFAULT_CLOUD_MIRROR}. */
  readonly mirrorUrl?: string | undefined;
  /** Default `generic` (the one with a full kernel, for any hypervisor). */
  readonly variant?: CloudVariant | undefined;
  /** The image-builder cache; files go to `<cacheDir>/base/`. */
  readonly cacheDir: string;
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: ((event: CloudBaseImageEvent) => void) | undefined;
}

export type CloudBaseImageEvent =
  | DownloadEvent
  | { readonly type: "base-checksums"; readonly url: string; readonly fileName: string; readonly sha512: string }
  | { readonly type: "base-cached"; readonly path: string; readonly sha512: string };

export interface CloudBaseImage {
  readonly path: string;
  readonly sha512: string;
  readonly url: string;
  readonly fromCache: boolean;
}

/** The record beside a cached image. */
export interface CachedBaseRecord {
  readonly version: 1;
  readonly sha512: string;
  readonly size: number;
  readonly url: string;
  readonly fileName: string;
  readonly verifiedAt: string;
}

async function readRecord(path: string): Promise<CachedBaseRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as CachedBaseRecord;
  } catch {
    return undefined;
  }
}

async function cachedFileMatches(path: string, record: CachedBaseRecord | undefined, sha512: string): Promise<boolean> {
  if (record === undefined || record.version !== 1 || record.sha512 !== sha512) return false;
  try {
    return (await stat(path)).size === record.size;
  } catch {
    return false;
  }
}

/** Fetches and parses `<mirror>/SHA512SUMS`. */
export async function fetchSha512Sums(
  mirrorUrl: string,
  options: TransportOptions & {
    signal?: AbortSignal | undefined;
    retries?: number | undefined;
    timeoutMs?: number | undefined;
    headers?: Readonly<Record<string, string>> | undefined;
  } = {},
): Promise<{ url: string; sums: Map<string, string> }> {
  const url = new URL("SHA512SUMS", normaliseMirrorUrl(mirrorUrl)).href;
  let text: string;
  try {
    text = await got(url, {
      ...(await transportFor(url, options)),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      timeout: { request: options.timeoutMs ?? 30_000 },
      retry: { limit: options.retries ?? 3, backoffLimit: 5_000 },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }).text();
  } catch (error) {
    if (options.signal?.aborted) {
      throw imageBuilderErrors.create("ABORTED", `Fetching ${url} aborted`, { cause: options.signal.reason });
    }
    const status = (error as { response?: { statusCode?: number } }).response?.statusCode;
    throw imageBuilderErrors.create(
      status === undefined ? "DOWNLOAD_FAILED" : "DOWNLOAD_HTTP_ERROR",
      `Could not fetch ${url}: ${status === undefined ? (error as Error).message : `HTTP ${status}`}`,
      { cause: error, details: { url, status } },
    );
  }
  return { url, sums: parseChecksumFile(text, { algorithm: "sha512", errorCode: "SHA512SUMS_MALFORMED" }) };
}

/** Downloads (or reuses from the cache) the verified Debian 13 cloud image for `arch`. */
export async function fetchCloudBaseImage(options: CloudBaseImageOptions): Promise<CloudBaseImage> {
  const mirrorUrl = normaliseMirrorUrl(options.mirrorUrl ?? DEFAULT_CLOUD_MIRROR);
  const fileName = cloudImageFileName(options.variant ?? "generic", options.arch);
  const { sums, url: sumsUrl } = await fetchSha512Sums(mirrorUrl, {
    ...options,
    timeoutMs: options.timeouts?.responseMs,
  });
  const sha512 = sums.get(fileName);
  if (sha512 === undefined) {
    throw imageBuilderErrors.create(
      "CLOUD_IMAGE_NOT_LISTED",
      `${sumsUrl} does not list ${fileName} (it lists ${sums.size} file(s))`,
      { details: { sumsUrl, fileName, listed: [...sums.keys()] } },
    );
  }
  const url = new URL(fileName, mirrorUrl).href;
  options.onEvent?.({ type: "base-checksums", url: sumsUrl, fileName, sha512 });

  const dir = join(options.cacheDir, "base");
  const path = join(dir, `${sha512}.qcow2`);
  const recordPath = `${path}.json`;
  if (await cachedFileMatches(path, await readRecord(recordPath), sha512)) {
    options.onEvent?.({ type: "base-cached", path, sha512 });
    return { path, sha512, url, fromCache: true };
  }
  await mkdir(dir, { recursive: true });
  const result = await downloadVerified({
    ...options,
    url,
    dest: path,
    expectedDigest: { algorithm: "sha512", hex: sha512 },
  });
  const record: CachedBaseRecord = {
    version: 1,
    sha512,
    size: result.size,
    url,
    fileName,
    verifiedAt: new Date().toISOString(),
  };
  const temp = `${recordPath}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(temp, recordPath);
  return { path, sha512, url, fromCache: result.reused };
}

export type CloudHostProbe =
  | { readonly reachable: true; readonly url: string; readonly status: number; readonly elapsedMs: number }
  | { readonly reachable: false; readonly url: string; readonly reason: string; readonly elapsedMs: number };

/**
 * Whether the cloud image host answers (a HEAD of its SHA512SUMS within
 * `timeoutMs`, default 5 s). Never throws; the reason says why not.
 */
export async function probeCloudHost(
  mirrorUrl: string = DEFAULT_CLOUD_MIRROR,
  options: TransportOptions & { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<CloudHostProbe> {
  const url = new URL("SHA512SUMS", normaliseMirrorUrl(mirrorUrl)).href;
  const started = Date.now();
  try {
    const response = await got(url, {
      method: "HEAD",
      ...(await transportFor(url, options)),
      timeout: { request: options.timeoutMs ?? 5_000 },
      retry: { limit: 0 },
      throwHttpErrors: false,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const elapsedMs = Date.now() - started;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      return { reachable: true, url, status: response.statusCode, elapsedMs };
    }
    return { reachable: false, url, reason: `HEAD ${url} answered HTTP ${response.statusCode}`, elapsedMs };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return {
      reachable: false,
      url,
      reason: `${url} did not answer: ${e.code ?? ""}${e.code !== undefined ? " " : ""}${e.message ?? String(error)}`,
      elapsedMs: Date.now() - started,
    };
  }
}
