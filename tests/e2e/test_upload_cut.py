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

import time

import pytest

import tunnelkit as tk
from test_client_leaves import (SOON, certs, chunked_until_held, client, metrics,  # noqa: F401
                                mode, setup_tunnel, shut_wr, unsent)

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
