#!/usr/bin/env python3
"""The guest side of the emulator's file bridge (shared by the Hexclave and the self-test image).

    bridge-proxy.py [PORT]        default 8110, listening on 127.0.0.1 only

Two jobs, in one process:

1. A proxy for the backend at HEXCLAVE_FILE_BRIDGE_URL (http://127.0.0.1:8110, the
   container uses the VM's network). Every request is forwarded to the host's bridge at
   http://10.0.2.2:<port> with `Authorization: Bearer <host token>`, or, when that route is
   refused (the emulator's guest network is `isolated`: QEMU's restrict=on resets it at once),
   through the runtime's guest forward HEXCLAVE_FILE_BRIDGE_FORWARD (default 10.0.2.101:8110,
   which QEMU hands to the host's bridge of the current start); port and host token
   come from the fw_cfg entry opt/hexclave/bridge, READ AGAIN ON EVERY REQUEST (a resumed
   VM talks to a new bridge with a new port and token):

       HEXCLAVE_FILE_BRIDGE_FWCFG (default /run/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw)
       content: "hexclave-bridge/1 port=NNNNN token=<64 hex>\\n"; port=00000 means no bridge

   Only a client holding the proxy's own credential is served: a random token made at every
   start of this proxy and written to HEXCLAVE_FILE_BRIDGE_TOKEN_FILE (default
   /run/hexclave-bridge/token), mode 0400, owned by HEXCLAVE_FILE_BRIDGE_CLIENT_USER (the
   backend's user; default root). Requests must carry `Authorization: Bearer <that token>`;
   others get 401. A server-side request forgery in another guest service, or a process of
   another user, cannot present it. Only the routes and methods the host bridge serves are
   forwarded (/v1/files/ GET HEAD PUT DELETE, /v1/list GET HEAD, /v1/config GET HEAD PUT).
   Bodies are streamed (never held whole), `Transfer-Encoding: chunked` is decoded and
   forwarded chunked (a malformed or cut chunked body is never completed on the host, so a
   host file is never truncated), a PUT without a length is refused with 411, and at most
   MAX_IN_FLIGHT requests are served at once (the next wait up to SLOT_WAIT_SECONDS, unread,
   then get 503). After every refusal the
   connection is closed. GET /healthz answers 200 without the credential.

2. The config mirror (issue 13): upstream's backend reads and writes stack.config.ts with
   plain file calls at STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT + the file's absolute host path.
   When that variable is set and the host bridge serves a --config-file, this process
   writes the file there (GET /v1/config; the host path is in X-Hexclave-Config-Path) at
   every new bridge (a start or a resume), and sends every change the backend makes back
   (PUT /v1/config) once it has been stable for one poll (POLL_SECONDS). `stack emulator
   stop` writes the last version the host received back to the host file. The mirror is a
   plain file in the container, so VM snapshots hold it like any other file.
"""

import hashlib
import hmac
import http.client
import json
import os
import pwd
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FWCFG = os.environ.get(
    "HEXCLAVE_FILE_BRIDGE_FWCFG", "/run/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw"
)
HOST = os.environ.get("HEXCLAVE_FILE_BRIDGE_HOST", "10.0.2.2")
FORWARD = os.environ.get("HEXCLAVE_FILE_BRIDGE_FORWARD", "10.0.2.101:8110")
TOKEN_FILE = os.environ.get("HEXCLAVE_FILE_BRIDGE_TOKEN_FILE", "/run/hexclave-bridge/token")
CLIENT_USER = os.environ.get("HEXCLAVE_FILE_BRIDGE_CLIENT_USER", "")
MOUNT_ROOT = os.environ.get("STACK_LOCAL_EMULATOR_HOST_MOUNT_ROOT", "")
POLL_SECONDS = float(os.environ.get("HEXCLAVE_FILE_BRIDGE_POLL_SECONDS", "0.25"))
PAYLOAD = re.compile(r"^hexclave-bridge/1 port=(\d{5}) token=([0-9a-f]{64})\n?$")
MAX_BODY = 64 << 20
MAX_IN_FLIGHT = 16
SLOT_WAIT_SECONDS = 30
PIECE = 64 << 10
CONFIG_PATH_HEADER = "x-hexclave-config-path"
PASS_HEADERS = ("content-type", "last-modified", "allow", "cache-control", CONFIG_PATH_HEADER)
ROUTES = (
    ("/v1/files/", ("GET", "HEAD", "PUT", "DELETE")),
    ("/v1/list", ("GET", "HEAD")),
    ("/v1/config", ("GET", "HEAD", "PUT")),
)


def endpoint():
    """(port, token) of the host bridge, or None when there is none."""
    try:
        with open(FWCFG, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    m = PAYLOAD.match(text)
    if not m or int(m.group(1)) == 0 or int(m.group(1)) > 65535:
        return None
    return int(m.group(1)), m.group(2)


def bridge_connection(port, timeout):
    """A connected HTTPConnection to the host bridge: HOST:port, else (refused) the guest forward FORWARD."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()
        return conn
    except (ConnectionRefusedError, ConnectionResetError):
        conn.close()
    host, _, forward_port = FORWARD.rpartition(":")
    conn = http.client.HTTPConnection(host, int(forward_port), timeout=timeout)
    conn.connect()
    return conn


def client_ids():
    """(uid, gid) of HEXCLAVE_FILE_BRIDGE_CLIENT_USER, or None to keep this process's own."""
    if not CLIENT_USER:
        return None
    entry = pwd.getpwnam(CLIENT_USER)
    return entry.pw_uid, entry.pw_gid


def write_private(path, data, mode):
    """Temp file + rename, owned by the client user."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    temp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        ids = client_ids()
        if ids is not None:
            os.fchown(fd, ids[0], ids[1])
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(temp, path)


def make_guest_token():
    token = secrets.token_hex(32)
    write_private(TOKEN_FILE, (token + "\n").encode(), 0o400)
    return token


GUEST_TOKEN = ""
SLOTS = threading.BoundedSemaphore(MAX_IN_FLIGHT)


class Refused(Exception):
    def __init__(self, code, error, message, allow=None):
        super().__init__(message)
        self.code, self.error, self.allow = code, error, allow


def route_of(path):
    """The methods allowed on a path, or None when the host bridge has no such route."""
    bare = path.split("?", 1)[0]
    for prefix, methods in ROUTES:
        if bare == prefix or bare.startswith(prefix if prefix.endswith("/") else prefix + "/"):
            if prefix == "/v1/config" and bare != prefix:
                return None
            return methods
    return None


def read_chunked(rfile, limit):
    """Decodes a chunked body piece by piece; raises Refused on a malformed or oversized body."""
    total = 0
    while True:
        line = rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise Refused(400, "bad-chunk", "malformed chunked body (chunk size line)")
        size_text = line.split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_text):
            raise Refused(400, "bad-chunk", "malformed chunked body (chunk size)")
        size = int(size_text, 16)
        if size == 0:
            # Trailers until the empty line.
            while True:
                trailer = rfile.readline(8192)
                if not trailer.endswith(b"\n"):
                    raise Refused(400, "bad-chunk", "malformed chunked body (trailer)")
                if trailer in (b"\r\n", b"\n"):
                    return
        total += size
        if total > limit:
            raise Refused(413, "too-large", "body over %d bytes" % limit)
        left = size
        while left > 0:
            piece = rfile.read1(min(left, PIECE))
            if not piece:
                raise Refused(400, "bad-chunk", "chunked body cut short")
            left -= len(piece)
            yield piece
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise Refused(400, "bad-chunk", "malformed chunked body (chunk end)")


def read_sized(rfile, length):
    left = length
    while left > 0:
        piece = rfile.read1(min(left, PIECE))  # what has arrived, so every byte is passed on as it comes
        if not piece:
            raise Refused(400, "short-body", "the body ended before Content-Length bytes")
        left -= len(piece)
        yield piece


class Handler(BaseHTTPRequestHandler):
    server_version = "hexclave-file-bridge-proxy"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature from BaseHTTPRequestHandler
        if self.path != "/healthz":
            sys.stdout.write("%s\n" % (format % args))

    def reply(self, code, obj, allow=None, close=False):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if allow:
            self.send_header("Allow", allow)
        if code == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="hexclave-file-bridge-proxy"')
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, r):
        self.reply(r.code, {"error": r.error, "message": str(r)}, allow=r.allow, close=True)

    def body(self):
        """A generator of the request body's pieces (None: no body) and whether it is chunked."""
        te = self.headers.get("Transfer-Encoding")
        cl = self.headers.get("Content-Length")
        if te is not None:
            if cl is not None:
                raise Refused(400, "bad-request", "both Transfer-Encoding and Content-Length")
            if te.strip().lower() != "chunked":
                raise Refused(501, "bad-request", "only Transfer-Encoding: chunked is accepted")
            return read_chunked(self.rfile, MAX_BODY), True
        if cl is not None:
            if not re.fullmatch(r"[0-9]{1,15}", cl.strip()):
                raise Refused(400, "bad-request", "malformed Content-Length")
            length = int(cl)
            if length > MAX_BODY:
                raise Refused(413, "too-large", "body over %d bytes" % MAX_BODY)
            return (read_sized(self.rfile, length) if length > 0 else iter(())), False
        if self.command == "PUT":
            raise Refused(411, "length-required", "a PUT needs Content-Length or Transfer-Encoding: chunked")
        return None, False

    def handle_request(self):
        if self.path == "/healthz" and self.command in ("GET", "HEAD"):
            self.reply(200, {"ok": True, "bridge": endpoint() is not None})
            return
        methods = route_of(self.path)
        if methods is None:
            raise Refused(404, "not-found", "unknown endpoint; see /v1/files/, /v1/list/, /v1/config")
        if self.command not in methods:
            raise Refused(405, "method-not-allowed", "use " + ", ".join(methods), allow=", ".join(methods))
        presented = re.match(r"^Bearer +(\S+) *$", self.headers.get("Authorization") or "")
        if not presented or not hmac.compare_digest(presented.group(1).encode(), GUEST_TOKEN.encode()):
            raise Refused(401, "unauthorized", "missing or wrong bearer token (HEXCLAVE_FILE_BRIDGE_TOKEN_FILE)")
        if not SLOTS.acquire(timeout=SLOT_WAIT_SECONDS):
            raise Refused(503, "busy", "more than %d requests at once; retry" % MAX_IN_FLIGHT)
        try:
            self.forward()
        finally:
            SLOTS.release()

    def forward(self):
        pieces, chunked = self.body()
        if self.command in ("GET", "HEAD", "DELETE") and pieces is not None:
            # A body on a method that takes none is not forwarded; the connection cannot be reused.
            self.close_connection = True
            pieces = None
        ep = endpoint()
        if ep is None:
            raise Refused(503, "no-bridge", "the emulator was started without a file bridge")
        port, token = ep
        try:
            conn = bridge_connection(port, 60)
        except OSError as e:
            raise Refused(503, "bridge-unreachable", str(e))
        try:
            try:
                conn.putrequest(self.command, self.path, skip_accept_encoding=True)
                conn.putheader("Authorization", "Bearer " + token)
                if self.headers.get("Content-Type"):
                    conn.putheader("Content-Type", self.headers["Content-Type"])
                if pieces is not None and chunked:
                    conn.putheader("Transfer-Encoding", "chunked")
                elif pieces is not None:
                    conn.putheader("Content-Length", self.headers["Content-Length"])
                conn.endheaders()
            except OSError as e:
                raise Refused(503, "bridge-unreachable", str(e))
            if pieces is not None:
                try:
                    for piece in pieces:
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    if chunked:
                        conn.send(b"0\r\n\r\n")
                except Refused:
                    # The host never sees a complete body: it removes its temp file and writes nothing.
                    conn.close()
                    raise
                except OSError:
                    # The host answered early (a refusal) and closed: relay its answer below; the rest of the
                    # client's body is not read, so its connection is not reused.
                    self.close_connection = True
            try:
                res = conn.getresponse()
            except OSError as e:
                raise Refused(503, "bridge-unreachable", str(e))
            self.send_response(res.status)
            for name, value in res.getheaders():
                if name.lower() in PASS_HEADERS:
                    self.send_header(name, value)
            length = res.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
            elif res.status not in (204, 304) and self.command != "HEAD":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                while True:
                    piece = res.read(PIECE)
                    if not piece:
                        break
                    self.wfile.write(piece)
            if res.getheader("Connection", "").lower() == "close" and self.command == "PUT":
                self.close_connection = True
        finally:
            conn.close()

    def dispatch(self):
        try:
            self.handle_request()
        except Refused as r:
            self.refuse(r)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = do_PATCH = do_OPTIONS = dispatch


def host_request(ep, method, path, body=None):
    """One request of the config mirror to the host bridge: (status, headers, body)."""
    port, token = ep
    conn = bridge_connection(port, 30)
    try:
        headers = {"Authorization": "Bearer " + token}
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def mirror_path(host_path):
    """MOUNT_ROOT + the host file's absolute path, or None when that path is not a plain absolute one."""
    if not host_path.startswith("/") or "\x00" in host_path:
        return None
    parts = host_path.split("/")[1:]
    if any(p in ("", ".", "..") for p in parts):
        return None
    return os.path.join(MOUNT_ROOT, *parts)


class ConfigMirror(threading.Thread):
    """Keeps MOUNT_ROOT + <host path of --config-file> and the host bridge's /v1/config in step."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ep = None
        self.target = None
        self.synced = None
        self.candidate = None

    def run(self):
        while True:
            try:
                self.step()
            except Exception as e:  # noqa: BLE001 - the mirror retries on the next poll
                sys.stdout.write("config mirror: %s\n" % e)
            time.sleep(POLL_SECONDS)

    def step(self):
        ep = endpoint()
        if ep is None:
            return
        if ep != self.ep:
            status, headers, body = host_request(ep, "GET", "/v1/config")
            if status == 404:
                self.ep, self.target = ep, None
                return
            if status != 200:
                return
            target = mirror_path(urllib.parse.unquote(headers.get(CONFIG_PATH_HEADER, "")))
            if target is None:
                self.ep, self.target = ep, None
                return
            write_private(target, body, 0o644)
            self.ep, self.target = ep, target
            self.synced, self.candidate = hashlib.sha256(body).hexdigest(), None
            sys.stdout.write("config mirror: %s (%d bytes)\n" % (target, len(body)))
            return
        if self.target is None:
            return
        try:
            with open(self.target, "rb") as f:
                content = f.read()
        except FileNotFoundError:
            return
        digest = hashlib.sha256(content).hexdigest()
        if digest == self.synced:
            self.candidate = None
            return
        if digest != self.candidate:
            # Sent once it reads the same on two polls: a write in progress is not sent half-done.
            self.candidate = digest
            return
        status, _, _ = host_request(ep, "PUT", "/v1/config", content)
        if status == 204:
            self.synced, self.candidate = digest, None


def main():
    global GUEST_TOKEN
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8110
    GUEST_TOKEN = make_guest_token()
    if MOUNT_ROOT:
        ConfigMirror().start()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
