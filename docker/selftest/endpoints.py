#!/usr/bin/env python3
"""Self-test stand-ins for the four exposed Hexclave endpoints.

    endpoints.py ROLE PORT      ROLE: dashboard | backend | minio | inbucket

Each role answers the health path that services.json declares for it, with
the same status code as the real service. The backend role is backed by the
real PostgreSQL (database hexclave, table rows) so tests can prove that data
survives restarts:

    GET    /health             200 while the process runs
    GET    /health?db=1        200 while PostgreSQL answers SELECT 1, else 503
    PUT    /rows/<key>         stores the request body (at most 1 MiB) -> 204
    GET    /rows/<key>         200 with the stored body, 404 when absent
    DELETE /rows/<key>         204, 404 when absent

Keys are 1 to 200 characters of [A-Za-z0-9._-]. Database errors answer 503.
"""

import os
import queue
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg2

ROLES = {
    "dashboard": "/handler/sign-in",
    "backend": "/health",
    "minio": "/minio/health/live",
    "inbucket": "/",
}
KEY = re.compile(r"^/rows/([A-Za-z0-9._-]{1,200})$")
MAX_BODY = 1 << 20
# The local socket (trust): TCP asks for POSTGRES_PASSWORD whenever the runtime environment sets it.
DSN = os.environ.get("HEXCLAVE_SELFTEST_DSN", "host=/run/postgresql port=5432 user=postgres dbname=hexclave connect_timeout=3")


# Idle connections, newest first: the backend keeps them open between requests, as the real backend's
# Prisma client keeps its pool. A new connection per check costs a PostgreSQL fork and start-up, which
# in a just-resumed TCG guest made /health?db=1 answer 0.9-1.5 s after /health.
IDLE = queue.LifoQueue()
MAX_IDLE = 4


def db():
    return psycopg2.connect(DSN)


def take():
    """An idle connection (pooled=True) or a new one; raises psycopg2.Error when PostgreSQL is unreachable."""
    try:
        return IDLE.get_nowait(), True
    except queue.Empty:
        return db(), False


def give_back(conn):
    if conn.closed or IDLE.qsize() >= MAX_IDLE:
        conn.close()
    else:
        IDLE.put(conn)


class Handler(BaseHTTPRequestHandler):
    server_version = "hexclave-selftest"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature from BaseHTTPRequestHandler
        # Health checks run every few seconds: log everything else.
        if urlsplit(self.path).path in (ROLES[self.server.role], "/health"):
            return
        sys.stdout.write("%s %s\n" % (self.address_string(), format % args))

    def reply(self, code, body=b"", content_type="text/plain; charset=utf-8"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        role = self.server.role
        if role == "backend":
            if url.path == "/health":
                if parse_qs(url.query).get("db") == ["1"]:
                    return self.with_db(self.select_one)
                return self.reply(200, "ok")
            match = KEY.match(url.path)
            if match:
                return self.with_db(self.get_row, match.group(1))
            return self.reply(404, "not found")
        if url.path == ROLES[role]:
            if role == "dashboard":
                return self.reply(200, "<!doctype html><title>Sign in</title><h1>Hexclave self-test</h1>", "text/html")
            return self.reply(200, "ok")
        return self.reply(404, "not found")

    def do_PUT(self):
        match = KEY.match(urlsplit(self.path).path)
        if self.server.role != "backend" or not match:
            return self.reply(404, "not found")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.reply(413, "body larger than %d bytes" % MAX_BODY)
        body = self.rfile.read(length)
        return self.with_db(self.put_row, match.group(1), body)

    def do_DELETE(self):
        match = KEY.match(urlsplit(self.path).path)
        if self.server.role != "backend" or not match:
            return self.reply(404, "not found")
        return self.with_db(self.delete_row, match.group(1))

    def with_db(self, action, *args):
        """Runs action(cursor, *args) in a transaction; replies only after the commit.

        A pooled connection that PostgreSQL has closed since (a restart of the database) fails on its
        first statement: it is dropped and the action runs once more on a new connection.
        """
        for attempt in (1, 2):
            try:
                conn, pooled = take()
            except psycopg2.Error as error:
                return self.reply(503, "database unavailable: %s" % str(error).strip())
            try:
                with conn, conn.cursor() as cur:
                    answer = action(cur, *args)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                conn.close()
                if pooled and attempt == 1:
                    continue
                return self.reply(503, "database error: %s" % str(error).strip())
            except psycopg2.Error as error:
                give_back(conn)
                return self.reply(503, "database error: %s" % str(error).strip())
            give_back(conn)
            return self.reply(*answer)

    @staticmethod
    def select_one(cur):
        cur.execute("SELECT 1")
        cur.fetchone()
        return (200, "ok")

    @staticmethod
    def get_row(cur, key):
        cur.execute("SELECT value FROM rows WHERE key = %s", (key,))
        row = cur.fetchone()
        if row is None:
            return (404, "no row %s" % key)
        return (200, bytes(row[0]), "application/octet-stream")

    @staticmethod
    def put_row(cur, key, body):
        cur.execute(
            "INSERT INTO rows (key, value) VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
            (key, psycopg2.Binary(body)),
        )
        return (204,)

    @staticmethod
    def delete_row(cur, key):
        cur.execute("DELETE FROM rows WHERE key = %s", (key,))
        return (204,) if cur.rowcount else (404, "no row %s" % key)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ROLES:
        sys.stderr.write("usage: endpoints.py {%s} PORT\n" % "|".join(ROLES))
        return 2
    bind = os.environ.get("HEXCLAVE_SELFTEST_BIND", "0.0.0.0")
    server = ThreadingHTTPServer((bind, int(sys.argv[2])), Handler)
    server.daemon_threads = True
    server.role = sys.argv[1]
    sys.stdout.write("self-test %s listening on %s:%s\n" % (server.role, bind, sys.argv[2]))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
