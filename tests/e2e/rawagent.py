# SPDX-License-Identifier: MIT
"""An agent written here, speaking the wire protocol directly (docs/protocol.md §1-3), for tests
that need an agent ttf would never be: one that overruns its Content-Length, answers twice, sends
DATA on a bodiless response, uses stream ids it was never given, or just records what ttfd sends.

BinAgent speaks ttf.bin.v2 (frames: type u8, flags u8, stream id u32 BE, payload), JsonAgent
ttf.json.v1. Both do the upgrade and `ready` on a raw socket and then let the test read and write
messages one at a time, with deadlines (tunnelkit.SLOW scales them).
"""

import base64
import json
import os
import socket
import struct
import time

import tunnelkit as tk

OPEN, DATA, RESPONSE, WINDOW, RESET, TRAILERS = 1, 2, 3, 4, 5, 6
FIN = 0x01
RST_CANCEL, RST_PROTOCOL_ERROR = 5, 6


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">BBI", ftype, flags, sid) + payload


def upgrade_request(port, protocol, headers=()):
    key = base64.b64encode(os.urandom(16)).decode()
    hdrs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Protocol", protocol)] + list(headers)
    return tk.build_request("GET", "/_tunnel", "127.0.0.1:%d" % port, hdrs)


class _Agent:
    def __init__(self, port, protocol, sock=None, refusal_ok=False, headers=()):
        self.c = tk.RawConn(port, timeout=20, sock=sock)
        self.c.send(upgrade_request(port, protocol, headers))
        status, _, heads, raw = self.c.read_head()
        self.status, self.heads = status, heads
        if status != 101 and refusal_ok:
            return
        assert status == 101, raw
        chosen = [v for n, v in heads if n.lower() == "sec-websocket-protocol"]
        assert chosen == [protocol], raw
        self.pending_text = []

    # -- WebSocket messages
    def send_ws(self, opcode, payload):
        self.c.send(tk.ws_frame(opcode, payload, mask=True))

    def recv_ws(self, timeout=20, until_close=False):
        """(opcode, payload) of the next data message; pings answered, close raises EOFError.
        until_close: data messages skipped, the close frame's (code, reason) returned, all
        within timeout."""
        deadline = time.monotonic() + timeout * tk.SLOW
        while True:
            left = deadline - time.monotonic() if until_close else timeout * tk.SLOW
            assert left > 0, "no close frame within %d s" % timeout
            self.c.sock.settimeout(left)
            op, masked, data = tk.ws_read_message(self.c.read_exact)
            assert not masked, "server frames must not be masked"
            if op == 9:
                self.send_ws(10, data)
                continue
            if op == 8 and until_close:
                return int.from_bytes(data[:2], "big"), data[2:].decode()
            if op == 8:
                raise EOFError("server closed the WebSocket: %r" % data)
            if op == 10 or until_close:
                continue
            return op, data

    def send_json(self, obj):
        self.send_ws(1, json.dumps(obj).encode())

    def ready(self, **fields):
        self.send_json(dict(type="ready", **fields))
        while True:
            op, data = self.recv_ws()
            if op == 1:
                m = json.loads(data)
                if m.get("type") == "connection_established":
                    self.tunnel_id = m["tunnel_id"]
                    return m
                self.pending_text.append(m)

    def close(self):
        try:
            self.send_ws(8, b"\x03\xe8")
        except OSError:
            pass
        self.c.close()


class BinAgent(_Agent):
    """ttf.bin.v2 on a raw socket."""

    PROTOCOL = "ttf.bin.v2"

    def __init__(self, port, sock=None, refusal_ok=False, headers=()):
        super().__init__(port, self.PROTOCOL, sock, refusal_ok, headers)

    def send_frame(self, ftype, flags, sid, payload=b""):
        self.send_ws(2, frame(ftype, flags, sid, payload))

    def recv_frame(self, timeout=20, skip_window=True):
        """(type, flags, sid, payload) of the next binary frame (WINDOW skipped by default)."""
        while True:
            op, data = self.recv_ws(timeout)
            if op != 2:
                continue
            ftype, flags, sid = struct.unpack(">BBI", data[:6])
            if skip_window and ftype == WINDOW:
                continue
            return ftype, flags, sid, data[6:]

    def recv_open(self, timeout=20):
        """The next OPEN: (sid, tunnel index, head bytes, fin)."""
        while True:
            ftype, flags, sid, payload = self.recv_frame(timeout)
            if ftype == OPEN:
                return sid, payload[0], payload[1:], bool(flags & FIN)

    def recv_request(self, timeout=20):
        """OPEN and the request body that follows: (sid, head, body, trailers or None)."""
        sid, _, head, fin = self.recv_open(timeout)
        body, trailers = b"", None
        while not fin:
            ftype, flags, fsid, payload = self.recv_frame(timeout)
            assert fsid == sid, "a frame of stream %d while reading stream %d" % (fsid, sid)
            if ftype == DATA:
                body += payload
            elif ftype == TRAILERS:
                trailers = payload
            elif ftype == RESET:
                raise AssertionError("stream %d reset: %r" % (sid, payload))
            fin = bool(flags & FIN)
        return sid, head, body, trailers

    def respond(self, sid, head, body=b"", fin=True):
        """RESPONSE (head: bytes ending in CRLF CRLF), then DATA with FIN (or FIN on RESPONSE)."""
        self.send_frame(RESPONSE, FIN if fin and not body else 0, sid, head)
        if body or not fin:
            self.send_frame(DATA, FIN if fin else 0, sid, body)

    def wait_reset(self, sid, timeout=20):
        """Frames until a RESET of sid: returns its code."""
        while True:
            ftype, _, fsid, payload = self.recv_frame(timeout)
            if ftype == RESET and fsid == sid:
                return payload[0]


class JsonAgent(_Agent):
    """ttf.json.v1 on a raw socket."""

    PROTOCOL = "ttf.json.v1"

    def __init__(self, port, sock=None, refusal_ok=False, headers=()):
        super().__init__(port, self.PROTOCOL, sock, refusal_ok, headers)

    def recv_msg(self, timeout=20):
        if self.pending_text:
            return self.pending_text.pop(0)
        while True:
            op, data = self.recv_ws(timeout)
            if op == 1:
                return json.loads(data)

    def recv_type(self, *types, timeout=20):
        while True:
            m = self.recv_msg(timeout)
            if m.get("type") in types:
                return m

    def recv_request(self, timeout=20):
        """http_request with continuation headers and body pieces: (msg, headers, body)."""
        m = self.recv_type("http_request", timeout=timeout)
        headers = dict((k.lower(), v) for k, v in m.get("headers", {}).items())
        hseq = 0
        more_heads = m.get("headers_more", False)
        while more_heads:
            c = self.recv_type("http_request_headers", timeout=timeout)
            hseq += 1
            assert c["seq"] == hseq
            for k, v in c.get("headers", {}).items():
                headers.setdefault(k.lower(), []).extend(v)
            more_heads = c.get("headers_more", False)
        body = base64.b64decode(m.get("body") or "")
        seq = 0
        more = m.get("more", False)
        while more:
            p = self.recv_type("http_request_body", timeout=timeout)
            seq += 1
            assert p["seq"] == seq, "pieces out of order"
            body += base64.b64decode(p.get("body") or "")
            more = p.get("more", False)
        return m, headers, body

    def respond(self, rid, status, headers=None, body=b"", more=False):
        self.send_json({"type": "http_response", "request_id": rid, "status_code": status,
                        "headers": headers or {}, "body": base64.b64encode(body).decode(),
                        "more": more})

    def piece(self, rid, seq, body, more):
        self.send_json({"type": "http_response_body", "request_id": rid, "seq": seq,
                        "body": base64.b64encode(body).decode(), "more": more})


MODES = {"bin": BinAgent, "json": JsonAgent}


def keepalive_get(port, host, target, timeout=20):
    """A raw keep-alive connection (tunnelkit.RawConn) after one GET was sent on it."""
    c = tk.RawConn(port, timeout=timeout)
    c.send(tk.build_request("GET", target, host))
    return c


def sock_closed(conn, timeout=5):
    """True when the peer closed conn (EOF or reset) within timeout with nothing more arriving;
    False when bytes arrived or it stayed open."""
    conn.sock.settimeout(timeout * tk.SLOW)
    try:
        data = conn.sock.recv(65536)
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return data == b""
