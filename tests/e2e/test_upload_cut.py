# SPDX-License-Identifier: MIT
"""A chunked upload held back (the stream's window shut: the local service reads nothing) whose
client then ends its side (FIN) with octets still queued unread in ttfd's socket. ttfd decodes
those octets ahead (MSG_PEEK) to judge the request: test_client_leaves.py covers bodies that
end in them (a half-close) and bodies cut short (499). Here the queued octets break the chunked
framing (bad hex, a size line or extension too long, data without its CRLF, a bad trailer
line): reading them can only answer 400 (RFC 9112 §7.1), and nothing more will come, so ttfd
answers that 400 at once, the agent told and the local connection closed; it waited for
--request-timeout before (504), holding the stream and its place under
--max-streams-per-agent.

And a pipelined request whose body the client's FIN cuts short costs the requests before it
nothing: their answers, still in ttfd's output, go out before the close."""

import socket
import ssl
import struct
import time

import pytest

import tunnelkit as tk
from test_client_leaves import (SENT, SOON, certs, chunked_until_held, client,  # noqa: F401
                                metrics, mode, setup_tunnel, shut_wr, unsent)

BAD = {
    "bad-hex": b"zz\r\n",
    "size-overflow": b"1" + b"0" * 16 + b"\r\n",
    "ext-too-long": b"1;" + b"e" * 5000,
    "bad-ext": b"1;\x01\r\n",
    "bare-lf": b"1\n",
    "data-without-crlf": b"4\r\nabcdXY",
    "trailer-without-colon": b"0\r\nno colon here\r\n\r\n",
    "trailer-too-large": b"0\r\nX-T: " + b"t" * (17 << 10),
}


@pytest.mark.parametrize("cut", sorted(BAD))
def test_a_held_back_chunked_upload_ending_in_bad_framing_is_answered_400_at_once(
        stack, certs, mode, cut):  # noqa: F811
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, False, certs)
    s = client(d, host, None)
    try:
        chunked_until_held(d, s, host)
        tk.wait_for(lambda: len(silent.peers) == 1, 10 * tk.SLOW, "the request reaching the app")
        s.sendall(BAD[cut])
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        peer, app_addr = silent.peers[0], ("127.0.0.1", app.port)
        t0 = time.monotonic()
        shut_wr(s)
        d.proc.wait_line(r"POST /silent 400 ", SOON, stream="err")
        s.settimeout(SOON)
        r = tk.RawConn(0, sock=s).read_response()
        assert r.status == 400, r.raw_head
        tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, SOON,
                    "ttf closing the local connection of the bad request")
        tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")
        print("%s %s: 400 %.3f s after the FIN" % (mode, cut, time.monotonic() - t0))
    finally:
        s.close()


NEXT = {
    "length": b"POST /late HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\nabc",
    "chunked": b"POST /late HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
}


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("cut", sorted(NEXT))
def test_a_pipelined_request_cut_short_keeps_the_answers_before_it(stack, certs, mode, tls,
                                                                   cut):  # noqa: F811
    """A whole request, then a pipelined one whose body the client's FIN cuts short: the second
    is a departure (499, the agent told), the first is not. Its answer went out, then the
    close; it was dropped with the connection (freed at once, the answer still in ttfd's
    output)."""
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, tls, certs)
    s = client(d, host, ctx)
    try:
        first = b"GET /late HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode()
        s.sendall(first + NEXT[cut] % host.encode())
        shut_wr(s)
        s.settimeout(SOON)
        c = tk.RawConn(0, sock=s)
        r = c.read_response()
        assert r.status == 200, r.raw_head
        assert r.body == b"late answer to /late, 0 octets"
        assert c.read_to_eof() == b""  # then the close
    finally:
        s.close()
    d.proc.wait_line(r"POST /late 499 ", SOON, stream="err")
    tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")


# ---- the same over TLS ----
# ttfd's queue then holds ciphertext: it could not look at it (MSG_PEEK sees records), so a
# chunked upload cut short or broken in it counted as "may still end" and waited for
# --request-timeout (504 after 30 s), and a Content-Length body short by fewer octets than the
# records' overhead did too. The TLS layer now decrypts what the client sent before its FIN and
# reports it as the plain queue would be: the same verdicts, at once.

class TlsClient:
    """A TLS client on a blocking socket through memory BIOs (ssl.SSLObject), so that it can
    send its close_notify and go on reading (SSLSocket.unwrap waits for the server's)."""

    def __init__(self, sock, ctx, server_hostname):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=server_hostname)
        self._step(self.obj.do_handshake)

    def _flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def _step(self, fn, *args):
        while True:
            try:
                r = fn(*args)
                self._flush()
                return r
            except ssl.SSLWantReadError:
                self._flush()
                data = self.sock.recv(65536)
                if data:
                    self.inc.write(data)
                else:
                    self.inc.write_eof()

    def sendall(self, data):
        for i in range(0, len(data), 16384):
            self.obj.write(data[i:i + 16384])
            self._flush()

    def recv(self, n):
        try:
            return self._step(self.obj.read, n)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    def end(self, close_notify):
        """The client's end: close_notify (when asked) then the TCP FIN."""
        if close_notify:
            try:
                self.obj.unwrap()
            except ssl.SSLWantReadError:
                pass
            self._flush()
        socket.socket.shutdown(self.sock, socket.SHUT_WR)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def fileno(self):
        return self.sock.fileno()

    def getsockname(self):
        return self.sock.getsockname()

    def close(self):
        self.sock.close()


ENDS = ["fin", "close_notify"]


def tls_client(d, host, certs):
    ctx = ssl.create_default_context(cafile=certs["ca"])
    s = socket.create_connection(("127.0.0.1", d.port), timeout=20 * tk.SLOW)
    return TlsClient(s, ctx, host.split(":")[0])


def held_tls_chunked(stack, certs, mode):
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, True, certs)
    s = tls_client(d, host, certs)
    chunked_until_held(d, s, host)
    tk.wait_for(lambda: len(silent.peers) == 1, 10 * tk.SLOW, "the request reaching the app")
    return d, app, silent, s


def assert_local_closed(d, app, silent):
    peer, app_addr = silent.peers[0], ("127.0.0.1", app.port)
    tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, SOON,
                "ttf closing the local connection of the request")
    tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("cut", ["bad-hex", "data-without-crlf", "trailer-too-large"])
def test_tls_a_held_back_chunked_upload_ending_in_bad_framing_is_answered_400_at_once(
        stack, certs, mode, cut, end):  # noqa: F811
    d, app, silent, s = held_tls_chunked(stack, certs, mode)
    try:
        s.sendall(BAD[cut])
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        t0 = time.monotonic()
        s.end(end == "close_notify")
        d.proc.wait_line(r"POST /silent 400 ", SOON, stream="err")
        s.settimeout(SOON)
        r = tk.RawConn(0, sock=s).read_response()
        assert r.status == 400, r.raw_head
        assert_local_closed(d, app, silent)
        print("tls %s %s %s: 400 %.3f s after the FIN" % (mode, cut, end, time.monotonic() - t0))
    finally:
        s.close()


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("cut", ["mid-chunk", "mid-size-line", "before-trailers-end"])
def test_tls_a_held_back_chunked_upload_cut_short_is_cancelled_at_once(stack, certs, mode, cut,
                                                                       end):  # noqa: F811
    d, app, silent, s = held_tls_chunked(stack, certs, mode)
    try:
        s.sendall({"mid-chunk": b"2000\r\n" + b"x" * 100,
                   "mid-size-line": b"20",
                   "before-trailers-end": b"0\r\nX-Sum: 1\r\n"}[cut])
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        t0 = time.monotonic()
        s.end(end == "close_notify")
        d.proc.wait_line(r"POST /silent 499 ", SOON, stream="err")
        assert_local_closed(d, app, silent)
        print("tls %s %s %s: 499 %.3f s after the FIN" % (mode, cut, end, time.monotonic() - t0))
    finally:
        s.close()


@pytest.mark.parametrize("end", ENDS)
@pytest.mark.parametrize("tail", [b"0\r\n\r\n", b"0\r\nX-Sum: 1\r\n\r\n"], ids=["last", "trailer"])
def test_tls_a_held_back_chunked_upload_ended_then_half_closed_goes_on(stack, certs, mode, tail,
                                                                       end):  # noqa: F811
    """The queued octets end the body: a half-close, no departure (the local app still has the
    request)."""
    d, app, silent, s = held_tls_chunked(stack, certs, mode)
    try:
        s.sendall(tail)
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        s.end(end == "close_notify")
        time.sleep(1)
        assert not d.proc.err_times(r"POST /silent "), "the exchange ended: %s" % d.proc.stderr()
        assert metrics(d)["ttfd_streams_open"] == 1
    finally:
        s.close()


HOLD_QUIET = 0.5 * tk.SLOW  # seconds ttfd's queue must stay the same for it to have settled


def settled_queue(d, s):
    """Octets of s waiting unread in ttfd's socket once the number stays the same for HOLD_QUIET
    (ttfd took what it will: a window shut holds the rest back for good; a slow ttfd, under
    load, goes on taking, and the wait goes on with it)."""
    ends = ("127.0.0.1", d.port), s.getsockname()
    q, since = tk.rx_queue(*ends), time.monotonic()
    deadline = since + 20 * tk.SLOW
    while time.monotonic() - since < HOLD_QUIET:
        assert time.monotonic() < deadline, "ttfd's queue never settled (%d octets)" % q
        time.sleep(0.02)
        now = tk.rx_queue(*ends)
        if now != q:
            q, since = now, time.monotonic()
    return q


def upload_until_held(d, s, host, n, stop):
    """POSTs a Content-Length n body to /silent, 16 KiB at a time, until ttfd leaves octets
    unread in its socket once settled (the window shut: the app reads nothing) or `stop` octets
    went. Returns the octets sent and whether ttfd held them back."""
    s.sendall(b"POST /silent HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
              % (host.encode(), n))
    sent, ttfd_end, client_end = 0, ("127.0.0.1", d.port), s.getsockname()
    while sent + 16384 <= stop:
        s.sendall(b"u" * 16384)
        sent += 16384
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        q = tk.rx_queue(ttfd_end, client_end)
        if q:
            time.sleep(0.1)  # a first look (ttfd reading shrinks it by then); settled next
            if tk.rx_queue(ttfd_end, client_end) >= q and settled_queue(d, s):
                return sent, True
    return sent, False


def upload_short_and_held(d, new, silent, host, took, short):
    """A second upload of took + 48 KiB, all but `short` octets of it sent, its tail waiting in
    ttfd's queue. A probe that took ttfd's pause for its hold (under load: the window's credit
    late) measured too little, and ttfd takes the whole upload: then it is dropped and made again
    with what ttfd took. Returns the client's socket and the body's length."""
    for attempt in range(4):
        s = new()
        n = took + (48 << 10)
        sent, _ = upload_until_held(d, s, host, n, n - short - 16384)
        tk.wait_for(lambda: len(silent.peers) == 2 + attempt, 10 * tk.SLOW,
                    "the request reaching the app")
        s.sendall(b"u" * (n - short - sent))
        tk.wait_for(lambda: unsent(s) == 0, 10 * tk.SLOW, "ttfd taking the octets sent")
        if settled_queue(d, s) > 0:
            return s, n
        print("attempt %d: ttfd took all %d octets; %d before" % (attempt, n - short, took))
        # a reset: a FIN after the whole body (short 0) is a half-close, logged only at
        # --half-close-timeout (30 s)
        socket.socket.setsockopt(getattr(s, "sock", s), socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        s.close()
        tk.wait_for(lambda: len(d.proc.err_times(r"POST /silent ")) == 2 + attempt, SOON,
                    "the dropped upload logged")
        tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")
        took = n - short
    raise AssertionError("nothing waits in ttfd's queue")


@pytest.mark.parametrize("end", ["plain"] + ENDS)
@pytest.mark.parametrize("short", [0, 1, 40])
def test_a_held_back_upload_short_by_a_few_octets(stack, certs, mode, short, end):  # noqa: F811
    """A Content-Length body held back (the app reads nothing), then the client sends all but
    `short` octets of it and ends its side: short > 0 is a request cut short (499 at once), 0 a
    half-close (it goes on). Over TLS the queued ciphertext is longer than the octets it
    carries (about 22 octets a record): it counted as the whole body, and the exchange waited
    for --request-timeout. A first upload finds how much ttfd and ttf take before the hold;
    the second declares that much and 48 KiB more, so that its tail waits in ttfd's queue."""
    tls = end != "plain"
    d, a, app, silent, host, ctx = setup_tunnel(stack, mode, tls, certs)
    new = (lambda: tls_client(d, host, certs)) if tls else (lambda: client(d, host, None))
    probe = new()
    took, held = upload_until_held(d, probe, host, 64 << 20, 32 << 20)
    assert held, "ttfd never held the first upload back"
    probe.close()
    d.proc.wait_line(r"POST /silent 499 ", SOON, stream="err")
    tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the first stream freed")
    s, n = upload_short_and_held(d, new, silent, host, took, short)
    ended, cut = (len(d.proc.err_times(r"POST /silent " + c)) for c in ("", "499 "))
    try:
        t0 = time.monotonic()
        if tls:
            s.end(end == "close_notify")
        else:
            shut_wr(s)
        if short:
            tk.wait_for(lambda: len(d.proc.err_times(r"POST /silent 499 ")) == cut + 1, SOON,
                        "a 499 for the second upload")
            peer, app_addr = silent.peers[-1], ("127.0.0.1", app.port)
            tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, SOON,
                        "ttf closing the local connection of the request")
            tk.wait_for(lambda: metrics(d)["ttfd_streams_open"] == 0, SOON, "the stream freed")
            print("%s %s short %d: 499 %.3f s after the FIN"
                  % (mode, end, short, time.monotonic() - t0))
        else:
            time.sleep(1)
            assert len(d.proc.err_times(r"POST /silent ")) == ended, d.proc.stderr()
            assert metrics(d)["ttfd_streams_open"] == 1
    finally:
        s.close()
