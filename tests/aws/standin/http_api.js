// SPDX-License-Identifier: MIT
'use strict';
// API Gateway HTTP API for the stand-in: any method and path becomes a payload format 2.0 event
// (rawPath percent-decoded as AWS delivers it, rawQueryString encoded, cookies, lowercase headers with repeated values joined by ","), bodies
// base64 unless textual, 10 MB request limit (413; an event over Lambda's 6 MB too), 29 s integration timeout (503), and the Lambda's
// 2.0 answer mapped back (statusCode, headers, cookies as separate Set-Cookie, isBase64Encoded).
// It also measures the latency the stack adds: time at the HTTP API minus the agent's
// processing_time_ms, matched through the X-Amzn-Trace-Id header the Lambda forwards.
const http = require('http');
const { apigwId, traceRoot, clfTime, readBody, sendJson, headerPairs, Samples } = require('./util');

const MAX_REQUEST = 10 * 1024 * 1024;
// "Total combined size of request line and header values: 10240 bytes", not adjustable ("Quotas
// for configuring and running an HTTP API in API Gateway"). Names are counted too here (the
// stricter reading). Public reports of hitting it: a 431 (backbencher.dev, "SOLVED: 431 Status
// Code With Request Header Fields Too Large", API Gateway behind Cloudflare) with the text "HTTP
// header is larger than 10240 bytes." (ntsblog.homedev.com.au, 2021). AWS documents neither.
const MAX_HEAD = 10240;

// Octets of header values that are not UTF-8 (obs-text, RFC 9110 §5.5): the event is JSON, and
// AWS front ends read header bytes as UTF-8, replacing what is not UTF-8 with U+FFFD (a header
// value with U+FFFD reaching a Lambda through API Gateway/CloudFront: lukeshay/astro-aws#155; an
// ALB event carrying a UTF-8 header value decoded: honojs/hono#4432). AWS documents nothing. Node
// hands header values over as latin1 strings (one character per byte): they are decoded again.
function utf8Of(latin1) {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

// ... and a header value the Lambda answers is written as UTF-8 (Node writes latin1 strings one
// byte per character: the UTF-8 bytes are handed to it that way).
function wireOf(text) {
  return Buffer.from(String(text), 'utf8').toString('latin1');
}

function headSize(req) {
  let n = `${req.method} ${req.url} HTTP/${req.httpVersion}`.length;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) n += req.rawHeaders[i].length + req.rawHeaders[i + 1].length;
  return n;
}
const TEXT_TYPES = /^(text\/|application\/(json|[a-z0-9.+-]*\+json|xml|[a-z0-9.+-]*\+xml|javascript|x-www-form-urlencoded|graphql))/i;

function isText(contentType, contentEncoding, body) {
  if (contentEncoding) return false;
  if (!contentType || !TEXT_TYPES.test(contentType.trim())) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch (e) {
    return false;
  }
}

// rawPath as the HTTP API delivers it: percent-decoded, while rawQueryString stays encoded.
// Public captures of real events: `/a%2Fb` arrives as `/a/b` (fastify/aws-lambda-fastify#169),
// `/RSC/%40id%2Fassets%2Frsf0.js%23save.txt` as `/RSC/@id/assets/rsf0.js#save.txt`
// (honojs/hono#2156), and the path is cut at a decoded `?` (middleapi/standard-server#93, from
// the captures in hotsock/voker#8). Every valid %XX is decoded (%25 too); an invalid escape
// ("%zz") is left as it is. AWS documents none of this; the decoded bytes go into the JSON event
// as UTF-8, a byte sequence that is not UTF-8 becoming U+FFFD (JSON cannot carry raw bytes:
// an assumption of the stand-in). requestContext.http.path is the same string.
function decodePath(p) {
  const bytes = [];
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x25 && i + 2 < p.length && /^[0-9A-Fa-f]{2}$/.test(p.slice(i + 1, i + 3))) {
      bytes.push(parseInt(p.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff); // the request line is read as latin1: one char per byte
    }
  }
  let out = Buffer.from(bytes).toString('utf8');
  const q = out.indexOf('?');
  if (q >= 0) out = out.slice(0, q);
  return out;
}

// Stage throttling ("Throttling requests to your HTTP API"): "API Gateway throttles requests to
// your API using the token bucket algorithm, where a token counts for a request"; the burst is
// the bucket's size, the rate its refill per second; "When request submissions exceed the
// steady-state request rate and burst limits ... Clients may receive 429 Too Many Requests". The
// body is the HTTP API's {"message":"Too Many Requests"}. AWS applies it on a best-effort basis;
// the stand-in exactly.
class TokenBucket {
  constructor(rate, burst, now) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.at = now;
  }

  take(now) {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

// Correlates public requests with the agent's reported processing time.
class LatencyTracker {
  constructor() {
    this.traceToRequest = new Map(); // trace root -> request_id (from the http_request the Lambda posts)
    this.processing = new Map(); // request_id -> processing_time_ms (from the agent's http_response)
    this.added = new Samples(20000);
    this.total = new Samples(20000);
    this.unmatched = 0;
  }

  onPost(msg) {
    if (!msg || msg.type !== 'http_request' || !msg.headers) return;
    for (const [k, v] of Object.entries(msg.headers)) {
      if (k.toLowerCase() !== 'x-amzn-trace-id') continue;
      const val = Array.isArray(v) ? v[0] : v;
      const m = /Root=([^;,\s]+)/.exec(String(val));
      if (m) this.traceToRequest.set(m[1], msg.request_id);
    }
    this.trim();
  }

  onAgentMessage(msg) {
    if (msg && msg.type === 'http_response' && typeof msg.processing_time_ms === 'number') {
      this.processing.set(msg.request_id, msg.processing_time_ms);
      this.trim();
    }
  }

  trim() {
    for (const m of [this.traceToRequest, this.processing]) {
      while (m.size > 5000) m.delete(m.keys().next().value);
    }
  }

  finish(root, totalMs) {
    this.total.add(totalMs);
    const rid = this.traceToRequest.get(root);
    const proc = rid !== undefined ? this.processing.get(rid) : undefined;
    if (proc === undefined) {
      this.unmatched++;
      return;
    }
    this.traceToRequest.delete(root);
    this.processing.delete(rid);
    this.added.add(Math.max(0, totalMs - proc));
  }

  reset() {
    this.added = new Samples(20000);
    this.total = new Samples(20000);
    this.unmatched = 0;
  }

  summary() {
    return { added_ms: this.added.summary(), total_ms: this.total.summary(), unmatched: this.unmatched };
  }
}

class HttpApi {
  // opts: {pool, log, timeoutMs, maxRequest, tracker}
  constructor(opts) {
    this.pool = opts.pool;
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs || 29000;
    this.maxRequest = opts.maxRequest || MAX_REQUEST;
    this.tracker = opts.tracker;
    this.verbose = !!opts.verbose;
    this.bucket = opts.throttle ? new TokenBucket(opts.throttle.rate, opts.throttle.burst, Date.now()) : null;
    this.apiId = 'standinhttp';
    this.stats = { requests: 0, too_large: 0, head_too_large: 0, throttled: 0, timeouts: 0, lambda_errors: 0,
      bad_responses: 0, statuses: {} };
  }

  async start() {
    // Node's own head limit (16 KiB, answered 431 without a body) is lifted: API Gateway's applies.
    this.server = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
      this.handle(req, res).catch((e) => {
        this.log(`http api: ${e.stack || e}`);
        sendJson(res, 500, { message: 'Internal Server Error' });
      });
    });
    this.server.keepAliveTimeout = 60000;
    this.server.requestTimeout = 0;
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  reply(res, status, obj, headers) {
    this.stats.statuses[status] = (this.stats.statuses[status] || 0) + 1;
    sendJson(res, status, obj, headers);
  }

  async handle(req, res) {
    this.stats.requests++;
    const apigwRequestId = apigwId();
    const ridHeader = { 'apigw-requestid': apigwRequestId };
    if (headSize(req) > MAX_HEAD) {
      this.stats.head_too_large++;
      this.stats.statuses[431] = (this.stats.statuses[431] || 0) + 1;
      req.resume();
      const b = Buffer.from('HTTP header is larger than 10240 bytes.');
      res.writeHead(431, Object.assign({ 'Content-Type': 'text/plain', 'Content-Length': b.length }, ridHeader));
      res.end(b);
      return;
    }
    if (this.bucket && !this.bucket.take(Date.now())) {
      this.stats.throttled++;
      req.resume();
      this.reply(res, 429, { message: 'Too Many Requests' }, ridHeader);
      return;
    }
    // An oversized body is read to its end (and dropped) before the 413, so that clients which send
    // the whole body before reading get the answer rather than a reset.
    const { body, tooLarge } = await readBody(req, this.maxRequest);
    if (tooLarge) {
      this.stats.too_large++;
      this.reply(res, 413, { message: 'Request Entity Too Large' }, ridHeader);
      return;
    }
    const t0 = Date.now();
    const root = traceRoot();
    const event = this.event(req, body, apigwRequestId, root, t0);
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true }), this.timeoutMs);
    });
    const r = await Promise.race([this.pool.invoke(event, 'http', `Root=${root};Sampled=0`), timeout]);
    clearTimeout(timer);
    if (r.timeout) {
      this.stats.timeouts++;
      this.reply(res, 503, { message: 'Service Unavailable' }, ridHeader);
      return;
    }
    if (!r.ok && r.tooLarge) {
      // a body under the HTTP API's 10 MB whose event is over Lambda's 6 MB: the invoke is refused
      // (413) and API Gateway answers 413 itself (the function never runs), with the text a public
      // report of this limit shows: {"message": "Request Too Long"} (koki-develop/lgtm-generator#10)
      this.stats.too_large++;
      this.reply(res, 413, { message: 'Request Too Long' }, ridHeader);
      return;
    }
    if (!r.ok) {
      this.stats.lambda_errors++;
      this.log(`http api: lambda error ${r.errorType}: ${r.errorMessage}`);
      this.reply(res, 500, { message: 'Internal Server Error' }, ridHeader);
      return;
    }
    const out = this.mapResponse(r.body);
    if (!out) {
      this.stats.bad_responses++;
      this.reply(res, 500, { message: 'Internal Server Error' }, ridHeader);
      return;
    }
    this.tracker.finish(root, Date.now() - t0);
    if (this.verbose) this.log(`${req.method} ${req.url} ${out.status} ${out.body.length} ${Date.now() - t0}ms`);
    this.stats.statuses[out.status] = (this.stats.statuses[out.status] || 0) + 1;
    out.headers.push(['apigw-requestid', apigwRequestId]);
    out.headers.push(['Content-Length', String(out.body.length)]);
    if (res.destroyed) return;
    // writeHead with a flat array keeps repeated names (each Set-Cookie its own line). Node's
    // sendDate (on by default) adds `date` when the Lambda's answer has none and keeps the
    // Lambda's own: an HTTP API answer carries a `date` whether or not the Lambda sent one (seen on
    // an answer without any: awslabs/aws-lambda-go-api-proxy#75); what AWS does with a Lambda's own
    // Date is documented nowhere. The stand-in's own answers (sendJson, the 431) get one the same way.
    res.writeHead(out.status, out.headers.flat());
    res.end(out.body);
  }

  event(req, body, apigwRequestId, root, now) {
    const q = req.url.indexOf('?');
    const rawPath = decodePath(q >= 0 ? req.url.slice(0, q) : req.url);
    const rawQueryString = q >= 0 ? utf8Of(req.url.slice(q + 1)) : '';
    const headers = {};
    const cookies = [];
    const add = (name, value) => {
      headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
    };
    for (const [k, latin1] of headerPairs(req)) {
      const name = k.toLowerCase();
      const v = utf8Of(latin1);
      if (name === 'cookie') {
        for (const c of v.split(';')) if (c.trim()) cookies.push(c.trim());
        continue;
      }
      add(name, v);
    }
    const sourceIp = req.socket.remoteAddress.replace(/^::ffff:/, '');
    add('x-amzn-trace-id', `Root=${root}`);
    add('x-forwarded-for', sourceIp);
    headers['x-forwarded-port'] = String(this.port);
    headers['x-forwarded-proto'] = 'http';
    const host = (req.headers.host || `127.0.0.1:${this.port}`);
    const ev = {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString,
    };
    if (cookies.length) ev.cookies = cookies;
    ev.headers = headers;
    if (rawQueryString) {
      const qs = {};
      for (const [k, v] of new URLSearchParams(rawQueryString)) qs[k] = qs[k] === undefined ? v : `${qs[k]},${v}`;
      ev.queryStringParameters = qs;
    }
    ev.requestContext = {
      accountId: '123456789012',
      apiId: this.apiId,
      domainName: host.replace(/:\d+$/, ''),
      domainPrefix: host.split('.')[0],
      http: {
        method: req.method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: utf8Of(req.headers['user-agent'] || ''),
      },
      requestId: apigwRequestId,
      routeKey: '$default',
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now,
    };
    if (body.length) {
      const text = isText(req.headers['content-type'], req.headers['content-encoding'], body);
      ev.body = text ? body.toString('utf8') : body.toString('base64');
      ev.isBase64Encoded = !text;
    } else {
      ev.isBase64Encoded = false;
    }
    return ev;
  }

  // Payload format 2.0 answer -> {status, headers: [[name, value]], body: Buffer}, or null if malformed.
  mapResponse(raw) {
    let r;
    try {
      r = JSON.parse(raw.toString());
    } catch (e) {
      // "API Gateway makes the following assumptions if your Lambda function returns valid JSON
      // and doesn't return a statusCode" ("Create AWS Lambda proxy integrations for HTTP APIs in
      // API Gateway", "Lambda function response for format 2.0"): an answer that is not JSON is
      // not inferred; it is a malformed integration response, the HTTP API's 500.
      return null;
    }
    if (!r || typeof r !== 'object' || r.statusCode === undefined) {
      // valid JSON without statusCode: status 200, content-type application/json, "body is the
      // function's response". The same page's table: the output "Hello from Lambda!" (a JSON
      // string) becomes the body Hello from Lambda! (its value); { "message": ... } becomes that
      // JSON text as it was written.
      const body = typeof r === 'string' ? Buffer.from(r, 'utf8') : Buffer.from(raw);
      return { status: 200, headers: [['Content-Type', 'application/json']], body };
    }
    const status = Number(r.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) return null;
    const headers = [];
    if (r.headers && typeof r.headers === 'object') {
      for (const [k, v] of Object.entries(r.headers)) {
        if (v === null || v === undefined) continue;
        if (/^(content-length|transfer-encoding|connection)$/i.test(k)) continue;
        headers.push([k, wireOf(v)]);
      }
    }
    if (r.cookies !== undefined) {
      if (!Array.isArray(r.cookies)) return null;
      for (const c of r.cookies) headers.push(['Set-Cookie', wireOf(c)]);
    }
    let body = Buffer.alloc(0);
    if (typeof r.body === 'string') body = r.isBase64Encoded ? Buffer.from(r.body, 'base64') : Buffer.from(r.body, 'utf8');
    else if (r.body !== undefined && r.body !== null) return null;
    return { status, headers, body };
  }

  async close() {
    const p = new Promise((r) => this.server.close(() => r()));
    if (this.server.closeAllConnections) this.server.closeAllConnections();
    await p;
  }
}

module.exports = { HttpApi, LatencyTracker, TokenBucket, isText, decodePath, MAX_HEAD };
