# SPDX-License-Identifier: MIT
"""Agents that flood ttfd or never read (issue 12, "Limits"), both wire modes: ttfd's memory must
stay bounded whatever one agent sends, an agent that does not read must be held back (ttfd stops
reading it, or drops it), and one agent must not be able to fill ttfd's log.

Each flood runs inside a faultkit.Scene (an honest tunnel under marked load next to it: no error,
only its own answers, ttfd's fds and RSS back to baseline afterwards). ttfd's RSS growth is read
once it settles and compared with faultkit.FLOOD_RSS_LIMIT_KB (24 MiB; 64 MiB under ASan): its
buffers and marks allow a few MiB, the floods send 64 MiB or more.
"""

import base64
import json
import os
import signal
import socket
import threading

import pytest

import faultkit as fk
import rawagent as ra
import tunnelkit as tk

pytestmark = pytest.mark.skipif(tk.VALGRIND, reason="floods of 64 MiB: too slow under valgrind")

FLOOD = 64 << 20


def host(scene, agent):
    return tk.sub_host(scene.d, agent.tunnel_id)


def agent_for(mode, port):
    return ra.BinAgent(port) if mode == "binary" else ra.JsonAgent(port)


def growth_after(sc, unit, total=FLOOD, agent=None):
    """Floods ttfd with unit (a whole WebSocket frame) from agent without reading anything, then
    returns ttfd's settled RSS growth in kB."""
    sent, why = fk.flood(agent.c.sock, unit, total)
    g = fk.settled_growth_kb(sc.d.proc, sc.base.rss["ttfd"], fk.FLOOD_RSS_LIMIT_KB)
    return g, "%d MiB sent (%s), ttfd RSS +%d MiB" % (sent >> 20, why, g >> 10)


def bounded(sc, unit, agent):
    g, what = growth_after(sc, unit, agent=agent)
    assert g <= fk.FLOOD_RSS_LIMIT_KB, what


@pytest.mark.parametrize("mode", fk.MODES)
def test_ws_ping_flood_from_an_agent_that_never_reads(stack, mode):
    with fk.Scene(stack, mode=mode) as sc:
        a = agent_for(mode, sc.port)
        try:
            a.ready()
            bounded(sc, tk.ws_frame(9, b"p" * 125, mask=True), a)
        finally:
            a.close()


@pytest.mark.parametrize("mode", fk.MODES)
def test_json_ping_flood_from_an_agent_that_never_reads(stack, mode):
    with fk.Scene(stack, mode=mode) as sc:
        a = agent_for(mode, sc.port)
        try:
            a.ready()
            bounded(sc, tk.ws_frame(1, b'{"type":"ping"}', mask=True), a)
        finally:
            a.close()


def test_bin_unknown_stream_flood_from_an_agent_that_never_reads(stack):
    with fk.Scene(stack) as sc:
        a = ra.BinAgent(sc.port)
        try:
            a.ready()
            bounded(sc, tk.ws_frame(2, ra.frame(ra.DATA, 0, 4242, b""), mask=True), a)
        finally:
            a.close()


def test_bin_interim_flood_to_a_client_that_never_reads(stack):
    with fk.Scene(stack) as sc:
        a = ra.BinAgent(sc.port)
        c = socket.socket()
        try:
            a.ready()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.connect(("127.0.0.1", sc.port))
            c.sendall(tk.build_request("GET", "/hints", host(sc, a)))
            sid, _, _, _ = a.recv_request()
            hint = b"HTTP/1.1 103 Early Hints\r\nLink: </%s>; rel=preload\r\n\r\n" % (b"a" * 200)
            bounded(sc, tk.ws_frame(2, ra.frame(ra.RESPONSE, 0, sid, hint), mask=True), a)
        finally:
            c.close()
            a.close()


def test_json_response_head_continuations_are_bounded(stack):
    """A response head that never ends (headers_more forever): refused once past a limit
    (protocol_error), ttfd's memory bounded."""
    with fk.Scene(stack, mode="json") as sc:
        a = ra.JsonAgent(sc.port)
        c = tk.RawConn(sc.port)
        try:
            a.ready()
            c.send(tk.build_request("GET", "/head", host(sc, a)))
            m, _, _ = a.recv_request()
            rid = m["request_id"]
            a.send_json({"type": "http_response", "request_id": rid, "status_code": 200,
                         "headers": {"x-0": ["v"]}, "headers_more": True})
            val = "v" * 100000
            for seq in range(1, FLOOD // 100000):
                try:
                    a.send_json({"type": "http_response_headers", "request_id": rid, "seq": seq,
                                 "headers": {"x-%d" % seq: [val]}, "headers_more": True})
                except OSError:
                    break  # closed by ttfd: fine
            g = fk.settled_growth_kb(sc.d.proc, sc.base.rss["ttfd"], fk.FLOOD_RSS_LIMIT_KB)
            assert g <= fk.FLOOD_RSS_LIMIT_KB, "ttfd RSS +%d MiB for one response head" % (g >> 10)
            r = c.read_response()
            assert r.status == 502, r.raw_head
        finally:
            c.close()
            a.close()


# ------------------------------------------------------------------ the log


LOG_LINES_MAX = 200


@pytest.mark.parametrize("mode", fk.MODES)
def test_malformed_message_flood_does_not_fill_the_log(stack, mode):
    """100000 malformed frames (binary) or invalid JSON messages: at most a few hundred log
    lines (a count per interval, as ttfd does for accept failures)."""
    with fk.Scene(stack, mode=mode) as sc:
        a = agent_for(mode, sc.port)
        try:
            a.ready()
            unit = (tk.ws_frame(2, b"\x09\x00\x00\x00\x00\x01", mask=True) if mode == "binary"
                    else tk.ws_frame(1, b"{not json", mask=True))
            n0 = len(sc.d.proc.err_lines)
            a.c.send(unit * 100000)
            # ttfd has read them all once a ping sent after them is answered
            a.send_json({"type": "ping"})
            while True:
                op, data = a.recv_ws(60)
                if op == 1 and json.loads(data).get("type") == "pong":
                    break
            lines = len(sc.d.proc.err_lines) - n0
            assert lines <= LOG_LINES_MAX, "%d log lines for 100000 bad messages" % lines
        finally:
            a.close()


def test_agent_text_in_the_log_is_bounded(stack):
    with fk.Scene(stack, mode="json") as sc:
        a = ra.JsonAgent(sc.port)
        try:
            a.ready()
            n0 = len(sc.d.proc.err_lines)
            a.send_json({"type": "error", "request_id": None, "code": "internal_error",
                         "message": "E" * 1000000})
            a.send_json({"type": "ping"})
            a.recv_type("pong")
            longest = max((len(x) for x in sc.d.proc.err_lines[n0:]), default=0)
            # TLOG_MSG_MAX (4096) bytes of message, the time, level and "... (N more bytes)"
            assert longest <= 4096 + 160, "a log line of %d bytes from one agent message" % longest
        finally:
            a.close()


# ------------------------------------------------------------------ agents that never read


@pytest.mark.parametrize("mode", fk.MODES)
def test_upload_to_an_agent_that_never_reads(stack, mode):
    """Eight clients upload to an agent that never reads its socket: ttfd stops reading them
    (binary: per-stream windows; JSON: the link's high-water mark) and its RSS stays bounded."""
    with fk.Scene(stack, mode=mode) as sc:
        a = agent_for(mode, sc.port)
        clients, threads = [], []
        try:
            a.ready()
            size = 64 << 20

            def upload(s):
                try:
                    s.sendall(b"PUT /up HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                              % (host(sc, a).encode(), size))
                    for _ in range(size >> 16):
                        s.sendall(b"u" * 65536)
                except OSError:
                    pass  # closed at the end of the test

            for _ in range(8):
                s = socket.create_connection(("127.0.0.1", sc.port))
                clients.append(s)
                t = threading.Thread(target=upload, args=(s,), daemon=True)
                t.start()
                threads.append(t)
            g = fk.settled_growth_kb(sc.d.proc, sc.base.rss["ttfd"], fk.FLOOD_RSS_LIMIT_KB)
            assert g <= fk.FLOOD_RSS_LIMIT_KB, "ttfd RSS +%d MiB" % (g >> 10)
        finally:
            for s in clients:
                s.close()
            a.close()
            for t in threads:
                t.join(10)


class StallingService:
    """A local service that reads a request's head and 256 KiB of its body, then stops reading
    (its connections stay open until close())."""

    def __init__(self):
        self.ls = socket.create_server(("127.0.0.1", 0))
        self.port = self.ls.getsockname()[1]
        self.conns = []
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.conns.append(c)
            got = 0
            try:
                while got < 256 << 10:
                    d = c.recv(65536)
                    if not d:
                        break
                    got += len(d)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.ls.close()
        for c in self.conns:
            c.close()
        self.t.join(10)


@pytest.mark.parametrize("mode", fk.MODES)
@pytest.mark.parametrize("stall", ["local service stops reading", "ttf stops"])
def test_big_upload_to_a_stalled_tunnel_is_bounded(stack, mode, stall):
    """A 1 GiB upload (no body cap in either mode) to a local service that stops reading after
    256 KiB, or through a ttf that stops (SIGSTOP): ttfd stops reading the client and ttf the
    link (JSON: the link's high-water mark and ttf's pause of the link; binary: the windows), so
    neither one's RSS grows with the body."""
    with fk.Scene(stack, mode=mode) as sc:
        app = StallingService()
        a = stack.ttf(sc.d.endpoint(), app.port, *fk.mode_args(mode), *fk.TTF_ARGS)
        size = 1 << 30
        sent = [0]
        s = socket.create_connection(("127.0.0.1", sc.port))
        stopped, t = False, None

        def upload():
            try:
                s.sendall(b"PUT /up HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                          % (host(sc, a).encode(), size))
                blob = b"u" * (1 << 20)
                while sent[0] < size:
                    s.sendall(blob)
                    sent[0] += len(blob)
            except OSError:
                pass  # closed at the end of the test

        try:
            fk.quiet(a.proc)
            base = fk.rss_kb(a.proc.pid)
            if stall == "ttf stops":
                os.kill(a.proc.pid, signal.SIGSTOP)
                stopped = True
            t = threading.Thread(target=upload, daemon=True)
            t.start()
            # the first MiB taken: what the sockets and the tunnel hold before anything reads
            # the body need not reach more, with ttf stopped and the machine loaded
            tk.wait_for(lambda: sent[0] >= 1 << 20, 20 * tk.SLOW, "the upload to start")
            if stopped:
                # ttf must be resumed before its link's dead timer (SESSION_DEAD_SEC, 60 s) runs
                # out, or it reconnects, the exchange fails and ttfd rightly drains the rest of
                # the body: wait for the upload to stand still (ttfd stopped reading it), not
                # for ttfd's RSS to settle, which under ASan can take longer than that
                fk.wait_still(lambda: sent[0], 2.0, 20,
                              "ttfd to stop taking the upload while ttf is stopped")
                g = fk.rss_kb(sc.d.proc.pid) - sc.base.rss["ttfd"]
            else:
                g = fk.settled_growth_kb(sc.d.proc, sc.base.rss["ttfd"], fk.FLOOD_RSS_LIMIT_KB)
            assert g <= fk.FLOOD_RSS_LIMIT_KB, "ttfd RSS +%d MiB, %d MiB sent" % (g >> 10,
                                                                                sent[0] >> 20)
            if stopped:
                os.kill(a.proc.pid, signal.SIGCONT)
                stopped = False
            g = fk.settled_growth_kb(a.proc, base, fk.FLOOD_RSS_LIMIT_KB)
            assert g <= fk.FLOOD_RSS_LIMIT_KB, "ttf RSS +%d MiB, %d MiB sent" % (g >> 10,
                                                                               sent[0] >> 20)
            assert sent[0] < size // 4, "%d MiB of the body were taken" % (sent[0] >> 20)
        finally:
            if stopped:
                os.kill(a.proc.pid, signal.SIGCONT)
            s.close()
            a.stop()
            app.close()
            if t:
                t.join(10)


def test_json_response_flood_to_a_client_that_never_reads(stack):
    """A JSON agent pouring a response into a client that does not read: ttfd pauses reading
    the agent (JSON mode has no windows) and its RSS stays bounded."""
    with fk.Scene(stack, mode="json") as sc:
        a = ra.JsonAgent(sc.port)
        c = socket.socket()
        try:
            a.ready()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.connect(("127.0.0.1", sc.port))
            c.sendall(tk.build_request("GET", "/down", host(sc, a)))
            m, _, _ = a.recv_request()
            rid = m["request_id"]
            a.respond(rid, 200, {}, b"", more=True)
            piece = base64.b64encode(b"d" * 65536).decode()
            units = [tk.ws_frame(1, json.dumps({"type": "http_response_body", "request_id": rid,
                                                "seq": seq, "body": piece,
                                                "more": True}).encode(), mask=True)
                     for seq in range(1, FLOOD // 65536)]
            a.c.sock.settimeout(3 * tk.SLOW)
            try:
                for u in units:
                    a.c.sock.sendall(u)
            except socket.timeout:
                pass  # ttfd stopped reading: its backpressure
            g = fk.settled_growth_kb(sc.d.proc, sc.base.rss["ttfd"], fk.FLOOD_RSS_LIMIT_KB)
            assert g <= fk.FLOOD_RSS_LIMIT_KB, "ttfd RSS +%d MiB" % (g >> 10)
        finally:
            c.close()
            a.close()
