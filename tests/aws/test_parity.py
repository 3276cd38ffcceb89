# SPDX-License-Identifier: MIT
"""One agent, two wire modes, two back-ends: a user must not be able to tell which carried a
request (the guide's rule). The same corpus of requests goes through ttfd in binary mode, ttfd
in JSON mode and the serverless stack (the stand-in around the real Lambda), each to the same
local app, and what the app receives and what the client receives are compared:

- binary and JSON mode through ttfd: byte for byte (request line, every header line in its
  place as spelled, the body and its framing; the status line, every response header line, the
  body, its framing, interim responses and trailers);
- the serverless stack against ttfd, after what API Gateway itself does and nothing else
  (HTTP API payload format 2.0, docs/serverless.md "What API Gateway changes"): header names in
  lower case and repeated fields joined with commas (requests) or ", " (responses, a map),
  cookies in their own field, its own framing (always a Content-Length) and reason phrases, no
  interim responses or trailers, header octets read as UTF-8, the path percent-decoded.

Each difference found here that was ours failed before its fix: JSON mode grouped repeated
header names (A: 1, B: 2, A: 3 arrived as A, A, B, and X-MIXED as the first spelling
x-Mixed), and ttfd's JSON mode gave a length-less response the Content-Length of what happened
to arrive where binary mode chunked it (HTTP/1.1) or closed the connection (HTTP/1.0).
"""

import calendar
import os
import re
import select
import sys
import time

import pytest

import awskit as ak

sys.path.insert(0, os.path.join(ak.REPO, "tests", "e2e"))
import scriptapp  # noqa: E402
import tunnelkit as tk  # noqa: E402

# ------------------------------------------------------------------ the local app


def echo(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


def raw(answer, keep=True):
    def handler(req, conn):
        conn.sendall(answer(req) if callable(answer) else answer)
        return keep
    return handler


def body_of(n):
    return bytes((i * 7 + 3) % 251 for i in range(n))


def sized(req, conn):
    """/size/N/cl|chunked|close[/P]: N octets framed so, chunked in pieces of P."""
    parts = req.target.split("?")[0].split("/")
    n, how = int(parts[2]), parts[3]
    piece = int(parts[4]) if len(parts) > 4 else 4096
    b = body_of(n)
    if how == "cl":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (n, b))
        return True
    if how == "close":
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b)
        return False
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for i in range(0, n, piece):
        c = b[i:i + piece]
        out += b"%x\r\n%s\r\n" % (len(c), c)
    conn.sendall(out + b"0\r\n\r\n")
    return True


def trailers_in(req, conn):
    """Reads a chunked request body with its trailer section and answers what it got."""
    buf, lines = req.buf, []
    if "chunked" in (req.get("Transfer-Encoding") or ""):
        chunks, lines = scriptapp.ScriptApp.read_chunked(conn, buf)
        req.body += b"".join(chunks)
    elif req.get("Content-Length"):
        req.body = scriptapp.ScriptApp._exact(conn, buf, int(req.get("Content-Length")))
    out = b"|".join(lines) + b"/" + req.body
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(out), out))
    return True


trailers_in.streams_body = True

COOKIES = b"".join(b"Set-Cookie: c%d=v%d; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\n" % (i, i)
                   for i in range(40))

ROUTES = {
    "/echo": echo,
    "/trailers-in": trailers_in,
    "/size/": sized,
    "/order": raw(b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nA: 3\r\nx-MiXed: q\r\nX-MIXED: r\r\n"
                  b"Set-Cookie: s=1; Path=/\r\nVary: Accept\r\nSet-Cookie: t=2, u\r\n"
                  b"Content-Length: 2\r\n\r\nok"),
    "/empty-values": raw(b"HTTP/1.1 200 OK\r\nX-Empty:\r\nX-Space: \r\nContent-Length: 0\r\n\r\n"),
    "/obs-text": raw(b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\n"
                     b"Content-Length: 0\r\n\r\n"),
    "/cookies": raw(b"HTTP/1.1 200 OK\r\n" + COOKIES + b"Content-Length: 0\r\n\r\n"),
    "/reason/custom": raw(b"HTTP/1.1 200 Fine Thanks\r\nContent-Length: 0\r\n\r\n"),
    "/reason/empty": raw(b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"),
    "/reason/418": raw(b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"),
    "/reason/299": raw(b"HTTP/1.1 299 Odd\r\nContent-Length: 0\r\n\r\n"),
    "/interim": raw(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "/trailers": raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                     b"2\r\nok\r\n0\r\nX-Sum: 42\r\n\r\n"),
    "/204": raw(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"),
    "/304": raw(b"HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n"),
    "/head": raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n"),
    "/head-chunked": raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    "/s600": raw(b"HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok"),
    "/s199": raw(b"HTTP/1.1 199 Odd\r\nX: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "/s102": raw(b"HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "/s500": raw(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad"),
    "/cl-list": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"),
    "/cl-twice": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"),
    "/http10": raw(b"HTTP/1.0 200 OK\r\nX: 1\r\n\r\nabc", keep=False),
    "/conn-close": raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                       keep=False),
    "/bare-lf": raw(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
    "/cl-and-te": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n2\r\nok\r\n0\r\n\r\n"),
    "/two-types": raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n"
                      b"Content-Length: 2\r\n\r\nok"),
    "/continue": raw(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
}

# ------------------------------------------------------------------ a client that sees everything


class Answer:
    def __init__(self):
        self.interims = []  # [(status, reason, [(name, value)])]
        self.status = self.reason = None
        self.headers = []
        self.body = b""
        self.framing = None  # "length", "chunked", "close", "none"
        self.trailers = []
        self.closed = False  # the server closed the connection after the answer


def read_answer(c, method):
    a = Answer()
    while True:
        status, reason, fields, _ = c.read_head()
        if 100 <= status < 200:
            a.interims.append((status, reason, fields))
            continue
        break
    a.status, a.reason, a.headers = status, reason, fields
    te = ",".join(v for n, v in fields if n.lower() == "transfer-encoding").lower()
    cl = [v for n, v in fields if n.lower() == "content-length"]
    if method == "HEAD" or status in (204, 304):
        a.framing = "none"
    elif "chunked" in te:
        a.framing = "chunked"
        while True:
            size = int(c.read_until(b"\r\n").split(b";")[0].strip(), 16)
            if size == 0:
                break
            a.body += c.read_exact(size)
            assert c.read_exact(2) == b"\r\n"
        while True:
            line = c.read_until(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line[:-2].partition(b":")
            a.trailers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    elif cl:
        a.framing = "length"
        a.body = c.read_exact(int(cl[0]))
    else:
        a.framing = "close"
        a.body = c.read_to_eof()
        a.closed = True
    return a


def wait_closed(conns):
    """Which of the connections the server closes now (nothing more is sent) and which it keeps:
    {conn: closed}. Each is watched for the same 0.5 s (SLOW) from now, side by side, so that a
    case through three back-ends waits once, not three times."""
    end = time.monotonic() + 0.5 * tk.SLOW
    closed, left = {}, list(conns)
    while left:
        wait = end - time.monotonic()
        ready = select.select([c.sock for c in left], [], [], max(wait, 0))[0] if wait > 0 else []
        if not ready:
            break
        for c in [c for c in left if c.sock in ready]:
            try:
                closed[c] = c.sock.recv(1) == b""
            except OSError:
                closed[c] = True
            left.remove(c)
    closed.update((c, False) for c in left)
    return closed


# ------------------------------------------------------------------ the three back-ends


class World:
    def __init__(self, tmp):
        self.items = []
        self.app = scriptapp.ScriptApp(ROUTES)
        self.items.append(self.app.close)
        d = tk.Ttfd("--max-header-size", "1048576", valgrind=False)
        self.items.append(lambda: self._stopped("ttfd", d.stop()))
        big = ("--max-response-header-size", "1048576")  # heads over one JSON message
        b = tk.Ttf(d.endpoint(), self.app.port, *big, valgrind=False)
        self.items.append(lambda: self._stopped("ttf bin", b.stop()))
        j = tk.Ttf(d.endpoint(), self.app.port, "--protocol", "json", *big, valgrind=False)
        self.items.append(lambda: self._stopped("ttf json", j.stop()))
        st = ak.Standin(tmp)
        self.items.append(lambda: self._stopped("stand-in", st.stop()))
        ag = ak.Agent(st.ws_url, self.app.port, extra=big)
        self.items.append(lambda: self._stopped("ttf aws", ag.stop()))
        tid = ak.tunnel_id(ag.wait_established(30))
        self.ends = {
            "bin": (d.port, tk.sub_host(d, b.tunnel_id), b.tunnel_id),
            "json": (d.port, tk.sub_host(d, j.tunnel_id), j.tunnel_id),
            "aws": (st.http_port, "%s.%s:%d" % (tid, ak.DOMAIN, st.http_port), tid),
        }
        self.path_hosts = {"bin": tk.path_host(d), "json": tk.path_host(d),
                           "aws": "%s:%d" % (ak.DOMAIN, st.http_port)}
        self.problems = []

    def _stopped(self, name, rc):
        if rc != 0:
            self.problems.append("%s exited with %r" % (name, rc))

    def close(self):
        for stop in reversed(self.items):
            stop()
        assert not self.problems, self.problems

    def run(self, end, method, target, fields=(), body=b"", version="HTTP/1.1", chunked=None,
            trailers=b"", path_mode=False):
        """Sends one request (raw: the fields byte for byte) and returns (what the app got, the
        answer, the tunnel id, the connection: open unless the answer was close-delimited, the
        caller's to watch with wait_closed and close). chunked: piece size to send the body
        chunked, with that trailer section."""
        port, host, tid = self.ends[end]
        if path_mode:  # routed by path: /<id> before the target, the domain's own Host
            host, target = self.path_hosts[end], "/" + tid + target
        head = b"%s %s %s\r\nHost: %s\r\n" % (method.encode(), target.encode("latin-1"),
                                                 version.encode(), host.encode())
        for n, v in fields:
            head += n.encode("latin-1") + b":" + (b" " if v else b"") + v.encode("latin-1") + b"\r\n"
        if chunked:
            head += b"Transfer-Encoding: chunked\r\n\r\n"
            for i in range(0, len(body), chunked):
                head += b"%x\r\n%s\r\n" % (len(body[i:i + chunked]), body[i:i + chunked])
            data = head + b"0\r\n" + trailers + b"\r\n"
        else:
            if body or method in ("POST", "PUT"):
                head += b"Content-Length: %d\r\n" % len(body)
            data = head + b"\r\n" + body
        before = len(self.app.requests)
        c = tk.RawConn(port, timeout=40)
        try:
            c.send(data)
            a = read_answer(c, method)
        except BaseException:
            c.close()
            raise
        got = self.app.requests[before:]
        return (got[0] if got else None), a, tid, c


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(tmp_path_factory.mktemp("parity"))
    yield w
    w.close()


# ------------------------------------------------------------------ what each side saw

BACKEND_FIELDS = {"host", "x-forwarded-host", "x-forwarded-for", "x-forwarded-proto",
                  "x-forwarded-port", "x-amzn-trace-id", "forwarded", "cdn-loop"}


def masked(value, tid):
    """A field value with the tunnel's own id and the edge's CDN-Loop mark for it masked (each
    tunnel has its own, and each edge its own key: lib/proxy.h proxy_loop_mark)."""
    return re.sub(r"http-tunnel-[0-9a-f]{16}", "http-tunnel-MARK", value.replace(tid, "ID"))


def app_view(req, tid):
    """What the local service got, the tunnel's own id and mark masked (each tunnel has its own)."""
    if req is None:
        return None
    fields = [(n, masked(v, tid)) for n, v in req.headers]
    return {"line": (req.method, req.target, req.version), "fields": fields, "body": req.body,
            "chunks": req.chunks > 0}


def edge_date(value):
    """Whether value is an IMF-fixdate (RFC 9110 §5.6.7) within a minute of now: the Date ttfd
    adds to a final answer without one (its clock's second may turn between two back-ends)."""
    try:
        t = calendar.timegm(time.strptime(value, "%a, %d %b %Y %H:%M:%S GMT"))
    except ValueError:
        return False
    return abs(t - time.time()) < 60 * ak.SLOW


def client_view(a):
    """What the client got; ttfd's own Date stays in its place, its value masked (a Date the app
    sent is compared as it came)."""
    fields = [(n, "<now>" if n.lower() == "date" and edge_date(v) else v) for n, v in a.headers]
    return {"status": a.status, "reason": a.reason, "fields": fields, "body": a.body,
            "framing": a.framing, "interims": a.interims, "trailers": a.trailers,
            "closed": a.closed}


def aws_request_view(req, tid):
    """A request as API Gateway delivers it whatever carried it: names in lower case, values of
    a name joined with ',' in the order sent, cookies one field, the back-ends' own fields out;
    the framing its own (a body comes whole, with its length)."""
    if req is None:
        return None
    joined = {}
    for n, v in req.headers:
        name = n.lower()
        if name in BACKEND_FIELDS or name in ("content-length", "transfer-encoding"):
            continue
        sep = "; " if name == "cookie" else ","
        v = masked(v, tid)
        joined[name] = joined[name] + sep + v if name in joined else v
    return {"method": req.method, "target": req.target, "fields": joined, "body": req.body}


# API Gateway's own fields, its framing, and Trailer (announcing trailer fields it does not carry:
# removed where they are dropped)
AWS_OWN = {"apigw-requestid", "date", "connection", "keep-alive", "content-length",
           "transfer-encoding", "trailer"}


def aws_answer_view(a):
    """An answer as payload format 2.0 can carry it: a status, a map of headers (a name's values
    joined with ', '), cookies in order, a whole body."""
    joined, cookies = {}, []
    for n, v in a.headers:
        name = n.lower()
        if name in AWS_OWN:
            continue
        if name == "set-cookie":
            cookies.append(v)
            continue
        joined[name] = joined[name] + ", " + v if name in joined else v
    return {"status": a.status, "fields": joined, "cookies": cookies, "body": a.body}


def through_all(world, method, target, fields=(), body=b"", aws=True, **kw):
    """The request through every back-end; asserts the two modes alike byte for byte and the
    serverless stack alike after API Gateway's own changes. Returns the views."""
    seen, conns = {}, {}
    try:
        for end in ("bin", "json", "aws") if aws else ("bin", "json"):
            req, a, tid, c = world.run(end, method, target, fields, body, **kw)
            seen[end] = (req, a, tid)
            conns[end] = c
        closed = wait_closed(c for end, c in conns.items() if not seen[end][1].closed)
        for end, c in conns.items():
            seen[end][1].closed = seen[end][1].closed or closed[c]
    finally:
        for c in conns.values():
            c.close()
    (rb, ab, tb), (rj, aj, tj) = seen["bin"], seen["json"]
    assert app_view(rj, tj) == app_view(rb, tb), "the local service can tell the modes apart"
    assert client_view(aj) == client_view(ab), "the client can tell the modes apart"
    if aws:
        ra, aa, ta = seen["aws"]
        assert aws_request_view(ra, ta) == aws_request_view(rb, tb), \
            "the local service can tell the back-ends apart"
        assert aws_answer_view(aa) == aws_answer_view(ab), "the client can tell the back-ends apart"
    return seen


# ------------------------------------------------------------------ the corpus: requests

REQUEST_FIELDS = {
    "order-and-case": [("A", "1"), ("b", "2"), ("A", "3"), ("x-MiXed", "q"), ("X-MIXED", "r")],
    "duplicates": [("Accept", "text/html"), ("Accept", "*/*"), ("Accept", "text/html")],
    "empty-values": [("X-Empty", ""), ("X-Next", "1"), ("X-Empty", "")],
    "cookies": [("Cookie", "a=1"), ("X-Between", "1"), ("Cookie", "b=2; c=3")],
    "many-fields": [("X-F%d" % (i % 7), "v%d" % i) for i in range(60)],
}


@pytest.mark.parametrize("case", sorted(REQUEST_FIELDS))
def test_request_fields(world, case):
    seen = through_all(world, "GET", "/echo", REQUEST_FIELDS[case])
    req, _, _ = seen["json"]
    sent = [(n, v) for n, v in REQUEST_FIELDS[case]]
    got = [(n, v) for n, v in req.headers if n.lower() not in BACKEND_FIELDS]
    assert got == sent  # and each line as sent, in its place


# What a client says of its own address, scheme or host as a front proxy would (docs/protocol.md
# §4): no back-end lets it reach the app (before: X-Real-IP and the rest passed on every path)
CLIENT_CLAIMS = [("X-Real-IP", "203.0.113.9"), ("True-Client-IP", "203.0.113.9"),
                 ("CF-Connecting-IP", "203.0.113.9"), ("X-Client-IP", "203.0.113.9"),
                 ("Client-IP", "203.0.113.9"), ("X-Forwarded-Ssl", "on"),
                 ("X-Forwarded-Scheme", "https"), ("X_Real_IP", "203.0.113.9"),
                 ("X_Forwarded_For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"),
                 ("X-Forwarded-Port", "1"), ("X-After", "kept")]


def test_request_client_claims(world):
    seen = through_all(world, "GET", "/echo", CLIENT_CLAIMS)
    for end in ("bin", "json", "aws"):
        names = [n.lower() for n, _ in seen[end][0].headers]
        for n, _ in CLIENT_CLAIMS[:-2]:  # X-Forwarded-Port is API Gateway's own on that path
            assert n.lower() not in names, (end, n, seen[end][0].headers)
        assert "x-after" in names
        xff = [v for n, v in seen[end][0].headers if n.lower() == "x-forwarded-for"]
        assert len(xff) == 1 and "203.0.113.9" not in xff[0], (end, xff)


# Request lines and Host that RFC 9112 §3.2 refuses (400, never the app), as ttfd words it; HOST
# is the back-end's own host. The Lambda reads the event's method, target (rawPath encoded again,
# rawQueryString as sent) and host (two Host lines joined with ",") with ttfd's parser. Before,
# it routed each of these to the app (200 or the app's 404).
REFUSED_LINES = {
    "two-hosts": ("GET", "/echo", [("Host", "HOST")], "more than one Host"),
    "two-hosts-other": ("GET", "/echo", [("Host", "other.example")], "more than one Host"),
    "fragment": ("GET", "/echo?a#b", [], "fragment (#) in the request-target"),
    "fragment-empty": ("GET", "/echo?#", [], "fragment (#) in the request-target"),
    "fragment-path": ("GET", "/echo?a=1#/x?y", [], "fragment (#) in the request-target"),
    "asterisk-get": ("GET", "*", [], "asterisk-form is for OPTIONS only"),
}


@pytest.mark.parametrize("case", sorted(REFUSED_LINES))
def test_request_line_refused(world, case):
    method, target, fields, why = REFUSED_LINES[case]
    got = {}
    for end in ("bin", "json", "aws"):
        host = world.ends[end][1]
        req, a, _, c = world.run(end, method, target, [(n, v.replace("HOST", host))
                                                       for n, v in fields])
        c.close()
        got[end] = (req is None, a.status, a.body)
    assert got["bin"] == (True, 400, b"bad request: %s\n" % why.encode()), got
    assert got["json"] == got["bin"] and got["aws"] == got["bin"], got


@pytest.mark.parametrize("scheme", ["http", "HTTP"])
def test_request_absolute_form(world, scheme):
    """An absolute-form target names the origin (RFC 9112 §3.2.2): routed by its authority, the
    app gets its path in origin-form and one Host, on every back-end. Before, the Lambda passed
    the absolute-form on: the app got "http://<host>/echo?x=1" as its request-target."""
    got = {}
    for end in ("bin", "json", "aws"):
        host = world.ends[end][1]
        req, a, tid, c = world.run(end, "GET", "%s://%s/echo?x=1" % (scheme, host))
        c.close()
        hosts = [v for n, v in (req.headers if req else []) if n.lower() == "host"]
        got[end] = (a.status, req and req.target, [h.replace(tid, "ID") for h in hosts])
    assert got["bin"][:2] == (200, "/echo?x=1") and len(got["bin"][2]) == 1, got
    assert got["json"] == got["bin"], got
    assert got["aws"][:2] == got["bin"][:2] and got["aws"][2][0].startswith("ID."), got


def test_request_obs_text(world):
    """Octets that are not UTF-8: byte for byte in both modes. API Gateway reads header octets
    as UTF-8 (U+FFFD for the rest): the serverless stack cannot carry them."""
    seen = through_all(world, "GET", "/echo", [("X-Latin", "caf\xe9")], aws=False)
    assert seen["json"][0].get("X-Latin") == "caf\xe9"


TARGETS = [
    "/echo?a=%2F&b=+&a=2&c=%20&d",
    "/echo?&&=&x==y",
    "/echo?q=%E2%82%AC&q=%e2%82%ac&r=a%26b",
    "/echo//double//slash/",
    "/echo/./dot/../dots",
    "/echo/" + "x" * 3000 + "?" + "y=" + "z" * 3000,
    "/echo/a%00b?a=%00&%00=1",  # API Gateway decodes rawPath and queryStringParameters: NULs
]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t[:40])
def test_request_targets(world, target):
    seen = through_all(world, "GET", target)
    assert seen["bin"][0].target == target


@pytest.mark.parametrize("target", ["/echo/a%2Fb", "/echo/%2e%2E/x", "/echo?"])
def test_request_targets_api_gateway_changes(world, target):
    """API Gateway hands the Lambda a decoded rawPath (%2F and %2E are not what the client sent)
    and an empty rawQueryString for `/echo?` as for `/echo`. Both modes keep the target byte for
    byte."""
    seen = through_all(world, "GET", target, aws=False)
    assert seen["bin"][0].target == target


SIZES = [0, 1, 4095, 4096, 4097, 65535, 65536, 65537, 93 * 1024 - 1, 93 * 1024, 93 * 1024 + 1,
         2 * 93 * 1024]


@pytest.mark.parametrize("n", SIZES)
def test_request_bodies(world, n):
    body = body_of(n)
    seen = through_all(world, "POST", "/echo", [("Content-Type", "application/octet-stream")], body)
    assert seen["bin"][0].body == body


@pytest.mark.parametrize("ctype", ["text/plain", "application/json"])
def test_request_text_body_with_nul(world, ctype):
    """A text body is handed to the Lambda as a JSON string, a NUL byte as "\\u0000" (as a
    %00 of the path or of a query parameter above). Before, the Lambda refused such an event
    whole and API Gateway answered 500."""
    body = b"a\x00b\x01c\x7f"
    seen = through_all(world, "POST", "/echo", [("Content-Type", ctype)], body)
    assert seen["aws"][0].body == body


@pytest.mark.parametrize("n", [0, 1, 5000, 93 * 1024 + 1])
def test_request_bodies_chunked(world, n):
    body = body_of(n)
    seen = through_all(world, "POST", "/echo", [("Content-Type", "application/octet-stream")],
                       body, chunked=4096)
    assert seen["bin"][0].body == body


# ------------------------------------------------------------------ the corpus: answers


def shared_cookies(req):
    """Cookies scoped to the tunnels' shared domain (the public host less its port, and less its
    first label when routed by subdomain) or to its parent, and one without Domain (its host
    only)."""
    domain = req.get("X-Forwarded-Host").split(":")[0]
    if not req.get("X-Forwarded-Prefix"):  # <id>.<domain>
        domain = domain.split(".", 1)[1]
    return (b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Domain=%s\r\nSet-Cookie: b=2; Path=/; "
            b"domain=.%s\r\nSet-Cookie: c=3; Path=/\r\nSet-Cookie: d=4; Domain=%s\r\n"
            b"Set-Cookie: e=5; Domain=%s.\r\nClear-Site-Data: \"cookies\"\r\n"
            b"Clear-Site-Data: COOKIES\r\nClear-Site-Data: \"cache\"\r\n"
            b"Content-Length: 0\r\n\r\n" % (domain.encode(), domain.upper().encode(),
                                               domain.rsplit(".", 1)[-1].encode(),
                                               domain.encode()))


ROUTES["/shared-cookies"] = raw(shared_cookies)


@pytest.mark.parametrize("path_mode", [False, True])
def test_cookies_scoped_to_every_tunnel_never_reach_the_client(world, path_mode):
    """A cookie whose Domain is the tunnels' shared domain (or a parent of it) would go to every
    tunnel's users: one tunnel could set or overwrite another's sessions, or fill its users'
    requests past the header limit. A browser drops it where the domain is a public suffix (RFC
    6265 §5.3), as ngrok's are; the edge drops it on every path (before: all three relayed it).
    So with Clear-Site-Data naming "cookies", which clears the whole registrable domain's. The
    tunnel's own cookies stay. Routed by path too: that answer comes from the domain itself
    (before: its Domain=<domain> cookie was let through there, and reached every subdomain
    tunnel). A trailing dot (a browser at "<id>.<domain>." keeps it) and "COOKIES" unquoted go
    too. Routed by path, every tunnel is one origin: Clear-Site-Data goes whatever it names."""
    seen = through_all(world, "GET", "/shared-cookies", path_mode=path_mode)
    for end in ("bin", "json", "aws"):
        cookies = [v for n, v in seen[end][1].headers if n.lower() == "set-cookie"]
        assert cookies == ["c=3; Path=/"], (end, cookies)
        clear = [v for n, v in seen[end][1].headers if n.lower() == "clear-site-data"]
        assert clear == ([] if path_mode else ['"cache"']), (end, clear)


@pytest.mark.parametrize("path", ["/order", "/empty-values", "/cookies"])
def test_answer_fields(world, path):
    seen = through_all(world, "GET", path)
    assert client_view(seen["json"][1])["fields"] == client_view(seen["bin"][1])["fields"]


def test_answer_obs_text(world):
    seen = through_all(world, "GET", "/obs-text", aws=False)
    assert ("X-Latin", "caf\xe9") in seen["json"][1].headers


@pytest.mark.parametrize("path", ["/reason/custom", "/reason/empty", "/reason/418", "/reason/299"])
def test_reason_phrases(world, path):
    """The modes keep the phrase the service sent; API Gateway writes its own."""
    through_all(world, "GET", path)


@pytest.mark.parametrize("n", [0, 1, 4096, 65536, 65537, 93 * 1024, 93 * 1024 + 1, 300000])
@pytest.mark.parametrize("how", ["cl", "chunked", "close"])
def test_answer_bodies(world, n, how):
    seen = through_all(world, "GET", "/size/%d/%s" % (n, how))
    assert seen["json"][1].body == body_of(n)


@pytest.mark.parametrize("how", ["chunked", "close", "cl"])
def test_answer_to_http10(world, how):
    """An HTTP/1.0 client: no chunked coding ever (RFC 9112 §7), close-delimited when the length
    is unknown, as nginx does; the same in both modes."""
    seen = through_all(world, "GET", "/size/5/%s" % how, version="HTTP/1.0")
    a = seen["json"][1]
    assert a.framing in ("length", "close") and a.body == body_of(5)


@pytest.mark.parametrize("path,method", [("/204", "GET"), ("/304", "GET"), ("/head", "HEAD"),
                                         ("/head-chunked", "HEAD")])
def test_bodiless(world, path, method):
    """Compared with the serverless stack too, but for the framing fields (the stand-in writes
    Content-Length: 0 here; what API Gateway writes is not documented: docs/serverless.md)."""
    seen = through_all(world, method, path)
    assert seen["bin"][1].body == b""


def test_interim_and_trailers(world):
    """103 Early Hints and trailer fields reach an HTTP/1.1 client in both modes; API Gateway
    carries neither."""
    for path in ("/interim", "/trailers"):
        through_all(world, "GET", path, [("TE", "trailers")])


def test_request_trailers(world):
    """A chunked upload's trailer section reaches the service in both modes (Trailer kept); API
    Gateway hands the Lambda a whole body: no trailers, no Trailer."""
    seen = through_all(world, "POST", "/trailers-in", [("Trailer", "X-Sum")], b"hello",
                       aws=False, chunked=2, trailers=b"X-Sum: 42\r\nX-Other: a b\r\n")
    assert seen["json"][1].body == b"X-Sum: 42|X-Other: a b/hello"
    assert seen["json"][0].get("Trailer") == "X-Sum"


def test_expect_100_continue(world):
    """Expect: 100-continue reaches the service, whose 100 Continue reaches the client, in both
    modes (JSON mode relayed ttfd's own 100 and removed Expect)."""
    seen = through_all(world, "POST", "/continue", [("Expect", "100-continue")], b"abc",
                       aws=False)
    assert seen["json"][0].get("Expect") == "100-continue"
    assert [i[0] for i in seen["json"][1].interims] == [100]


@pytest.mark.parametrize("fields", [[("Connection", "close")], [("Connection", "keep-alive")]])
def test_request_http10(world, fields):
    seen = through_all(world, "POST", "/echo", fields, b"abc", version="HTTP/1.0")
    assert seen["json"][0].body == b"abc"


BIG_HEAD = b"".join(b"%s: %s\r\n" % (b"A" if i % 3 == 0 else b"b" if i % 3 == 1 else b"Set-Cookie",
                                      b"v%d-" % i + b"x" * 1000) for i in range(150))
ROUTES["/big-head"] = raw(b"HTTP/1.1 200 OK\r\n" + BIG_HEAD + b"Content-Length: 2\r\n\r\nok")


def test_heads_over_one_json_message(world):
    """150 KB of interleaved fields each way: JSON mode splits the head over several messages,
    each with its own header_order, and the lines arrive in their places."""
    fields = [("A" if i % 2 else "b", "v%d-" % i + "x" * 1000) for i in range(150)]
    seen = through_all(world, "GET", "/big-head", fields, aws=False)
    got = [(n, v) for n, v in seen["json"][0].headers if n in ("A", "b")]
    assert got == fields
    assert len(seen["json"][1].headers) == 152  # and Content-Length, and ttfd's Date


@pytest.mark.parametrize("target", ["/echo?x=1", "", "?q", "//echo", "/order"])
def test_path_mode(world, target):
    """Routed by path (/<id>...): the same prefix rule on every back-end."""
    through_all(world, "GET", target, path_mode=True)


FAULTS = {
    "/f/101": raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\n"),
    "/f/101-bare": raw(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
    "/f/garbage": raw(b"NOT HTTP AT ALL\r\n\r\n", keep=False),
    "/f/closed": raw(b"", keep=False),
    "/f/bad-field": raw(b"HTTP/1.1 200 OK\r\nBad Field\r\nContent-Length: 2\r\n\r\nok"),
    "/f/bad-status": raw(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"),
    "/f/s099": raw(b"HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok"),
    "/f/two-lengths": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"),
    "/f/bad-length": raw(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok"),
    "/f/te-gzip": raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok", keep=False),
    "/f/http2": raw(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    "/f/nul": raw(b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 2\r\n\r\nok"),
    "/f/obs-fold": raw(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok"),
}
ROUTES.update(FAULTS)


@pytest.mark.parametrize("path", sorted(FAULTS))
def test_local_faults(world, path):
    """A local service that breaks HTTP before its head is whole: the same status and text
    whichever mode or back-end carried the request."""
    seen = through_all(world, "GET", path)
    assert seen["bin"][1].status == 502
    assert seen["bin"][1].body.startswith(b"the local service ")


MID_BODY = {
    "/m/short": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", keep=False),
    "/m/bad-chunk": raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX",
                        keep=False),
    "/m/chunk-cut": raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
                        keep=False),
}
ROUTES.update(MID_BODY)


@pytest.mark.parametrize("path", sorted(MID_BODY))
def test_local_faults_mid_body(world, path):
    """A fault in the body: where the head went out before it (a short body, a cut chunked
    one) both modes send the head and close; where it came in the same read as the head (a
    chunk not followed by CRLF) both answer 502 with the agent's text (binary mode sent the
    head, then cut: its head now waits for the batch's end as JSON mode's does). The serverless
    stack answers whole or not at all: a 502 either way (docs/serverless.md)."""
    got = {}
    for end in ("bin", "json", "aws"):
        try:
            _, a, _, c = world.run(end, "GET", path)
        except EOFError:
            got[end] = "cut"
            continue
        try:
            got[end] = (a.status, a.body, a.closed or wait_closed([c])[c])
        finally:
            c.close()
    assert got["json"] == got["bin"], got
    assert got["aws"][0] == 502
    if path == "/m/bad-chunk":
        assert got["bin"] == got["aws"][:2] + (True,)
    else:
        assert got["bin"] == "cut"


OLD_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
DATES = {  # the local service's Date field lines -> kept as sent (True) or replaced (False)
    "/date/imf": (b"Date: " + OLD_DATE.encode() + b"\r\n", True),
    "/date/rfc850": (b"Date: Sunday, 06-Nov-94 08:49:37 GMT\r\n", True),
    "/date/asctime": (b"Date: Sun Nov  6 08:49:37 1994\r\n", True),
    "/date/empty": (b"Date:\r\n", False),
    "/date/bad": (b"Date: yesterday\r\n", False),
    "/date/lower": (b"date: sun, 06 nov 1994 08:49:37 gmt\r\n", False),
    "/date/two": (b"Date: " + OLD_DATE.encode() + b"\r\nDate: " + OLD_DATE.encode() + b"\r\n",
                  False),
}
for _p, (_d, _) in DATES.items():
    ROUTES[_p] = raw(b"HTTP/1.1 200 OK\r\n" + _d + b"Content-Length: 2\r\n\r\nok")


@pytest.mark.parametrize("path", sorted(DATES))
def test_answer_date(world, path):
    """RFC 9110 §6.6.1: a Date that is one HTTP-date (any of the three forms) reaches the client
    as sent; an empty or invalid one, or two lines, becomes one Date of now on every path (ttfd
    writes its own in its place; on the Lambda path API Gateway writes its own). Before, ttfd
    passed `Date:` empty or `yesterday` on as sent."""
    fields, valid = DATES[path]
    seen = through_all(world, "GET", path)
    for end in ("bin", "json", "aws"):
        dates = [v for n, v in seen[end][1].headers if n.lower() == "date"]
        assert len(dates) == 1, (end, dates)
        if valid and end != "aws":  # what API Gateway does with a valid one is not documented
            assert dates[0] == fields.split(b": ", 1)[1].split(b"\r\n")[0].decode(), (end, dates)
        elif not valid:
            assert edge_date(dates[0]), (end, dates)


WEBSOCKET = [("Connection", "Upgrade"), ("Upgrade", "websocket"),
             ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]


def test_websocket_upgrade_without_binary_mode(world):
    """A WebSocket upgrade where no pipe can be carried (JSON mode; the serverless stack, whose
    API Gateway carries JSON messages only): the same 501 and text from ttfd and the Lambda.
    Before, the Lambda dropped Upgrade and the app's plain 200 reached a client waiting for a
    101. (Binary mode relays the upgrade: the app's 200 here.)"""
    _, aj, _, cj = world.run("json", "GET", "/echo", WEBSOCKET)
    cj.close()
    req, aa, _, ca = world.run("aws", "GET", "/echo", WEBSOCKET)
    ca.close()
    assert (aj.status, aj.body) == (501, b"WebSocket upgrades need the binary tunnel protocol\n")
    assert aws_answer_view(aa) == aws_answer_view(aj) and req is None


@pytest.mark.parametrize("path", ["/s600", "/s199", "/s102", "/s500", "/cl-list", "/cl-twice",
                                  "/http10", "/conn-close", "/two-types", "/bare-lf", "/cl-and-te"])
def test_answer_kinds(world, path):
    """Statuses out of range, unknown and repeated interims, error statuses, a Content-Length
    list or repeated, an HTTP/1.0 service closing to delimit, Connection: close, a name twice,
    bare LF line ends (RFC 9112 §2.2 lets a recipient take them), Content-Length beside
    chunked (§6.3: chunked frames it, Content-Length is removed)."""
    through_all(world, "GET", path)
