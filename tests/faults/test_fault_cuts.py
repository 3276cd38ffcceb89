# SPDX-License-Identifier: MIT
"""The local service killed in the middle of its answer, one request at a time, in both wire
modes: a client must never get a cut answer presented as complete (RFC 9112 §8).

markerapp.py answers with Content-Length, chunked or close-delimited framing and SIGKILLs itself
after the head or after half the body (die=head|half): the kernel closes its socket with a FIN,
or with an RST when the socket lingers 0 (rst=1). What the client must see:
  - Content-Length or chunked, FIN or RST: the body cannot be complete at the close, so the
    connection closes without a complete message (a short body, no last chunk), or a 502;
  - close-delimited with an RST: the connection reported an error, the body is incomplete
    (RFC 9112 §8: "...considered complete unless an error was indicated by the underlying
    connection"): the same;
  - close-delimited with a FIN: the answer IS complete by its framing, whatever the app meant:
    the client gets exactly the octets the app wrote (nothing, or half the body) as a complete
    200 — what the load tests (faultkit.Client, origin_close) count as a cut they cannot see.
"""

import types

import pytest

import faultkit as fk
import tunnelkit as tk

N = 40000
CASES = [(f, d, r) for f in ("length", "chunked", "close") for d in ("head", "half")
         for r in (False, True)]
_seq = [0]


@pytest.fixture(scope="module", params=fk.MODES)
def tun(request, mstack):
    d = mstack.ttfd()
    app = fk.MarkerApp(mstack, "cut")
    a = mstack.ttf(d.endpoint(), app.port, *fk.mode_args(request.param), *fk.TTF_ARGS)
    return types.SimpleNamespace(stack=mstack, app=app, ttf=a, route=fk.Route.sub(d, a.tunnel_id))


@pytest.mark.parametrize("framing,die,rst", CASES)
def test_local_service_killed_mid_answer(tun, framing, die, rst):
    if not tun.app.proc.alive():
        tun.app.start()  # the same port: the previous case killed it
    app = tun.app.proc
    tun.stack.expect(app, None)  # it kills itself
    _seq[0] += 1
    marker = "mk-cut-0-%d" % _seq[0]
    path = "/m/%s?n=%d&mode=%s&die=%s%s" % (marker, N, framing, die, "&rst=1" if rst else "")
    sent = fk.pattern(marker, N // 2 if die == "half" else 0)  # what the app wrote of its body
    what = "%s answer, app killed after the %s (%s)" % (framing, die, "RST" if rst else "FIN")
    if framing == "close" and not rst:
        r = tk.http(tun.route.port, "GET", path, tun.route.host)
        assert (r.status, r.get("X-Marker"), r.body) == (200, marker, sent), \
            "%s: %r %r, %d body octets" % (what, r.status, r.head_lines, len(r.body))
    else:
        c = fk.Client(tun.route)
        try:
            o = c.exchange("GET", path, marker, fk.pattern(marker, N))
        finally:
            c.close()
        # cut: closed mid-body with only its own octets; never ok (complete) nor wrong
        assert o.kind == "cut" or (o.kind, o.status) == ("error", 502), "%s: %r" % (what, o)
    tk.wait_for(lambda: not app.alive(), 10, "the app to be dead")
    assert tun.ttf.proc.alive(), tun.ttf.proc.describe()
