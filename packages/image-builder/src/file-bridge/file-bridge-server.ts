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
 *   GET    /v1/list/[<dir>]   JSON `{ path, entries: [{ name, type, size, mtimeMs }] }`
 *   GET|HEAD|PUT /v1/config   the `--config-file` session's current bytes (404 without a session)
 *
 * Refusals: 400 malformed path (bad percent-encoding, NUL or control
 * characters, backslash, empty segment); 403 outside the root (`..`, absolute
 * path, symlink escaping the root, dangling symlink); 405 other methods (with
 * `Allow`); 409 a directory where a file is expected or the reverse; 413 body
 * over `maxBodyBytes` (nothing written). Error bodies are JSON
 * `{ error: <refusal>, message }`.
 */
import { constants, type Stats } from "node:fs";
import { lstat, mkdir, open, readdir, realpath, stat, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { imageBuilderErrors } from "../errors-data.js";
import { TEMP_FILE_SUFFIX, writeFileAtomic } from "./atomic-file.js";
import { parseBridgePath } from "./bridge-path.js";
import { bearerMatches, generateBridgeToken, isValidBridgeToken } from "./bridge-token.js";
import type { ConfigFileSession } from "./config-file-session.js";
import { isInsideRoot, resolveConfined } from "./confined-path.js";
import type { FileBridgeEventListener, FileBridgeRefusal } from "./file-bridge-events.js";

/** The only address the bridge listens on. */
export const FILE_BRIDGE_HOST = "127.0.0.1";
/** Largest declared body of a refused (413) request that is read and discarded rather than cut off. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** Default bound on a request body: 10 MiB. */
export const DEFAULT_FILE_BRIDGE_MAX_BODY_BYTES = 10 * 1024 * 1024;

export interface FileBridgeOptions {
  /** The one directory served (the user's project, `--project-dir`). Must exist. */
  readonly root: string;
  /** Only `127.0.0.1` is accepted. */
  readonly host?: typeof FILE_BRIDGE_HOST;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly maxBodyBytes?: number;
  /** Default: 32 random bytes, hex, new on every start. */
  readonly token?: string;
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
    imageBuilderErrors.create("FILE_BRIDGE_OPTION_INVALID", message, { details });
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
    throw imageBuilderErrors.create("FILE_BRIDGE_ROOT_INVALID", `The project directory ${root} does not exist`, {
      cause: error,
      details: { root },
    });
  }
  if (!info.isDirectory()) {
    throw imageBuilderErrors.create("FILE_BRIDGE_ROOT_INVALID", `The project directory ${root} is not a directory`, {
      details: { root },
    });
  }
  return real;
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

/** Reads the whole body, or throws a 413 refusal as soon as it passes `max` bytes (nothing is written). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) {
    throw new Refusal(413, "too-large", `The body (${declared} bytes) is over the limit of ${max} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > max) throw new Refusal(413, "too-large", `The body is over the limit of ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
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
  if (signal?.aborted) throw imageBuilderErrors.create("ABORTED", "Starting the file bridge was aborted");
  const root = await realRootOf(options.root);
  const inflight = new Set<Promise<void>>();

  const confine = async (segments: readonly string[]) => {
    const resolved = await resolveConfined(root, segments);
    if (resolved.kind === "escape") {
      throw new Refusal(403, resolved.reason, "The path leads outside the project directory through a symlink");
    }
    return resolved;
  };

  const parse = (encoded: string, allowRoot = false) => {
    const parsed = parseBridgePath(encoded, { allowRoot });
    if (!parsed.ok) {
      const message = parsed.status === 403 ? "The path leads outside the project directory" : "The path is malformed";
      throw new Refusal(parsed.status, parsed.reason, message);
    }
    return parsed.segments;
  };

  const sendFile = async (req: IncomingMessage, res: ServerResponse, segments: readonly string[]) => {
    const target = await confine(segments);
    if (!target.exists) throw new Refusal(404, "not-found", "No such file");
    const handle = await open(
      target.canonical,
      constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | constants.O_NONBLOCK,
    );
    try {
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
    const body = await readBody(req, maxBodyBytes);
    const target = await confine(segments);
    let mode: number | undefined;
    if (target.exists) {
      const info = await stat(target.canonical);
      if (info.isDirectory()) throw new Refusal(409, "is-directory", "The path is a directory");
      if (!info.isFile()) throw new Refusal(409, "not-regular-file", "The path is not a regular file");
      mode = info.mode & 0o7777;
    }
    const parent = dirname(target.canonical);
    await mkdir(parent, { recursive: true });
    // Check the parent again now it exists: a symlink swapped in meanwhile is refused.
    const realParent = await realpath(parent);
    if (!isInsideRoot(root, realParent)) {
      throw new Refusal(403, "symlink-escape", "The path leads outside the project directory through a symlink");
    }
    await writeFileAtomic(join(realParent, basename(target.canonical)), body, mode === undefined ? {} : { mode });
    sendJson(res, target.exists ? 200 : 201, { path: segments.join("/"), bytes: body.length });
    return body.length;
  };

  const deleteFile = async (res: ServerResponse, segments: readonly string[]) => {
    const parent = await confine(segments.slice(0, -1));
    if (!parent.exists) throw new Refusal(404, "not-found", "No such file");
    const entry = join(parent.canonical, segments[segments.length - 1] as string);
    const info = await lstat(entry);
    if (info.isSymbolicLink()) await confine(segments);
    else if (info.isDirectory())
      throw new Refusal(409, "is-directory", "The path is a directory; only files are deleted");
    await unlink(entry);
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
    const dirents = await readdir(target.canonical, { withFileTypes: true });
    const entries = [];
    for (const d of dirents) {
      if (d.name.startsWith(".") && d.name.endsWith(TEMP_FILE_SUFFIX)) continue;
      const info = await lstat(join(target.canonical, d.name)).catch(() => undefined);
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

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const target = req.url ?? "";
    const query = target.search(/[?#]/);
    const path = query === -1 ? target : target.slice(0, query);
    let status = 500;
    let refusal: FileBridgeRefusal | undefined;
    let bytes = 0;
    try {
      if (!bearerMatches(req.headers.authorization, token)) {
        throw new Refusal(401, "unauthorized", "Missing or wrong bearer token");
      }
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

  const server: Server = createServer((req, res) => {
    const work = handle(req, res).finally(() => inflight.delete(work));
    inflight.add(work);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        imageBuilderErrors.create(
          "FILE_BRIDGE_LISTEN_FAILED",
          `The file bridge could not listen on ${FILE_BRIDGE_HOST}:${requestedPort}: ${error.code ?? error.message}`,
          { cause: error, details: { host: FILE_BRIDGE_HOST, port: requestedPort } },
        ),
      );
    };
    server.once("error", onError);
    server.listen({ host: FILE_BRIDGE_HOST, port: requestedPort, exclusive: true }, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${FILE_BRIDGE_HOST}:${port}`;

  let closing: Promise<void> | undefined;
  const onAbort = () => void close();
  function close(): Promise<void> {
    closing ??= (async () => {
      signal?.removeEventListener("abort", onAbort);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.allSettled([...inflight]);
      onEvent?.({ type: "file-bridge-closed" });
    })();
    return closing;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  onEvent?.({ type: "file-bridge-listening", url, port, root });
  return { url, port, token, root, maxBodyBytes, close };
}
