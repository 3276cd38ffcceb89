#!/usr/bin/env node
// SPDX-License-Identifier: MIT
'use strict';
// Independent SigV4 cross-check for one recorded request (the aws4 npm package, not the C code):
// reads {"method","path","headers":{lowercase: value},"body_b64"} and {"credentials"} as one JSON
// document on stdin, prints {"ok","expected","got","reason"}.
const { verify } = require('./sigv4');

let input = '';
process.stdin.on('data', (d) => {
  input += d;
});
process.stdin.on('end', () => {
  const doc = JSON.parse(input);
  const r = doc.request;
  const res = verify({ method: r.method, path: r.path, headers: r.headers, body: Buffer.from(r.body_b64 || '', 'base64'),
    ignoreSkew: true }, doc.credentials);
  process.stdout.write(`${JSON.stringify({ ok: res.ok, expected: res.expected, got: res.got, reason: res.reason,
    service: res.service })}\n`);
});
