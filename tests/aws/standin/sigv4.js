// SPDX-License-Identifier: MIT
'use strict';
// Checks the SigV4 signature of every request the Lambda makes to the stand-in's AWS endpoints
// (DynamoDB, @connections), with the independent `aws4` npm implementation, and keeps a bounded
// record of them. Mode "record" only counts mismatches; "strict" answers 403 as AWS does.
const crypto = require('crypto');
const aws4 = require('aws4');

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, *SignedHeaders=([a-z0-9;-]+), *Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 15 * 60 * 1000;

// Recomputes the signature of a request as received on the wire.
// req: {method, path (raw, with query), headers: {lowercase name: value}, body: Buffer}.
// Returns {ok, reason, expected, got, service, region, canonical}.
function verify(req, creds) {
  const auth = req.headers.authorization;
  if (!auth) return { ok: false, reason: 'missing Authorization header' };
  const m = AUTH_RE.exec(auth);
  if (!m) return { ok: false, reason: 'malformed Authorization header' };
  const [, akid, scopeDate, region, service, signedList, got] = m;
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) return { ok: false, reason: 'missing or malformed X-Amz-Date' };
  if (amzDate.slice(0, 8) !== scopeDate) return { ok: false, reason: 'credential scope date differs from X-Amz-Date' };
  if (akid !== creds.accessKeyId) return { ok: false, reason: `unknown access key ${akid}` };
  const t = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T` +
    `${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!(Math.abs(Date.now() - t) <= MAX_SKEW_MS) && !req.ignoreSkew) return { ok: false, reason: 'request time too skewed' };
  const signed = signedList.split(';');
  if (!signed.includes('host')) return { ok: false, reason: 'host is not signed' };
  if (creds.sessionToken) {
    if (req.headers['x-amz-security-token'] !== creds.sessionToken) {
      return { ok: false, reason: 'X-Amz-Security-Token missing or wrong' };
    }
  }
  const headers = {};
  const include = Object.create(null);
  for (const name of signed) {
    if (req.headers[name] === undefined) return { ok: false, reason: `signed header ${name} absent` };
    headers[name] = req.headers[name];
    include[name] = true;
  }
  const opts = {
    method: req.method,
    path: req.path,
    host: req.headers.host,
    headers,
    body: req.body && req.body.length ? req.body : undefined,
    service,
    region,
    doNotModifyHeaders: true,
    extraHeadersToInclude: include,
  };
  const signer = new aws4.RequestSigner(opts, {
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
  });
  signer.datetime = amzDate; // doNotModifyHeaders leaves the date unset: take the request's
  if (!opts.body) signer.request.body = '';
  const expected = signer.signature();
  const ok = crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(got));
  return {
    ok,
    reason: ok ? '' : `signature mismatch${diagnose(signer, req.path, got)}`,
    expected,
    got,
    service,
    region,
    canonical: ok ? undefined : signer.canonicalString(),
  };
}

// On a mismatch, tells which (wrong) canonical URI the client signed, when it is a usual mistake:
// the wire path verbatim, or encoded once (S3's rule) instead of twice.
function diagnose(signer, wirePath, got) {
  const canonical = signer.canonicalString();
  const lines = canonical.split('\n');
  const path = wirePath.split('?')[0];
  const once = path.split('/').map((p) => {
    try {
      return encodeURIComponent(decodeURIComponent(p)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    } catch (e) {
      return p;
    }
  }).join('/');
  for (const [name, variant] of [['the wire path verbatim', path], ['the path encoded once', once]]) {
    if (variant === lines[1]) continue;
    const l = lines.slice();
    l[1] = variant;
    const alt = Object.create(signer);
    alt.canonicalString = () => l.join('\n');
    if (alt.signature() !== got) continue;
    let hint = '';
    if (name === 'the wire path verbatim') {
      // libcurl 7.88's CURLOPT_AWS_SIGV4 signs CURLOPT_URL's path as it is; checked with curl 7.88:
      hint = '; with libcurl 7.88 put the canonical form in CURLOPT_URL and the wire path in CURLOPT_REQUEST_TARGET';
    }
    return ` (the client signed ${name}: ${variant}; AWS encodes each segment of the wire path once more: ${lines[1]}${hint})`;
  }
  return '';
}

class SigV4Checker {
  constructor(creds, mode) {
    this.creds = creds;
    this.mode = mode || 'record';
    this.verified = 0;
    this.failed = 0;
    this.failures = []; // the first few, for the report
    this.recent = []; // the last few signed requests, for the cross-check test
  }

  // Returns true when the request may go on (always, in record mode).
  check(expectService, req) {
    const r = verify(req, this.creds);
    if (r.ok && r.service !== expectService) {
      r.ok = false;
      r.reason = `service ${r.service} signed, ${expectService} expected`;
    }
    const entry = {
      method: req.method,
      path: req.path,
      headers: req.headers,
      body_b64: req.body ? req.body.toString('base64') : '',
      ok: r.ok,
      reason: r.reason,
    };
    this.recent.push(entry);
    if (this.recent.length > 50) this.recent.shift();
    if (r.ok) {
      this.verified++;
    } else {
      this.failed++;
      if (this.failures.length < 10) {
        this.failures.push({ method: req.method, path: req.path, reason: r.reason, canonical: r.canonical });
      }
    }
    return r.ok || this.mode !== 'strict';
  }

  // Forgets what was counted so far (the stand-in's own setup calls).
  reset() {
    this.verified = 0;
    this.failed = 0;
    this.failures = [];
    this.recent = [];
  }

  stats() {
    return { mode: this.mode, verified: this.verified, failed: this.failed, failures: this.failures };
  }
}

module.exports = { verify, SigV4Checker };
