# Stand-ins for the upstream programs that cannot exist on this machine (no
# container registry, no vendor download hosts): ClickHouse, MinIO, Inbucket,
# svix-server, the QStash dev server, stripe-mock. Each checks the contract the
# real program has (arguments, environment, directories it must be able to
# create and write as the user it runs as, credentials) and FAILS LOUDLY when
# it is not met, then serves the real program's health endpoint and the few
# requests the image's own scripts make. launcher.c embeds this file in an ELF
# and runs it as `python3 -c <this> <program name> <arguments...>`.
#
# Contract sources: docker/README.md, "Contract build and run", and
# ../shared/research/upstream-payload.md.
import base64
import hashlib
import hmac
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

NAME = sys.argv[1] if len(sys.argv) > 1 else "stand-in"
ARGS = sys.argv[2:]


def say(message):
    print(f"{NAME} (stand-in): {message}", flush=True)


def fail(message):
    print(f"{NAME} (stand-in): CONTRACT VIOLATION: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def env(name, why=""):
    value = os.environ.get(name, "")
    if value == "":
        fail(f"environment variable {name} must be set{': ' + why if why else ''}")
    return value


def writable_dir(path, what):
    """Creates `path` like the real program would (mkdir -p) and proves the current user can write in it."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".stand-in-probe-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        fail(f"Couldn't create or write the {what} directory {path} as uid {os.getuid()}: {e}")


def split_addr(addr, default_host="0.0.0.0"):
    host, _, port = addr.rpartition(":")
    if not port.isdigit():
        fail(f"address {addr!r} has no port")
    host = host.strip("[]") or default_host
    return host, int(port)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, handler):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), handler)
        except OSError as e:
            fail(f"cannot listen on {host}:{port}: {e}")


def http_handler(route):
    """route(method, path, query, headers, body) -> (status, content_type, body bytes or str)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def _go(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlparse(self.path)
            status, ctype, out = route(method, url.path, parse_qs(url.query), self.headers, body)
            data = out.encode() if isinstance(out, str) else out
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)

        def do_GET(self):
            self._go("GET")

        def do_HEAD(self):
            self._go("HEAD")

        def do_POST(self):
            self._go("POST")

        def do_PUT(self):
            self._go("PUT")

        def do_DELETE(self):
            self._go("DELETE")

    return Handler


def serve(listeners):
    """listeners: [(host, port, handler class)]; serves them all until killed."""
    servers = [Server(h, p, cls) for h, p, cls in listeners]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    say("listening on " + ", ".join(f"{h}:{p}" for h, p, _ in listeners))
    servers[0].serve_forever()


def tcp_banner_server(host, port, banner, replies):
    """A line protocol server (SMTP, POP3): sends `banner`, answers each line with replies(line, state)."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(banner)
            state = {}
            for raw in self.rfile:
                out, done = replies(raw.decode(errors="replace").rstrip("\r\n"), state)
                if out:
                    self.wfile.write(out)
                if done:
                    return

    class TServer(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    try:
        server = TServer((host, port), Handler)
    except OSError as e:
        fail(f"cannot listen on {host}:{port}: {e}")
    threading.Thread(target=server.serve_forever, daemon=True).start()


def text(status, body):
    return status, "text/plain; charset=utf-8", body


def jsn(status, value):
    return status, "application/json", json.dumps(value)


# ---- ClickHouse 25.10 ---------------------------------------------------------


def clickhouse():
    argv = ARGS
    if NAME == "clickhouse" and argv and argv[0] in ("server", "local", "client"):
        mode, argv = argv[0], argv[1:]
    else:
        mode = {"clickhouse-server": "server", "clickhouse-client": "client"}.get(NAME, "local")
    if "--version" in argv or "-V" in argv:
        print(f"ClickHouse {mode} version 25.10.1.1 (official build, stand-in).")
        return
    if mode != "server":
        fail(f"only `clickhouse server`, `clickhouse-server` and `--version` are stood in for, not {mode} {argv}")
    config_file = "/etc/clickhouse-server/config.xml"
    for a in argv:
        if a.startswith("--config-file="):
            config_file = a.split("=", 1)[1]
        elif a.startswith("-"):
            fail(f"unknown argument {a}")
    if not os.path.isfile(config_file):
        fail(f"config file {config_file} does not exist")
    root = ET.parse(config_file).getroot()
    # config.d/*.xml are merged over config.xml (top-level elements replace).
    conf_d = os.path.join(os.path.dirname(config_file), "config.d")
    if os.path.isdir(conf_d):
        for f in sorted(os.listdir(conf_d)):
            if f.endswith(".xml"):
                for el in ET.parse(os.path.join(conf_d, f)).getroot():
                    for old in root.findall(el.tag):
                        if el.tag != "listen_host":
                            root.remove(old)
                    root.append(el)

    def get(path, default=None):
        el = root.find(path)
        return el.text.strip() if el is not None and el.text else default

    # The server creates these at start-up and dies when it cannot (DiskAccessStorage: "Couldn't create directory").
    dirs = {
        "path": get("path", "/var/lib/clickhouse/"),
        "tmp_path": get("tmp_path", "/var/lib/clickhouse/tmp/"),
        "user_files_path": get("user_files_path", "/var/lib/clickhouse/user_files/"),
        "format_schema_path": get("format_schema_path", "/var/lib/clickhouse/format_schemas/"),
        "user_directories/local_directory/path": get(
            "user_directories/local_directory/path", "/var/lib/clickhouse/access/"
        ),
    }
    for what, d in dirs.items():
        writable_dir(d, what)
    users_path = get("user_directories/users_xml/path", get("users_config", "users.xml"))
    if not os.path.isabs(users_path):
        users_path = os.path.join(os.path.dirname(config_file), users_path)
    if not os.path.isfile(users_path):
        fail(f"users file {users_path} does not exist")
    users = {}
    for u in ET.parse(users_path).getroot().findall("users/*"):
        pw = u.find("password")
        if pw is not None and pw.get("from_env"):
            users[u.tag] = env(pw.get("from_env"), f"users.xml: the password of user {u.tag}")
        else:
            users[u.tag] = (pw.text or "") if pw is not None else ""
    hosts = [e.text.strip() for e in root.findall("listen_host") if e.text] or ["::1", "127.0.0.1"]
    http_port, tcp_port = int(get("http_port", "8123")), int(get("tcp_port", "9000"))
    if root.find("interserver_http_port") is not None:
        fail("interserver_http_port is set: its stock 9009 clashes with the native port")
    say(f"config {config_file}: data {dirs['path']}, access {dirs['user_directories/local_directory/path']}, users {sorted(users)}")

    def route(method, path, query, headers, body):
        if path in ("/ping", "/") and not body and "query" not in query:
            return text(200, "Ok.\n")
        user = headers.get("X-ClickHouse-User") or (query.get("user") or ["default"])[0]
        password = headers.get("X-ClickHouse-Key") or (query.get("password") or [""])[0]
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        if users.get(user) != password:
            return text(516, f"Code: 516. DB::Exception: {user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)\n")
        sql = (query.get("query") or [""])[0] + body.decode(errors="replace")
        say(f"query by {user}: {sql.strip()[:200]}")
        return text(200, "")

    listeners = []
    for h in hosts:
        listeners.append((h, http_port, http_handler(route)))
    for h in hosts:
        tcp_banner_server(h, tcp_port, b"", lambda line, st: (b"", True))
    serve(listeners)


# ---- MinIO RELEASE.2025-09-07 -------------------------------------------------


def minio():
    if ARGS[:1] == ["--version"]:
        print("minio version RELEASE.2025-09-07T16-13-09Z (stand-in)")
        return
    if ARGS[:1] != ["server"]:
        fail(f"expected `minio server DIR --address :PORT --console-address :PORT`, got {ARGS}")
    rest, data, address, console = ARGS[1:], None, ":9000", None
    i = 0
    while i < len(rest):
        a = rest[i]
        if a in ("--address", "--console-address"):
            if i + 1 >= len(rest):
                fail(f"{a} needs a value")
            if a == "--address":
                address = rest[i + 1]
            else:
                console = rest[i + 1]
            i += 2
        elif a in ("--quiet", "--anonymous", "--json"):
            i += 1
        elif a.startswith("-"):
            fail(f"unknown flag {a}")
        else:
            data = a
            i += 1
    if data is None:
        fail("no data directory given")
    user, password = env("MINIO_ROOT_USER"), env("MINIO_ROOT_PASSWORD")
    if len(user) < 3 or len(password) < 8:
        fail("MINIO_ROOT_USER must be at least 3 and MINIO_ROOT_PASSWORD at least 8 characters")
    writable_dir(os.path.join(data, ".minio.sys"), "data")

    def route(method, path, query, headers, body):
        if path in ("/minio/health/live", "/minio/health/ready"):
            return text(200, "")
        auth = headers.get("Authorization", "")
        if f"Credential={user}/" not in auth or "AWS4-HMAC-SHA256" not in auth:
            return text(403, "<Error><Code>AccessDenied</Code></Error>")
        bucket = unquote(path.strip("/").split("/")[0])
        target = os.path.join(data, bucket)
        if method == "PUT" and "/" not in path.strip("/"):
            if os.path.isdir(target):
                return text(409, "<Error><Code>BucketAlreadyOwnedByYou</Code></Error>")
            os.makedirs(target)
            say(f"created bucket {bucket}")
            return text(200, "")
        if method in ("GET", "HEAD") and os.path.isdir(target):
            return text(200, "<ListBucketResult/>")
        return text(404, "<Error><Code>NoSuchBucket</Code></Error>")

    listeners = [(*split_addr(address), http_handler(route))]
    if console:
        listeners.append((*split_addr(console), http_handler(lambda *a: text(200, "MinIO Console (stand-in)"))))
    serve(listeners)


# ---- Inbucket 3.1.0 -----------------------------------------------------------


def inbucket():
    if ARGS:
        fail(f"inbucket takes its settings from INBUCKET_* variables, not arguments {ARGS}")
    web = split_addr(os.environ.get("INBUCKET_WEB_ADDR", "0.0.0.0:9000"))
    smtp = split_addr(os.environ.get("INBUCKET_SMTP_ADDR", "0.0.0.0:2500"))
    pop3 = split_addr(os.environ.get("INBUCKET_POP3_ADDR", "0.0.0.0:1100"))
    ui = os.environ.get("INBUCKET_WEB_UIDIR", "ui")
    if not os.path.isfile(os.path.join(ui, "index.html")):
        fail(f"INBUCKET_WEB_UIDIR {ui} has no index.html (relative to {os.getcwd()})")
    storage = os.environ.get("INBUCKET_STORAGE_TYPE", "memory")
    if storage == "file":
        params = dict(p.split(":", 1) for p in env("INBUCKET_STORAGE_PARAMS").split(",") if ":" in p)
        if "path" not in params:
            fail("INBUCKET_STORAGE_PARAMS needs path:<dir> for file storage")
        writable_dir(params["path"], "mail storage")
    elif storage != "memory":
        fail(f"INBUCKET_STORAGE_TYPE {storage} is not file or memory")

    def smtp_reply(line, st):
        if st.get("data"):
            if line == ".":
                st["data"] = False
                return b"250 OK: queued\r\n", False
            return b"", False
        cmd = line[:4].upper()
        if cmd == "DATA":
            st["data"] = True
            return b"354 Start mail input\r\n", False
        if cmd == "QUIT":
            return b"221 Bye\r\n", True
        return b"250 OK\r\n", False

    tcp_banner_server(*smtp, b"220 inbucket stand-in ESMTP\r\n", smtp_reply)
    tcp_banner_server(*pop3, b"+OK inbucket stand-in POP3\r\n", lambda line, st: (b"+OK\r\n", line.upper() == "QUIT"))
    index = open(os.path.join(ui, "index.html"), "rb").read()
    serve([(*web, http_handler(lambda m, p, q, h, b: (200, "text/html", index) if p == "/" else jsn(200, [])))])


# ---- svix-server v1.88.0 ------------------------------------------------------


def verify_hs256(token, secret):
    try:
        head, payload, sig = token.split(".")
        want = base64.urlsafe_b64encode(hmac.new(secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest())
        return hmac.compare_digest(want.rstrip(b"="), sig.encode())
    except ValueError:
        return False


def redis_ping(dsn):
    url = urlparse(dsn)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=5) as s:
            f = s.makefile("rwb")
            if url.password:
                f.write(f"AUTH {unquote(url.password)}\r\n".encode())
                f.flush()
                if not f.readline().startswith(b"+OK"):
                    fail(f"Redis at {dsn} refused the password")
            f.write(b"PING\r\n")
            f.flush()
            answer = f.readline()
            if not answer.startswith(b"+PONG"):
                fail(f"Redis at {dsn} answered {answer!r} to PING")
    except OSError as e:
        fail(f"cannot reach Redis at {dsn}: {e}")


def svix_server():
    secret = env("SVIX_JWT_SECRET")
    if ARGS[:2] == ["jwt", "generate"]:
        fail("`jwt generate` is not stood in for: the emulator signs the key itself")
    unknown = [a for a in ARGS if a not in ("--run-migrations", "-r")]
    if unknown:
        fail(f"unknown arguments {unknown}")
    dsn = env("SVIX_DB_DSN")
    psql = subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-qAtc", "SELECT 1"], capture_output=True, text=True)
    if psql.returncode != 0 or psql.stdout.strip() != "1":
        fail(f"cannot connect to its database {dsn}: {psql.stderr.strip()}")
    if "--run-migrations" in ARGS or "-r" in ARGS:
        subprocess.run(["psql", dsn, "-qc", "CREATE TABLE IF NOT EXISTS _svix_stand_in_migrations (done boolean)"], check=True)
        say("migrations applied")
    if "redis" in (os.environ.get("SVIX_QUEUE_TYPE", ""), os.environ.get("SVIX_CACHE_TYPE", "")):
        redis_ping(env("SVIX_REDIS_DSN", "SVIX_QUEUE_TYPE or SVIX_CACHE_TYPE is redis"))
    host, port = split_addr(os.environ.get("SVIX_LISTEN_ADDRESS", "0.0.0.0:8071"))

    def route(method, path, query, headers, body):
        if path == "/api/v1/health/":
            return 204, "text/plain", ""
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not verify_hs256(auth[7:], secret):
            return jsn(401, {"code": "authentication_failed", "detail": "Invalid token"})
        return jsn(200, {"data": [], "done": True})

    serve([(host, port, http_handler(route))])


# ---- QStash dev server --------------------------------------------------------

QSTASH_DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="


def qstash():
    if ARGS[:1] == ["--version"]:
        print("qstash version 2.32.32 (stand-in)")
        return
    if ARGS[:1] != ["dev"]:
        fail(f"expected `qstash dev [-port=N]`, got {ARGS}")
    port, rest = 8080, ARGS[1:]
    for i, a in enumerate(rest):
        if a.startswith(("-port=", "--port=")):
            port = int(a.split("=", 1)[1])
        elif a in ("-port", "--port") and i + 1 < len(rest):
            port = int(rest[i + 1])
    # The dev server knows only its built-in user (token) and signing keys.

    def route(method, path, query, headers, body):
        if headers.get("Authorization", "") != f"Bearer {QSTASH_DEV_TOKEN}":
            return text(401, "Unauthorized")
        return jsn(200, {"messageId": "msg_stand_in"}) if method == "POST" else jsn(200, [])

    serve([("0.0.0.0", port, http_handler(route))])


# ---- stripe-mock v0.195.0 -----------------------------------------------------


def stripe_mock():
    port = 12111
    for i, a in enumerate(ARGS):
        if a in ("-port", "-http-port") and i + 1 < len(ARGS):
            port = int(ARGS[i + 1])
        elif a.startswith("-") and not a.lstrip("-").isdigit() and a not in ("-port", "-http-port"):
            fail(f"unknown flag {a}")

    def route(method, path, query, headers, body):
        if not headers.get("Authorization", "").startswith("Bearer sk_test_"):
            return jsn(401, {"error": {"message": "No valid API key provided.", "type": "invalid_request_error"}})
        return jsn(200, {"object": "list", "data": []})

    serve([("0.0.0.0", port, http_handler(route))])


PROGRAMS = {
    "clickhouse": clickhouse,
    "clickhouse-server": clickhouse,
    "clickhouse-client": clickhouse,
    "minio": minio,
    "inbucket": inbucket,
    "svix-server": svix_server,
    "qstash": qstash,
    "stripe-mock": stripe_mock,
}

if __name__ == "__main__":
    if NAME not in PROGRAMS:
        fail(f"no stand-in program called {NAME}; known: {', '.join(sorted(PROGRAMS))}")
    PROGRAMS[NAME]()
