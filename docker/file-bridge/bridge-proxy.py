#!/usr/bin/env python3
"""The guest side of the emulator's file bridge (shared by the Hexclave and the self-test image).

    bridge-proxy.py [PORT]        default 8110, listening on 127.0.0.1 only

The Backend reaches the host's project files at HEXCLAVE_FILE_BRIDGE_URL
(http://127.0.0.1:8110, the container uses the VM's network). Every request is
forwarded to the host's bridge at http://10.0.2.2:<port> with
`Authorization: Bearer <token>` added; port and token come from the fw_cfg
entry opt/hexclave/bridge, READ AGAIN ON EVERY REQUEST, because a resumed VM
talks to a new bridge with a new port and token:

    HEXCLAVE_FILE_BRIDGE_FWCFG (default /run/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw)
    content: "hexclave-bridge/1 port=NNNNN token=<64 hex>\\n"; port=00000 means no bridge

Answers: whatever the host bridge answers (see packages/image-builder/README.md,
"File bridge": /v1/files/<path>, /v1/list/<dir>, /v1/config); 503 when there
is no bridge (turned off, not yet started, or unreachable); GET /healthz 200
while this proxy runs, with {"bridge": true|false}. Bodies above 64 MiB: 413.
"""

import http.client
import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FWCFG = os.environ.get(
    "HEXCLAVE_FILE_BRIDGE_FWCFG", "/run/qemu_fw_cfg/by_name/opt/hexclave/bridge/raw"
)
HOST = os.environ.get("HEXCLAVE_FILE_BRIDGE_HOST", "10.0.2.2")
PAYLOAD = re.compile(r"^hexclave-bridge/1 port=(\d{5}) token=([0-9a-f]{64})\n?$")
MAX_BODY = 64 << 20
PASS_HEADERS = ("content-type", "content-length", "last-modified", "allow", "cache-control")


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


class Handler(BaseHTTPRequestHandler):
    server_version = "hexclave-file-bridge-proxy"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature from BaseHTTPRequestHandler
        if self.path != "/healthz":
            sys.stdout.write("%s\n" % (format % args))

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def forward(self):
        if self.path == "/healthz":
            self.reply(200, {"ok": True, "bridge": endpoint() is not None})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.reply(413, {"error": "too-large", "message": "body over %d bytes" % MAX_BODY})
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else None
        ep = endpoint()
        if ep is None:
            self.reply(503, {"error": "no-bridge", "message": "the emulator was started without a file bridge"})
            return
        port, token = ep
        headers = {"Authorization": "Bearer " + token}
        if self.headers.get("Content-Type"):
            headers["Content-Type"] = self.headers["Content-Type"]
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            res = conn.getresponse()
            data = res.read()
            conn.close()
        except OSError as e:
            self.reply(503, {"error": "bridge-unreachable", "message": str(e)})
            return
        self.send_response(res.status)
        for name, value in res.getheaders():
            if name.lower() in PASS_HEADERS and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_POST = forward


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8110
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
