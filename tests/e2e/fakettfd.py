# SPDX-License-Identifier: MIT
"""A server written here, speaking ttf.json.v1 to a real `ttf` (docs/protocol.md §1-2), for tests
that need a server ttfd would never be: one that announces a request window of any size, sends
request body beyond it, or credits windows for requests that do not exist.

FakeTtfd listens on 127.0.0.1:0; accept() takes ttf's WebSocket upgrade, answers 101 with
ttf.json.v1, reads `ready` and sends the connection_established the test gives. Messages then go
one at a time, with deadlines (tunnelkit.SLOW scales them); text messages over 32000 bytes leave
in frames of at most 32000 bytes, as ttfd and API Gateway send them.
Owns: its listening socket and the one accepted connection (close() closes both).
"""

import base64
import json
import socket

import rawagent
import tunnelkit as tk

FRAME = 32000


class FakeTtfd:
    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.endpoint = "ws://127.0.0.1:%d/_tunnel" % self.port
        self.c = None
        self.ready = None

    def accept(self, established, timeout=15):
        """Takes ttf's connection: 101, its `ready` (returned), then connection_established with
        the fields of `established` over the usual ones."""
        self.lsock.settimeout(timeout * tk.SLOW)
        s, _ = self.lsock.accept()
        self.c = tk.RawConn(0, sock=s, timeout=timeout)
        head = self.c.read_until(b"\r\n\r\n")
        key = [ln.split(b":", 1)[1].strip() for ln in head.split(b"\r\n")
               if ln.lower().startswith(b"sec-websocket-key:")][0].decode()
        self.c.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                     "Sec-WebSocket-Protocol: ttf.json.v1\r\n\r\n" % tk.ws_accept(key)).encode())
        self.ready = self.recv_type("ready")
        est = {"type": "connection_established", "connection_id": "c1", "tunnel_id": "fake",
               "public_url": "http://fake.localhost:1", "subdomain_url": "http://fake.localhost:1",
               "path_based_url": "http://localhost:1/fake"}
        est.update(established)
        self.send(est)
        return self.ready

    def send_text(self, payload):
        parts = [payload[i:i + FRAME] for i in range(0, len(payload), FRAME)] or [b""]
        frames = b"".join(tk.ws_frame(1 if i == 0 else 0, p, mask=False, fin=i == len(parts) - 1)
                          for i, p in enumerate(parts))
        self.c.send(frames)

    def send(self, obj):
        self.send_text(json.dumps(obj).encode())

    def recv_msg(self, timeout=20):
        """The next JSON message from ttf (pings answered; its close raises EOFError)."""
        self.c.sock.settimeout(timeout * tk.SLOW)
        while True:
            op, _, data = tk.ws_read_message(self.c.read_exact)
            if op == 9:
                self.c.send(tk.ws_frame(10, data, mask=False))
            elif op == 8:
                raise EOFError("ttf closed the WebSocket: %r" % data)
            elif op == 1:
                return json.loads(data)

    # the next message of one of the types, others skipped (the fake agent's own loop)
    recv_type = rawagent.JsonAgent.recv_type

    def request(self, rid, method, uri, headers, body=b"", more=False):
        self.send({"type": "http_request", "request_id": rid, "method": method, "uri": uri,
                   "headers": headers, "body": base64.b64encode(body).decode(), "more": more,
                   "timestamp": 0})

    def piece(self, rid, seq, body, more):
        self.send(self.piece_msg(rid, seq, body, more))

    @staticmethod
    def piece_msg(rid, seq, body, more):
        return {"type": "http_request_body", "request_id": rid, "seq": seq,
                "body": base64.b64encode(body).decode(), "more": more}

    def close(self):
        for s in (self.c, self.lsock):
            try:
                s.close()
            except OSError:
                pass
