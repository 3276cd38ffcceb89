# SPDX-License-Identifier: MIT
"""A public client that leaves while its exchange is neither read nor written: ttfd holds its
upload back (the stream's window is shut) and the local service says nothing. ttfd notices the
client's FIN or reset at once (as nginx does with EPOLLRDHUP), logs the request as 499, and
cancels the stream toward the agent (binary RESET, JSON cancel), which closes its local
connection; before, the exchange lived until --request-timeout (then 30 s). Both wire modes, plain
and TLS public listeners, FIN and RST, many clients at once.

What is no departure: a client that half-closes (shutdown(SHUT_WR), as `nc -N` does) after a
whole request, held back or not, gets its whole answer; a keep-alive client whose pipelined
requests wait unread is served; a half-close once the agent sent its whole answer, part of it
still in ttfd's output, gets the rest; a TLS client that leaves during its handshake is freed at
once."""

import json
import socket
import ssl
import struct
import threading
import time
import urllib.request

import pytest

import pki
import tunnelkit as tk
from scriptapp import ScriptApp

DOMAIN = "tun.localhost"  # OpenSSL refuses one-label wildcards such as *.localhost
SOON = 5 * tk.SLOW  # far below --request-timeout (120 s)
# body octets sent: past what ttfd takes for the stream's window (binary 256 KiB; JSON request
# window 1 MiB), within what its socket buffers hold, so that the client's FIN reaches ttfd
SENT = {"binary": 320 << 10, "json": (1 << 20) + (64 << 10)}
DECLARED = 8 << 20  # the Content-Length: never reached


class Silent:
    """/silent: reads the head, never the body, never answers; notes ttf's end of its local
    connection; holds until released or its connection fails."""

    streams_body = True

    def __init__(self):
        self.peers = []
        self.lock = threading.Lock()
        self.release = threading.Event()

    def __call__(self, req, conn):
        with self.lock:
            self.peers.append(conn.getpeername())
        self.release.wait(60)
        return False


def late(req, conn):
    """/late: answers 0.3 s after the whole request (its body read and counted)."""
    time.sleep(0.3)
    body = b"late answer to %s, %d octets" % (req.target.encode(), len(req.body))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return True


def slow_reader(req, conn):
    """/slowread: waits 0.5 s before it reads the body (ttfd holds the upload back meanwhile),
    then answers how many octets came."""
    time.sleep(0.5)
    n = int(req.get("Content-Length"))
    got = len(req.buf[0])
    req.buf[0] = b""
    while got < n:
        data = conn.recv(min(65536, n - got))
        if not data:
            return False
        got += len(data)
    body = b"got %d" % got
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return True


slow_reader.streams_body = True


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = pki.make_ca(d)
    cert, key = pki.make_server_cert(d, ca, "srv", ["localhost", DOMAIN, "*." + DOMAIN],
                                     ["127.0.0.1"])
    return {"ca": str(ca[2]), "cert": str(cert), "key": str(key)}


@pytest.fixture(params=["binary", "json"])
def mode(request):
    return request.param


@pytest.fixture(params=["plain", "tls"])
def tls(request):
    return request.param == "tls"


def setup_tunnel(stack, mode, tls, certs, ttfd_args=()):
    silent = Silent()
    app = ScriptApp({"/silent": silent, "/late": late, "/slowread": slow_reader})
    stack.items.append(("server", app, None))
    args = list(ttfd_args) + ["--admin", "127.0.0.1:0"]
    if tls:
        args += ["--domain", DOMAIN, "--tls-cert", certs["cert"], "--tls-key", certs["key"]]
    d = stack.ttfd(*args)
    ttf_args = ["--protocol", mode] + (["--ca-file", certs["ca"]] if tls else [])
    endpoint = "wss://localhost:%d/_tunnel" % d.port if tls else d.endpoint()
    a = stack.ttf(endpoint, app.port, *ttf_args)
    host = ("%s.%s:%d" % (a.tunnel_id, DOMAIN, d.port)) if tls else tk.sub_host(d, a.tunnel_id)
    silent_release = silent.release
    stack.items.append(("server", type("R", (), {"close": lambda self: silent_release.set()})(),
                        None))
    ctx = ssl.create_default_context(cafile=certs["ca"]) if tls else None
    return d, a, app, silent, host, ctx


def client(d, host, ctx):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=20 * tk.SLOW)
    if ctx:
        s = ctx.wrap_socket(s, server_hostname=host.split(":")[0])
    return s


def unsent(s):
    """Octets of ours the peer has not acknowledged (SIOCOUTQ)."""
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]


def upload_then_stall(d, host, ctx, mode):
    """A client POSTs DECLARED octets to /silent, sends SENT[mode] of them and waits until
    ttfd's kernel has every one of them (so that its FIN, sent next, reaches ttfd at once)."""
    s = client(d, host, ctx)
    s.sendall(b"POST /silent HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
              % (host.encode(), DECLARED))
    s.sendall(b"u" * SENT[mode])
    tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
    return s


def metrics(d):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.admin_port, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def leave(s, how):
    if how == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_a_client_leaving_a_held_back_upload_is_cancelled_at_once(stack, certs, mode, tls, how):
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, tls, certs)
    s = upload_then_stall(d, host, ctx, mode)
    tk.wait_for(lambda: len(silent.peers) == 1, 10 * tk.SLOW, "the request reaching the app")
    peer, app_addr = silent.peers[0], ("127.0.0.1", app.port)
    time.sleep(0.2)  # nothing ends it meanwhile: the exchange waits, held back
    assert tk.tcp_state(peer, app_addr) == tk.TCP_ESTABLISHED
    assert metrics(d)["ttfd_streams_open"] == 1
    t0 = time.monotonic()
    leave(s, how)
    d.proc.wait_line(r"POST /silent 499 ", SOON, stream="err")
    tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, SOON,
                "ttf closing the local connection of the exchange its client left")
    took = time.monotonic() - t0
    print("%s %s %s: cancelled %.3f s after the client left"
          % (mode, "tls" if tls else "plain", how, took))
    tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")


def test_many_clients_leaving_at_once(stack, certs, mode):
    n = 24
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, False, certs)
    socks = [upload_then_stall(d, host, ctx, mode) for _ in range(n)]
    tk.wait_for(lambda: len(silent.peers) == n, 20 * tk.SLOW, "every request reaching the app")
    app_addr = ("127.0.0.1", app.port)
    for i, s in enumerate(socks):
        leave(s, "rst" if i % 2 else "fin")
    tk.wait_for(lambda: all(tk.tcp_state(p, app_addr) != tk.TCP_ESTABLISHED for p in silent.peers),
                SOON, "ttf closing every local connection")
    tk.wait_for(lambda: len(d.proc.err_times(r"POST /silent 499 ")) == n, SOON,
                "a 499 line per client")
    assert metrics(d)["ttfd_streams_open"] == 0


def shut_wr(s):
    """shutdown(SHUT_WR) on the TCP socket itself (an SSLSocket's own shutdown would drop its
    TLS state): the FIN, without close_notify."""
    socket.socket.shutdown(s, socket.SHUT_WR)


def read_answer(s):
    c = tk.RawConn(0, sock=s)
    r = c.read_response()
    rest = c.read_to_eof()
    return r, rest


def test_a_half_closed_client_gets_its_answer(stack, certs, mode, tls):
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, tls, certs)
    s = client(d, host, ctx)
    try:
        s.sendall(b"GET /late HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        shut_wr(s)
        r, rest = read_answer(s)
        assert r.status == 200, r.raw_head
        assert r.body == b"late answer to /late, 0 octets"
        assert rest == b""  # then the connection closes
    finally:
        s.close()
    d.proc.wait_line(r"GET /late 200 ", SOON, stream="err")


def test_a_half_close_after_a_held_back_upload_is_no_departure(stack, certs, mode, tls):
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, tls, certs)
    n = 3 << 20  # past the window: held back while the app waits
    s = client(d, host, ctx)
    try:
        s.sendall(b"POST /slowread HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                  % (host.encode(), n))
        # One thread: /slowread answers only once it has the whole body, and an SSLSocket must
        # not be written by one thread while another reads it (OpenSSL's objects are not
        # thread-safe: that gave spurious SSLEOFErrors).
        s.sendall(b"v" * n)
        shut_wr(s)
        r, rest = read_answer(s)
        assert r.status == 200, r.raw_head
        assert r.body == b"got %d" % n
    finally:
        s.close()


def test_pipelined_requests_waiting_unread_are_no_close(stack, certs, mode):
    """70 KiB of pipelined requests behind a slow one: ttfd stops reading them (64 KiB held) and
    waits; nothing of it is a close."""
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, False, certs)
    one = b"GET /late?%s HTTP/1.1\r\nHost: %s\r\n\r\n"
    reqs = [one % (b"x" * 1000 + b"%d" % i, host.encode()) for i in range(70)]
    s = client(d, host, ctx)
    try:
        s.sendall(b"".join(reqs))
        c = tk.RawConn(0, sock=s)
        for i in range(3):  # 0.3 s each: the rest waits unread meanwhile
            r = c.read_response()
            assert r.status == 200 and r.body.startswith(b"late answer"), (i, r.raw_head)
    finally:
        s.close()


def test_a_tls_client_leaving_during_its_handshake_is_freed_at_once(stack, certs):
    d, a, app, silent, host, ctx = setup_tunnel(stack, "binary", True, certs)
    base = metrics(d)["ttfd_public_connections"]
    socks = []
    for how in ("close", "half-close"):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40)  # a cut hello
        socks.append((s, how))
    tk.wait_for(lambda: metrics(d)["ttfd_public_connections"] == base + 2, SOON, "both accepted")
    for s, how in socks:
        if how == "close":
            s.close()
        else:
            s.shutdown(socket.SHUT_WR)
    tk.wait_for(lambda: metrics(d)["ttfd_public_connections"] == base, SOON,
                "ttfd freeing both (not at --header-timeout)")
    for s, _ in socks:
        s.close()


def chunked_until_held(d, s, host):
    """A chunked POST to /silent whose chunks go out until ttfd leaves some of them unread in its
    socket (the stream's window shut: the app reads nothing), every octet in ttfd's kernel."""
    s.sendall(b"POST /silent HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
              % host.encode())
    ttfd_end = ("127.0.0.1", d.port)
    client_end = s.getsockname()
    unit = b"%x\r\n%s\r\n" % (16384, b"c" * 16384)
    for _ in range(2000):
        s.sendall(unit)
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        q = tk.rx_queue(ttfd_end, client_end)
        if q:
            time.sleep(0.3)  # ttfd is not reading it: the window is shut
            if tk.rx_queue(ttfd_end, client_end) >= q:
                return
    raise AssertionError("ttfd never held the upload back")


@pytest.mark.parametrize("cut", ["mid-chunk", "mid-size-line", "before-trailers-end"])
def test_a_chunked_upload_left_with_octets_still_queued_is_cancelled(stack, certs, mode, cut):
    """The client leaves (FIN) with octets of its chunked body still queued unread in ttfd's
    socket, the body not ended in them: ttfd reads the queue without taking it (MSG_PEEK) and
    sees that the request can never end: 499 at once, the agent told, the local connection
    closed (it waited for --request-timeout before: any queued octet counted as maybe the
    last chunk)."""
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, False, certs)
    s = client(d, host, None)
    chunked_until_held(d, s, host)
    tk.wait_for(lambda: len(silent.peers) == 1, 10 * tk.SLOW, "the request reaching the app")
    tail = {"mid-chunk": b"2000\r\n" + b"x" * 100,
            "mid-size-line": b"20",
            "before-trailers-end": b"0\r\nX-Sum: 1\r\n"}[cut]
    s.sendall(tail)
    tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
    peer, app_addr = silent.peers[0], ("127.0.0.1", app.port)
    s.close()
    d.proc.wait_line(r"POST /silent 499 ", SOON, stream="err")
    tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, SOON,
                "ttf closing the local connection of the exchange its client left")
    tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")


@pytest.mark.parametrize("end", [b"0\r\n\r\n", b"0\r\nX-Sum: 1\r\n\r\n"])
def test_a_chunked_upload_half_closed_after_its_last_chunk_is_no_departure(stack, certs, mode,
                                                                          end):
    """The same, but the queued octets end the body (the last chunk, trailers or not): a
    half-close, the exchange goes on."""
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, False, certs)
    s = client(d, host, None)
    try:
        chunked_until_held(d, s, host)
        s.sendall(end)
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        shut_wr(s)
        time.sleep(1)
        assert not d.proc.err_times(r"POST /silent "), "the exchange ended: %s" % d.proc.stderr()
        assert metrics(d)["ttfd_streams_open"] == 1
    finally:
        s.close()


def test_a_half_closed_client_that_then_resets_is_cancelled(stack, certs, mode):
    """A half-close after a whole request held back is no departure; the reset that follows
    when the client gives up is one, at once, while ttfd still does not read it (the watch told
    the FIN once and then kept the reset to itself: the exchange waited for
    --request-timeout)."""
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, False, certs)
    s = client(d, host, None)
    chunked_until_held(d, s, host)
    s.sendall(b"0\r\n\r\n")
    tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
    shut_wr(s)
    time.sleep(0.5)
    assert not d.proc.err_times(r"POST /silent "), "the half-close ended the exchange"
    peer, app_addr = silent.peers[0], ("127.0.0.1", app.port)
    leave(s, "rst")
    d.proc.wait_line(r"POST /silent 499 ", SOON, stream="err")
    tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, SOON,
                "ttf closing the local connection of the exchange its client left")


def test_an_agent_link_is_not_watched_as_a_public_client(stack):
    """The agent's WebSocket starts as a public connection (/_tunnel) and kept that
    connection's watch for a client that leaves: an agent whose last messages waited unread
    (ttfd pausing its link for a JSON client that reads slowly) and that then closed had its
    session torn down at its FIN, those messages lost and the client's answer cut short.
    The answer it sent before leaving reaches the client whole."""
    import base64
    import rawagent as ra
    d = stack.ttfd("--state", ":memory:")
    ag = ra.JsonAgent(d.port)  # no stream windows: a slow client pauses the link
    ag.ready()
    host = tk.sub_host(d, ag.tunnel_id)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", d.port))
    try:
        s.sendall(b"GET /big HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        m, _, _ = ag.recv_request()
        rid = m["request_id"]
        piece = bytes(range(256)) * 64  # 16 KiB
        ag.respond(rid, 200, {}, piece, more=True)  # no length: chunked to the client
        link = (("127.0.0.1", d.port), ag.c.sock.getsockname())
        seq = 0
        for _ in range(2000):  # pieces until ttfd leaves some unread (the link paused)
            seq += 1
            ag.piece(rid, seq, piece, True)
            tk.wait_for(lambda: unsent(ag.c.sock) == 0, 10 * tk.SLOW, "ttfd taking them")
            if tk.rx_queue(*link):
                time.sleep(0.3)
                if tk.rx_queue(*link):
                    break
        else:
            raise AssertionError("ttfd never paused the agent's link")
        ag.piece(rid, seq + 1, b"the end", False)
        tk.wait_for(lambda: unsent(ag.c.sock) == 0, 10 * tk.SLOW, "ttfd's kernel holding it")
        ag.c.sock.close()  # the agent leaves, its last messages unread by ttfd
        time.sleep(0.5)
        s.settimeout(10 * tk.SLOW)
        r = tk.RawConn(0, sock=s).read_response()
        assert r.status == 200
        assert r.body == piece * (seq + 1) + b"the end"
    finally:
        s.close()


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_half_close_after_the_answer_left_the_agent_keeps_its_rest(stack, certs, mode, tls,
                                                                     framing):
    """The client reads its answer slowly; the agent has sent all of it (the exchange is done and
    logged) while part of it still waits in ttfd's output; then the client half-closes. That is
    no departure: the rest goes out, then the close (it was dropped with the connection: the
    client got a body cut short)."""
    import hashlib
    n = 200000  # within the stream's window (binary 256 KiB, JSON 1 MiB): the agent sends it all
    blob = bytes(range(256)) * (n // 256) + bytes(n % 256)

    def answer(req, conn):
        if framing == "length":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (n, blob))
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                         % (n, blob))
        return True

    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, tls, certs)
    app.routes["/blob"] = answer
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10 * tk.SLOW)
    s.connect(("127.0.0.1", d.port))
    if ctx:
        s = ctx.wrap_socket(s, server_hostname=host.split(":")[0])
    try:
        s.sendall(b"GET /blob HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
        got = s.recv(1024)
        d.proc.wait_line(r"GET /blob 200 ", SOON, stream="err")  # the exchange is over
        shut_wr(s)
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
    finally:
        s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    if framing == "chunked":  # ttfd frames the pieces as they came: decoded here
        out, rest = b"", body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        assert rest == b"\r\n", rest[:100]
        body = out
    assert len(body) == n and hashlib.sha256(body).digest() == hashlib.sha256(blob).digest()
