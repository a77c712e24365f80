/**
 * The host side of the file bridge: an HTTP server on 127.0.0.1 that serves
 * reads and writes of files under one directory and nothing else.
 *
 * Protocol (every request carries `Authorization: Bearer <token>`, else 401):
 *
 *   GET    /v1/files/<path>   the file's bytes (404 when missing)
 *   HEAD   /v1/files/<path>   its headers (Content-Length, Last-Modified)
 *   PUT    /v1/files/<path>   replace or create it atomically (parents created); 201 created, 200 replaced
 *   DELETE /v1/files/<path>   remove it (204); files and symlinks only
 *                             (PUT and DELETE only where `writable` grants it, never on a protected path:
 *                             see write-scope.ts; a written file is 0644, or the old mode without x/s bits)
 *   GET    /v1/list/[<dir>]   JSON `{ path, entries: [{ name, type, size, mtimeMs }] }`
 *   GET|HEAD|PUT /v1/config   the `--config-file` session's current bytes (404 without a session);
 *                             GET and HEAD name the host file in `X-Hexclave-Config-Path` (its real path)
 *
 * Refusals: 400 malformed path (bad percent-encoding, NUL or control
 * characters, backslash, empty segment); 403 outside the root (`..`, absolute
 * path, symlink escaping the root, dangling symlink); 405 other methods (with
 * `Allow`); 409 a directory where a file is expected or the reverse; 413 body
 * over `maxBodyBytes` (nothing written); 403 `read-only` / `protected-path`
 * for a write outside the grants; 503 `busy` past {@link MAX_REQUESTS_QUEUED} waiting requests.
 *
 * Memory: bodies are streamed to a temp file, never held whole (only
 * `/v1/config` bodies, up to the config limit, 1 MiB, are buffered), and at
 * most {@link MAX_REQUESTS_IN_FLIGHT} requests are served at once (the next
 * ones wait, unread, for a slot; connections are capped), so the
 * bridge's memory does not grow with the size or number of uploads.
 * Paths are opened through held directory descriptors (held-directory.ts). Error bodies are JSON
 * `{ error: <refusal>, message }`.
 */
import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, readdir, realpath, rename, rm, stat, unlink } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { TEMP_FILE_SUFFIX } from "@hexclave/qemu-core";
import { emulatorErrors } from "../errors-data.js";
import { parseBridgePath } from "./bridge-path.js";
import { bearerMatches, generateBridgeToken, isValidBridgeToken } from "./bridge-token.js";
import type { ConfigFileSession } from "./config-file-session.js";
import { resolveConfined } from "./confined-path.js";
import type { FileBridgeEventListener, FileBridgeRefusal } from "./file-bridge-events.js";
import { type HeldDirectory, holdRoot, openDirectoryUnder, verifyInsideRoot } from "./held-directory.js";
import { decideWrite, describeGrants, grantSegments, guestWriteMode, type WritableGrants } from "./write-scope.js";

/** The only address the bridge listens on. */
export const FILE_BRIDGE_HOST = "127.0.0.1";

/** `FILE_BRIDGE_LISTEN_FAILED` for a socket that could not listen on 127.0.0.1:`port` (0: any free port). */
export function listenFailed(port: number, error: NodeJS.ErrnoException) {
  return emulatorErrors.create(
    "FILE_BRIDGE_LISTEN_FAILED",
    `The file bridge could not listen on ${FILE_BRIDGE_HOST}:${port}: ${error.code ?? error.message}`,
    { cause: error, details: { host: FILE_BRIDGE_HOST, port } },
  );
}
/** Largest declared body of a refused (413) request that is read and discarded rather than cut off. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** Default bound on a request body: 10 MiB. */
export const DEFAULT_FILE_BRIDGE_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Requests served at once; the next ones wait for a slot without their bodies being read. */
export const MAX_REQUESTS_IN_FLIGHT = 16;
/** Authorised requests waiting for a slot; more get 503 `busy` (with their connection closed). */
export const MAX_REQUESTS_QUEUED = 32;
/** Open connections at once; Node drops more as they arrive. */
export const MAX_CONNECTIONS = 64;
/** The `/v1/config` header naming the host file's real path (the guest mirrors the file there). */
export const CONFIG_PATH_HEADER = "x-hexclave-config-path";

export interface FileBridgeOptions {
  /** The one directory served (the user's project, `--project-dir`). Must exist. */
  readonly root: string;
  /** Only `127.0.0.1` is accepted. */
  readonly host?: typeof FILE_BRIDGE_HOST;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /**
   * A listening socket bound to 127.0.0.1, inherited as this file descriptor from the process that bound it
   * (`bridge-process.ts`): the bridge serves on it instead of binding `port`.
   */
  readonly listenFd?: number;
  readonly maxBodyBytes?: number;
  /** Default: 32 random bytes, hex, new on every start. */
  readonly token?: string;
  /**
   * What the guest may write under `root` (`--bridge-writable`): paths relative to `root` (or absolute inside it),
   * `.` for all of it. Default none: the project is read-only and only `/v1/config` takes writes. Protected paths
   * (write-scope.ts) stay read-only whatever is granted.
   */
  readonly writable?: readonly string[];
  /** Serve `/v1/config` from this `--config-file` session. */
  readonly configFile?: ConfigFileSession;
  /** Aborting closes the bridge. */
  readonly signal?: AbortSignal;
  readonly onEvent?: FileBridgeEventListener;
}

export interface FileBridge {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** The real path of the root. */
  readonly root: string;
  readonly maxBodyBytes: number;
  /** The writable grants, relative to `root` (`.` for all of it); empty when the project is read-only. */
  readonly writable: readonly string[];
  /** Stops listening, drops connections and waits for requests in flight: no write happens after it resolves. Idempotent. */
  close(): Promise<void>;
}

const FILES_PREFIX = "/v1/files/";
const LIST_PREFIX = "/v1/list";
const CONFIG_PATH = "/v1/config";

/** A refusal with its status, thrown inside a handler and turned into the JSON answer. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly refusal: FileBridgeRefusal,
    message: string,
    /** The `Allow` header of a 405. */
    readonly allow?: string,
  ) {
    super(message);
  }
}

function validate(options: FileBridgeOptions): { port: number; maxBodyBytes: number; token: string } {
  const invalid = (message: string, details: Record<string, unknown>) =>
    emulatorErrors.create("FILE_BRIDGE_OPTION_INVALID", message, { details });
  if (options.host !== undefined && options.host !== FILE_BRIDGE_HOST) {
    throw invalid(`The file bridge listens on ${FILE_BRIDGE_HOST} only, not ${String(options.host)}`, {
      host: options.host,
    });
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(`Invalid file bridge port ${String(port)}: expected an integer from 0 to 65535`, { port });
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_FILE_BRIDGE_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw invalid(`Invalid maxBodyBytes ${String(maxBodyBytes)}: expected a positive integer`, { maxBodyBytes });
  }
  const token = options.token ?? generateBridgeToken();
  if (!isValidBridgeToken(token)) {
    throw invalid("Invalid file bridge token: expected 32 to 512 characters of A-Z a-z 0-9 . _ ~ + / = -", {});
  }
  return { port, maxBodyBytes, token };
}

async function realRootOf(root: string): Promise<string> {
  let real: string;
  let info: Stats;
  try {
    real = await realpath(root);
    info = await stat(real);
  } catch (error) {
    throw emulatorErrors.create("FILE_BRIDGE_ROOT_INVALID", `The project directory ${root} does not exist`, {
      cause: error,
      details: { root },
    });
  }
  if (!info.isDirectory()) {
    throw emulatorErrors.create("FILE_BRIDGE_ROOT_INVALID", `The project directory ${root} is not a directory`, {
      details: { root },
    });
  }
  return real;
}

/** Resolves `--bridge-writable` values against the real root (a symlinked grant counts where it leads). */
async function resolveGrants(root: string, given: readonly string[]): Promise<WritableGrants> {
  const grants: (readonly string[])[] = [];
  for (const value of given) {
    const absolute = resolve(root, value);
    // The real path of its deepest existing part, the rest appended (a grant may name a file not yet made).
    let existing = absolute;
    const rest: string[] = [];
    let real = absolute;
    for (;;) {
      const resolved = await realpath(existing).catch(() => undefined);
      if (resolved !== undefined) {
        real = join(resolved, ...rest);
        break;
      }
      const parent = dirname(existing);
      if (parent === existing) break;
      rest.unshift(basename(existing));
      existing = parent;
    }
    const parsed = grantSegments(root, real, value);
    if (!parsed.ok) {
      throw emulatorErrors.create("FILE_BRIDGE_OPTION_INVALID", parsed.message, {
        details: { writable: value, root },
      });
    }
    grants.push(parsed.segments);
  }
  return grants;
}

/** Maps a file system error to a refusal, or returns undefined for a real failure (500). */
function refusalForErrno(error: unknown): Refusal | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return new Refusal(404, "not-found", "No such file");
    case "EACCES":
    case "EPERM":
      return new Refusal(403, "permission-denied", "Permission denied on the host");
    case "ELOOP":
      return new Refusal(403, "symlink-escape", "A symlink was found where none is allowed");
    case "EISDIR":
      return new Refusal(409, "is-directory", "The path is a directory");
    case "ENOTDIR":
    case "EEXIST":
      return new Refusal(409, "not-a-directory", "A parent of the path is not a directory");
    case "ENAMETOOLONG":
      return new Refusal(400, "too-long", "The path is too long");
    case "ENOSPC":
    case "EDQUOT":
      return new Refusal(507, "no-space", "No space left on the host");
    default:
      return undefined;
  }
}

function refuseDeclaredTooLarge(req: IncomingMessage, max: number): void {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) {
    throw new Refusal(413, "too-large", `The body (${declared} bytes) is over the limit of ${max} bytes`);
  }
}

/** Reads the whole body, or throws a 413 refusal as soon as it passes `max` bytes (nothing is written). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  refuseDeclaredTooLarge(req, max);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    total += (chunk as Buffer).length;
    if (total > max) throw new Refusal(413, "too-large", `The body is over the limit of ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** Streams the body into an open file, or throws a 413 refusal as soon as it passes `max` bytes. */
async function streamBody(req: IncomingMessage, file: FileHandle, max: number): Promise<number> {
  refuseDeclaredTooLarge(req, max);
  let total = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    total += (chunk as Buffer).length;
    if (total > max) throw new Refusal(413, "too-large", `The body is over the limit of ${max} bytes`);
    await file.write(chunk as Buffer);
  }
  return total;
}

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...extraHeaders,
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

function methodNotAllowed(allowed: readonly string[]): Refusal {
  return new Refusal(405, "method-not-allowed", `Method not allowed; use ${allowed.join(", ")}`, allowed.join(", "));
}

export async function startFileBridge(options: FileBridgeOptions): Promise<FileBridge> {
  const { port: requestedPort, maxBodyBytes, token } = validate(options);
  const { signal, onEvent, configFile } = options;
  if (signal?.aborted) throw emulatorErrors.create("ABORTED", "Starting the file bridge was aborted");
  const root = await realRootOf(options.root);
  const grants = await resolveGrants(root, options.writable ?? []);
  const rootDir = await holdRoot(root);
  const inflight = new Set<Promise<void>>();

  const confine = async (segments: readonly string[]) => {
    const resolved = await resolveConfined(root, segments);
    if (resolved.kind === "escape") {
      throw new Refusal(403, resolved.reason, "The path leads outside the project directory through a symlink");
    }
    return resolved;
  };

  /** The canonical path's segments below the root (no symlink in them when they were resolved). */
  const below = (canonical: string): string[] => {
    const rel = relative(root, canonical);
    return rel === "" ? [] : rel.split(sep);
  };

  const parse = (encoded: string, allowRoot = false) => {
    const parsed = parseBridgePath(encoded, { allowRoot });
    if (!parsed.ok) {
      const message = parsed.status === 403 ? "The path leads outside the project directory" : "The path is malformed";
      throw new Refusal(parsed.status, parsed.reason, message);
    }
    return parsed.segments;
  };

  const mayWrite = (segments: readonly string[]) => {
    const decision = decideWrite(grants, segments);
    if (decision.allowed) return;
    throw decision.reason === "protected-path"
      ? new Refusal(403, "protected-path", "Version-control metadata, hooks and tool directories are never writable")
      : new Refusal(
          403,
          "read-only",
          "The path is read-only for the emulator; grant it on the host with `stack emulator start --bridge-writable PATH`",
        );
  };

  /** Runs `use` on the held directory of the canonical parent of `segments` (the last segment is the entry's name). */
  const inParent = async <T>(
    canonicalSegments: readonly string[],
    create: boolean,
    use: (dir: HeldDirectory, name: string) => Promise<T>,
  ): Promise<T> => {
    const name = canonicalSegments[canonicalSegments.length - 1];
    if (name === undefined) throw new Refusal(409, "is-directory", "The path is the project directory itself");
    const dir = await openDirectoryUnder(rootDir, canonicalSegments.slice(0, -1), { create });
    try {
      return await use(dir, name);
    } finally {
      await dir.close();
    }
  };

  const sendFile = async (req: IncomingMessage, res: ServerResponse, segments: readonly string[]) => {
    const target = await confine(segments);
    if (!target.exists) throw new Refusal(404, "not-found", "No such file");
    const handle = await inParent(below(target.canonical), false, (dir, name) =>
      open(join(dir.path, name), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | constants.O_NONBLOCK),
    );
    try {
      if (!(await verifyInsideRoot(root, handle, target.canonical))) {
        throw new Refusal(403, "symlink-escape", "The path leads outside the project directory through a symlink");
      }
      const info = await handle.stat();
      if (info.isDirectory()) throw new Refusal(409, "is-directory", "The path is a directory; list it with /v1/list/");
      if (!info.isFile()) throw new Refusal(409, "not-regular-file", "The path is not a regular file");
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": info.size,
        "last-modified": info.mtime.toUTCString(),
        "cache-control": "no-store",
      });
      if (req.method === "HEAD") {
        res.end();
        return 0;
      }
      await pipeline(handle.createReadStream({ autoClose: false }), res);
      return info.size;
    } finally {
      await handle.close();
    }
  };

  const writeFile = async (req: IncomingMessage, res: ServerResponse, segments: readonly string[]) => {
    mayWrite(segments);
    refuseDeclaredTooLarge(req, maxBodyBytes);
    const target = await confine(segments);
    const canonical = below(target.canonical);
    // Again on the canonical path: a symlink inside the project must not lead a write into a protected path.
    mayWrite(canonical);
    return inParent(canonical, true, async (dir, name) => {
      const entry = join(dir.path, name);
      const existing = await lstat(entry).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      });
      if (existing?.isDirectory()) throw new Refusal(409, "is-directory", "The path is a directory");
      if (existing?.isSymbolicLink()) {
        throw new Refusal(403, "symlink-escape", "The path became a symlink while the request ran");
      }
      if (existing !== undefined && !existing.isFile()) {
        throw new Refusal(409, "not-regular-file", "The path is not a regular file");
      }
      const temp = join(dir.path, `.${name}.${randomBytes(6).toString("hex")}${TEMP_FILE_SUFFIX}`);
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
      const file = await open(temp, flags, 0o600);
      let bytes: number;
      try {
        try {
          // Without held descriptors (macOS): the temp file must really be inside the root before it gets a byte.
          if (!(await verifyInsideRoot(root, file, temp))) {
            throw new Refusal(403, "symlink-escape", "The path leads outside the project directory through a symlink");
          }
          bytes = await streamBody(req, file, maxBodyBytes);
          await file.chmod(guestWriteMode(existing === undefined ? undefined : existing.mode & 0o7777));
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(temp, entry);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      sendJson(res, existing === undefined ? 201 : 200, { path: segments.join("/"), bytes });
      return bytes;
    });
  };

  const deleteFile = async (res: ServerResponse, segments: readonly string[]) => {
    mayWrite(segments);
    const parent = await confine(segments.slice(0, -1));
    if (!parent.exists) throw new Refusal(404, "not-found", "No such file");
    const canonical = [...below(parent.canonical), segments[segments.length - 1] as string];
    mayWrite(canonical);
    await inParent(canonical, false, async (dir, name) => {
      const entry = join(dir.path, name);
      const info = await lstat(entry);
      if (info.isSymbolicLink()) await confine(segments);
      else if (info.isDirectory())
        throw new Refusal(409, "is-directory", "The path is a directory; only files are deleted");
      await unlink(entry);
    });
    res.writeHead(204, { "cache-control": "no-store" });
    res.end();
    return 0;
  };

  const listDir = async (res: ServerResponse, segments: readonly string[]) => {
    const target = await confine(segments);
    if (!target.exists) throw new Refusal(404, "not-found", "No such directory");
    if (!(await stat(target.canonical)).isDirectory()) {
      throw new Refusal(409, "not-a-directory", "The path is a file; read it with /v1/files/");
    }
    const dir = await openDirectoryUnder(rootDir, below(target.canonical));
    const entries = [];
    try {
      const dirents = await readdir(dir.path, { withFileTypes: true });
      for (const d of dirents) {
        if (d.name.startsWith(".") && d.name.endsWith(TEMP_FILE_SUFFIX)) continue;
        const info = await lstat(join(dir.path, d.name)).catch(() => undefined);
        if (info === undefined) continue;
        const type = info.isFile()
          ? "file"
          : info.isDirectory()
            ? "directory"
            : info.isSymbolicLink()
              ? "symlink"
              : "other";
        entries.push({ name: d.name, type, size: info.size, mtimeMs: info.mtimeMs });
      }
    } finally {
      await dir.close();
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    sendJson(res, 200, { path: segments.join("/"), entries });
    return 0;
  };

  const serveConfig = async (req: IncomingMessage, res: ServerResponse) => {
    if (configFile === undefined) throw new Refusal(404, "not-found", "No --config-file was given to this emulator");
    if (req.method === "PUT") {
      const body = await readBody(req, Math.min(maxBodyBytes, configFile.maxBytes));
      configFile.receiveFromGuest(body);
      res.writeHead(204, { "cache-control": "no-store" });
      res.end();
      return body.length;
    }
    if (req.method !== "GET" && req.method !== "HEAD") throw methodNotAllowed(["GET", "HEAD", "PUT"]);
    const content = configFile.guestContent();
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": content.length,
      "cache-control": "no-store",
      [CONFIG_PATH_HEADER]: encodeURI(configFile.hostPath),
    });
    res.end(req.method === "HEAD" ? undefined : content);
    return req.method === "HEAD" ? 0 : content.length;
  };

  /** Routes one authorised request; returns the body bytes moved. */
  const route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<number> => {
    const method = req.method ?? "";
    if (path.startsWith(FILES_PREFIX)) {
      const segments = parse(path.slice(FILES_PREFIX.length));
      switch (method) {
        case "GET":
        case "HEAD":
          return sendFile(req, res, segments);
        case "PUT":
          return writeFile(req, res, segments);
        case "DELETE":
          return deleteFile(res, segments);
        default:
          throw methodNotAllowed(["GET", "HEAD", "PUT", "DELETE"]);
      }
    }
    if (path === LIST_PREFIX || path.startsWith(`${LIST_PREFIX}/`)) {
      const segments = parse(path.slice(LIST_PREFIX.length + 1), true);
      if (method !== "GET" && method !== "HEAD") throw methodNotAllowed(["GET", "HEAD"]);
      return listDir(res, segments);
    }
    if (path === CONFIG_PATH) return serveConfig(req, res);
    throw new Refusal(404, "not-found", "Unknown endpoint; see /v1/files/, /v1/list/, /v1/config");
  };

  // The in-flight cap: a slot per request served; a released slot passes straight to the first waiter.
  let served = 0;
  let closed = false;
  const waiting: (() => void)[] = [];
  const acquireSlot = async (): Promise<void> => {
    if (served < MAX_REQUESTS_IN_FLIGHT) {
      served++;
      return;
    }
    if (waiting.length >= MAX_REQUESTS_QUEUED) {
      throw new Refusal(
        503,
        "busy",
        `More than ${MAX_REQUESTS_IN_FLIGHT + MAX_REQUESTS_QUEUED} requests at once; retry`,
      );
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const releaseSlot = () => {
    const next = waiting.shift();
    if (next === undefined) served--;
    else next();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const target = req.url ?? "";
    const query = target.search(/[?#]/);
    const path = query === -1 ? target : target.slice(0, query);
    let status = 500;
    let refusal: FileBridgeRefusal | undefined;
    let bytes = 0;
    let slot = false;
    try {
      if (!bearerMatches(req.headers.authorization, token)) {
        throw new Refusal(401, "unauthorized", "Missing or wrong bearer token");
      }
      await acquireSlot();
      slot = true;
      if (closed) throw new Refusal(503, "busy", "The file bridge is closing");
      if (!path.startsWith("/")) throw new Refusal(400, "bad-request", "Expected a path starting with /");
      bytes = await route(req, res, path);
      status = res.statusCode;
    } catch (error) {
      const known = error instanceof Refusal ? error : refusalForErrno(error);
      if (known === undefined) {
        status = 500;
        refusal = "internal-error";
        onEvent?.({ type: "file-bridge-error", method: req.method ?? "", path, message: (error as Error).message });
      } else {
        status = known.status;
        refusal = known.refusal;
      }
      if (!res.headersSent && !res.destroyed) {
        // Close the connection after a refusal: a body the client is still sending is not read. Except a 413 for
        // a declared length up to DRAIN_MAX_BYTES: Node discards that body after the answer and the connection
        // stays open, so a client that sends the whole body before it reads (a proxy such as the guest's) gets
        // the 413 rather than a connection reset.
        const declared = Number(req.headers["content-length"]);
        const drain = status === 413 && Number.isSafeInteger(declared) && declared <= DRAIN_MAX_BYTES;
        const headers: Record<string, string> = drain ? {} : { connection: "close" };
        if (status === 401) headers["www-authenticate"] = 'Bearer realm="hexclave-file-bridge"';
        if (known?.allow !== undefined) headers.allow = known.allow;
        sendJson(
          res,
          status,
          { error: refusal, message: known?.message ?? "Internal error of the file bridge" },
          headers,
        );
      } else {
        res.destroy();
      }
    }
    if (slot) releaseSlot();
    onEvent?.({
      type: "file-bridge-request",
      method: req.method ?? "",
      path,
      status,
      bytes,
      durationMs: Math.round(performance.now() - started),
      ...(refusal === undefined ? {} : { refusal }),
    });
  };

  // Not an ES import of node:http: that would load undici in every command importing the runtime (see qemu-core's
  // readiness.ts, loadHttp).
  const { createServer } = process.getBuiltinModule("node:http");
  const server: Server = createServer((req, res) => {
    const work = handle(req, res).finally(() => inflight.delete(work));
    inflight.add(work);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenFailed(requestedPort, error));
    server.once("error", onError);
    const listening = () => {
      server.off("error", onError);
      resolve();
    };
    if (options.listenFd !== undefined) server.listen({ fd: options.listenFd }, listening);
    else server.listen({ host: FILE_BRIDGE_HOST, port: requestedPort, exclusive: true }, listening);
  });
  const { address, port } = server.address() as AddressInfo;
  if (address !== FILE_BRIDGE_HOST) {
    server.close();
    throw emulatorErrors.create(
      "FILE_BRIDGE_OPTION_INVALID",
      `The file bridge serves on ${FILE_BRIDGE_HOST} only; the socket it was handed is bound to ${address}`,
    );
  }
  const url = `http://${FILE_BRIDGE_HOST}:${port}`;

  let closing: Promise<void> | undefined;
  const onAbort = () => void close();
  function close(): Promise<void> {
    closing ??= (async () => {
      signal?.removeEventListener("abort", onAbort);
      closed = true;
      for (const wake of waiting.splice(0)) wake();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.allSettled([...inflight]);
      await rootDir.close().catch(() => {});
      onEvent?.({ type: "file-bridge-closed" });
    })();
    return closing;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  onEvent?.({ type: "file-bridge-listening", url, port, root });
  return { url, port, token, root, maxBodyBytes, writable: describeGrants(grants), close };
}
