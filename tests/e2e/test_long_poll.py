# SPDX-License-Identifier: MIT
"""Long polling through the tunnel with the default settings: a local service that holds a
request for more than half a minute before answering (a long poll: Apollo's config service holds
60 s, GitHub's and Telegram's runners and bots up to 50 s) gets its answer to the client in both
wire modes. Before, ttf gave up at 25 s and ttfd at 30 s (504 "the local service did not answer
in time"), below nginx's and frp's 60 s that such clients are written against; now ttfd waits
120 s and ttf 115 s (`--request-timeout`; Cloudflare's edge allows 100 s)."""

import threading

import tunnelkit as tk

HOLD_S = 31  # past both old defaults (ttf 25 s, ttfd 30 s)


def test_a_long_poll_past_half_a_minute_is_answered_in_both_modes(stack):
    srv = stack.local()
    d = stack.ttfd()
    agents = [stack.ttf(d.endpoint(), srv.port, "--no-inspect", "--forget", "--protocol", mode)
              for mode in ("binary", "json")]
    results = {}

    def poll(a):
        results[a.tunnel_id] = tk.http(d.port, "GET", "/sleep?s=%d" % HOLD_S,
                                       tk.sub_host(d, a.tunnel_id), timeout=HOLD_S + 30 * tk.SLOW)

    threads = [threading.Thread(target=poll, args=(a,), daemon=True) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HOLD_S + 40 * tk.SLOW)
    assert len(results) == 2, "a long poll got no answer: %r" % sorted(results)
    for a in agents:
        r = results[a.tunnel_id]
        assert (r.status, r.body) == (200, b"slept\n"), (a.tunnel_id, r.status, r.body)
