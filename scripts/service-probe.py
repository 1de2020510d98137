#!/usr/bin/env python3
"""Drives a running proxwatch like the browser does, for scripts/package-test (the packaged service
booted in systemd-nspawn). Standard library only. The password is read from $PASSWORD.

  service-probe.py BASE_URL USER terminal COMMAND
      login, a terminal ticket, the websocket; types COMMAND at once and prints the terminal's output
      up to a marker echoed after it.
  service-probe.py BASE_URL USER settings-set KEY JSON
      stores KEY = JSON on the Settings page (PUT /api/settings), then asks for the restart that applies it.
  service-probe.py BASE_URL USER settings-get KEY
      prints KEY's running value and its source, as JSON.

Exit 1 (with what went wrong) on any failure."""

import base64
import http.client
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

MARKER = "pxw-probe-done"


def request(base, method, path, body=None, headers=None):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    return r.status, r.getheader("Set-Cookie"), data


def frame(opcode, payload):
    # Client frames are masked (RFC 6455 5.3).
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("the terminal closed")
            buf += chunk
        return buf

    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    return b0 & 0x0F, exact(n)


def login(base, user):
    status, cookie, data = request(base, "POST", "/api/auth/login", {"username": user, "password": os.environ["PASSWORD"]})
    if status != 200 or not cookie:
        sys.exit(f"login: {status} {data[:200]!r}")
    cookie = cookie.split(";")[0]
    return cookie, {"Cookie": cookie, "X-CSRF-Token": json.loads(data)["csrf_token"]}


def terminal(base, user, command):
    cookie, auth = login(base, user)
    status, _, data = request(base, "POST", "/api/terminal/ticket", {}, auth)
    if status != 200:
        sys.exit(f"ticket: {status} {data[:200]!r}")
    ticket = json.loads(data)["ticket"]

    u = urllib.parse.urlsplit(base)
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /api/terminal/ws?ticket={urllib.parse.quote(ticket)} HTTP/1.1\r\n"
            f"Host: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            sys.exit(f"websocket: closed during the handshake: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        sys.exit(f"websocket: {head.splitlines()[0]!r}")
    # Typed at once, before the shell can have shown its prompt: proxwatch holds it until then.
    sock.sendall(frame(0x2, f"{command}; echo {MARKER[:4]}''{MARKER[4:]}\r".encode()))
    out = b""
    deadline = time.monotonic() + 20
    while MARKER.encode() not in out:
        if time.monotonic() > deadline:
            sys.exit(f"no answer within 20 s; the terminal showed: {out.decode(errors='replace')!r}")
        opcode, payload = read_frame(sock)
        if opcode == 0x8:
            sys.exit(f"the terminal closed: {payload!r}; it showed: {out.decode(errors='replace')!r}")
        if opcode in (0x1, 0x2):
            out += payload
    sock.sendall(frame(0x8, struct.pack("!H", 1000)))
    sock.close()
    print(out.decode(errors="replace"))


def settings_set(base, user, key, value):
    _, auth = login(base, user)
    status, _, data = request(base, "PUT", "/api/settings", {"changes": {key: json.loads(value)}}, auth)
    if status != 200:
        sys.exit(f"PUT /api/settings: {status} {data[:300]!r}")
    if key not in json.loads(data)["restart_needed"]:
        sys.exit(f"{key} was stored but is not listed as needing a restart: {data[:300]!r}")
    status, _, data = request(base, "POST", "/api/settings/restart", {}, auth)
    if status != 202:
        sys.exit(f"POST /api/settings/restart: {status} {data[:300]!r}")
    print(f"{key} stored; restart requested")


def settings_get(base, user, key):
    _, auth = login(base, user)
    status, _, data = request(base, "GET", "/api/settings", None, {"Cookie": auth["Cookie"]})
    if status != 200:
        sys.exit(f"GET /api/settings: {status} {data[:300]!r}")
    entry = next(e for e in json.loads(data)["entries"] if e["key"] == key)
    print(json.dumps({"value": entry["value"], "source": entry["source"]}))


def main():
    base, user, what = sys.argv[1:4]
    args = sys.argv[4:]
    if what == "terminal":
        terminal(base, user, *args)
    elif what == "settings-set":
        settings_set(base, user, *args)
    elif what == "settings-get":
        settings_get(base, user, *args)
    else:
        sys.exit(f"unknown action {what}")


if __name__ == "__main__":
    main()
