/**
 * A fault-injecting HTTP file server on 127.0.0.1 for download tests.
 *
 * It serves files from a map (`setFile`) or a directory laid out like a
 * release (`root`), honours Range and If-Range (ETag or Last-Modified) like a
 * real server, and plays per-path fault scripts: each request to a path takes
 * the next step of its script; when the script is empty the file is served
 * normally. Every request is logged with its Range and If-Range headers.
 *
 * ```ts
 * const server = await startFaultServer();
 * server.setFile("/images/a.qcow2", bytes);
 * server.script("/images/a.qcow2", [{ kind: "cut", afterBytes: 4096 }, { kind: "status", status: 503 }]);
 * // ... download `${server.url}/images/a.qcow2` ...
 * server.log.filter((r) => r.range !== undefined);
 * await server.close();
 * ```
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join, normalize } from "node:path";

export type FaultStep =
  /** Serve the file normally (Range and If-Range honoured). */
  | { readonly kind: "ok" }
  /** Answer with this status and a short body (for example 503). */
  | { readonly kind: "status"; readonly status: number }
  /** Send the headers and the first `afterBytes` bytes of the answer, then destroy the connection. */
  | { readonly kind: "cut"; readonly afterBytes: number }
  /** Never answer (the connection stays open until the client gives up). */
  | { readonly kind: "stall-headers" }
  /** Send the headers and `afterBytes` bytes, then stop sending while keeping the connection open. */
  | { readonly kind: "stall-body"; readonly afterBytes: number }
  /** Serve these bytes instead of the file (same headers otherwise: wrong content). */
  | { readonly kind: "body"; readonly data: Buffer }
  /** Serve the whole file with 200, ignoring Range (like a server without range support). */
  | { readonly kind: "ignore-range" };

export interface ScriptedStep {
  readonly step: FaultStep;
  /** Runs once this step has been played (for example to change the file between attempts). */
  readonly after?: () => void;
}

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  readonly fault: FaultStep["kind"];
  status: number | undefined;
  bytesSent: number;
  readonly at: number;
}

export interface ServedFile {
  readonly data: Buffer;
  readonly etag: string;
  readonly lastModified: string;
}

export interface FaultServerOptions {
  /** Serve files from this directory too (after the map). */
  readonly root?: string;
  /** Send ETag headers (default true). */
  readonly etags?: boolean;
}

export interface FaultServer {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  readonly log: RequestLogEntry[];
  /** Adds or replaces a file; a new content gets a new ETag and Last-Modified. */
  setFile(path: string, data: Buffer | string, meta?: { etag?: string; lastModified?: Date }): ServedFile;
  /** Appends steps to a path's fault script. */
  script(path: string, steps: ReadonlyArray<FaultStep | ScriptedStep>): void;
  /** Requests logged for one path. */
  requests(path: string): RequestLogEntry[];
  close(): Promise<void>;
}

function toScripted(step: FaultStep | ScriptedStep): ScriptedStep {
  return "step" in step ? step : { step };
}

function strongEtag(data: Buffer): string {
  return `"${createHash("sha1").update(data).digest("hex").slice(0, 16)}"`;
}

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  const files = new Map<string, ServedFile>();
  const scripts = new Map<string, ScriptedStep[]>();
  const log: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();
  const sendEtags = options.etags ?? true;
  let clock = Date.parse("2025-01-01T00:00:00Z");

  const setFile: FaultServer["setFile"] = (path, data, meta = {}) => {
    const buffer = typeof data === "string" ? Buffer.from(data) : data;
    clock += 60_000;
    const file: ServedFile = {
      data: buffer,
      etag: meta.etag ?? strongEtag(buffer),
      lastModified: (meta.lastModified ?? new Date(clock)).toUTCString(),
    };
    files.set(path, file);
    return file;
  };

  async function lookup(path: string): Promise<ServedFile | undefined> {
    const mapped = files.get(path);
    if (mapped !== undefined || options.root === undefined) return mapped;
    const full = join(options.root, normalize(decodeURIComponent(path)).replace(/^(\.\.[/\\])+/, ""));
    try {
      const info = await stat(full);
      if (!info.isFile()) return undefined;
      const data = await readFile(full);
      return { data, etag: strongEtag(data), lastModified: info.mtime.toUTCString() };
    } catch {
      return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const scripted = scripts.get(path)?.shift();
    const step: FaultStep = scripted?.step ?? { kind: "ok" };
    const entry: RequestLogEntry = {
      method: req.method ?? "GET",
      path,
      range: req.headers.range,
      ifRange: typeof req.headers["if-range"] === "string" ? req.headers["if-range"] : undefined,
      fault: step.kind,
      status: undefined,
      bytesSent: 0,
      at: Date.now(),
    };
    log.push(entry);
    const done = () => scripted?.after?.();

    if (step.kind === "stall-headers") {
      done();
      return; // never answer
    }
    if (step.kind === "status") {
      entry.status = step.status;
      res.writeHead(step.status, { "content-type": "text/plain", connection: "close" });
      res.end(`injected ${step.status}\n`);
      done();
      return;
    }
    const file = await lookup(path);
    if (file === undefined) {
      entry.status = 404;
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      done();
      return;
    }
    const data = step.kind === "body" ? step.data : file.data;
    const size = data.length;
    const headers: Record<string, string | number> = {
      "content-type": "application/octet-stream",
      "accept-ranges": "bytes",
      "last-modified": file.lastModified,
    };
    if (sendEtags) headers.etag = file.etag;

    // Range handling as RFC 9110: If-Range must match the current validator, else the whole file.
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const ifRangeMatches =
      entry.ifRange === undefined || entry.ifRange === file.lastModified || (sendEtags && entry.ifRange === file.etag);
    if (range !== null && ifRangeMatches && step.kind !== "ignore-range") {
      start = Number(range[1]);
      if (range[2] !== undefined && range[2] !== "") end = Math.min(end, Number(range[2]));
      if (start >= size) {
        entry.status = 416;
        res.writeHead(416, { ...headers, "content-range": `bytes */${size}` });
        res.end();
        done();
        return;
      }
      status = 206;
      headers["content-range"] = `bytes ${start}-${end}/${size}`;
    }
    const body = data.subarray(start, end + 1);
    headers["content-length"] = body.length;
    entry.status = status;
    res.writeHead(status, headers);
    if (req.method === "HEAD") {
      res.end();
      done();
      return;
    }
    if (step.kind === "cut" || step.kind === "stall-body") {
      const head = body.subarray(0, Math.min(step.afterBytes, body.length));
      entry.bytesSent = head.length;
      res.write(head, () => {
        // Close after the bytes are flushed (FIN, not RST, so the client surely has them): a short body.
        if (step.kind === "cut") res.socket?.end();
        done();
      });
      return;
    }
    entry.bytesSent = body.length;
    res.end(body, done);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    log,
    setFile,
    script(path, steps) {
      const list = scripts.get(path) ?? [];
      list.push(...steps.map(toScripted));
      scripts.set(path, list);
    },
    requests: (path) => log.filter((entry) => entry.path === path),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
