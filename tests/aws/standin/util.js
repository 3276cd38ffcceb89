// SPDX-License-Identifier: MIT
'use strict';
// Small helpers shared by the stand-in's parts: ids, AWS-style timestamps, bounded body reads,
// JSON answers and a fixed-size sample store for latency percentiles.
const crypto = require('crypto');

// API Gateway ids look like "TBBw6eacoAMCLBQ=": 11 random bytes, base64 with its padding.
// '+' and '/' are swapped for '-' and '_' as API Gateway's ids never contain them.
function apigwId() {
  return crypto.randomBytes(11).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function uuid() {
  return crypto.randomUUID();
}

// X-Amzn-Trace-Id root: 1-<8 hex epoch seconds>-<24 hex random>.
function traceRoot() {
  const secs = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return `1-${secs}-${crypto.randomBytes(12).toString('hex')}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// "12/Mar/2020:19:03:58 +0000", the format of requestContext.time / requestTime.
function clfTime(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

// Reads a request body up to `limit` bytes. Resolves {body, tooLarge}; past the limit it stops
// buffering (memory stays bounded) and reports tooLarge once the request has ended or been cut.
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks), tooLarge, size }));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('client aborted')));
  });
}

function sendJson(res, status, obj, extraHeaders) {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(obj === undefined ? '' : JSON.stringify(obj));
  const headers = Object.assign({ 'Content-Type': 'application/json', 'Content-Length': body.length },
    extraHeaders || {});
  res.writeHead(status, headers);
  res.end(body);
}

// Header pairs as received (raw case, repeated names kept, in order).
function headerPairs(req) {
  const out = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  return out;
}

// Percentiles over a bounded list of samples (the newest `cap` kept).
class Samples {
  constructor(cap) {
    this.cap = cap || 10000;
    this.values = [];
    this.count = 0;
  }

  add(v) {
    this.count++;
    this.values.push(v);
    if (this.values.length > this.cap) this.values.shift();
  }

  summary() {
    if (this.values.length === 0) return { count: 0 };
    const s = [...this.values].sort((a, b) => a - b);
    const pick = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    return {
      count: this.count,
      mean: Math.round(mean * 10) / 10,
      p50: pick(0.5),
      p95: pick(0.95),
      max: s[s.length - 1],
      min: s[0],
    };
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

module.exports = { apigwId, uuid, traceRoot, clfTime, readBody, sendJson, headerPairs, Samples, sleep };
