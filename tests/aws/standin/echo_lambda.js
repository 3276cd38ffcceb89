#!/usr/bin/env node
// SPDX-License-Identifier: MIT
'use strict';
// A fake Lambda for the stand-in's own tests (not the product): speaks the Runtime API like
// `bootstrap`, and answers events in ways that exercise the stand-in (echo, errors, big bodies,
// cookies, management API calls signed with aws4).
const http = require('http');
const aws4 = require('aws4');

const api = process.env.AWS_LAMBDA_RUNTIME_API;
const agent = new http.Agent({ keepAlive: true });
const creds = { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  sessionToken: process.env.AWS_SESSION_TOKEN };
const mgmt = new URL(process.env.WEBSOCKET_API_ENDPOINT.replace(/^ws/, 'http'));

function request(opts, body) {
  return new Promise((resolve, reject) => {
    const r = http.request(Object.assign({ agent }, opts), (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

function runtime(method, path, body) {
  const [host, port] = api.split(':');
  return request({ host, port, method, path: `/2018-06-01/runtime${path}`,
    headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, body);
}

// @connections call signed by aws4 (path as the SDKs send it: '@' and '=' percent-encoded).
function connections(method, id, body) {
  const path = `${mgmt.pathname.replace(/\/$/, '')}/%40connections/${encodeURIComponent(id)}`;
  const signed = aws4.sign({ host: mgmt.host, path, method, service: 'execute-api', region: process.env.AWS_REGION,
    body, headers: body ? { 'Content-Type': 'application/octet-stream' } : {} }, creds);
  return request({ host: mgmt.hostname, port: mgmt.port, method, path, headers: signed.headers }, body);
}

function hdr(obj, name) {
  for (const [k, v] of Object.entries(obj || {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

async function onConnect(ev) {
  const q = ev.queryStringParameters || {};
  if (q.crash) throw new Error('crash requested');
  if (hdr(ev.headers, 'authorization') === 'Bearer bad') return { statusCode: 401, body: 'denied' };
  const offered = String(hdr(ev.headers, 'sec-websocket-protocol') || '').split(',').map((s) => s.trim()).filter(Boolean);
  if (q.noproto || offered.length === 0) return { statusCode: 200 };
  const pick = q.proto || (offered.includes('ttf.json.v1') ? 'ttf.json.v1' : offered[0]);
  return { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': pick } };
}

async function onMessage(ev) {
  const id = ev.requestContext.connectionId;
  let msg = {};
  try {
    msg = JSON.parse(ev.body);
  } catch (e) {
    msg = { op: 'raw' };
  }
  switch (msg.op) {
    case 'fail': throw new Error('fail requested');
    case 'event': await connections('POST', id, JSON.stringify({ event: ev })); break;
    case 'big': {
      const r = await connections('POST', id, 'x'.repeat(msg.size));
      if (r.status !== 200) await connections('POST', id, JSON.stringify({ status: r.status, body: r.body.toString() }));
      break;
    }
    case 'get': {
      const r = await connections('GET', id);
      await connections('POST', id, JSON.stringify({ status: r.status, info: JSON.parse(r.body.toString()) }));
      break;
    }
    case 'delete': await connections('DELETE', id); break;
    case 'route_response': return { statusCode: 200, body: `route-response ${msg.n}` };
    case 'post_other': {
      const r = await connections('POST', msg.to, 'hello');
      await connections('POST', id, JSON.stringify({ status: r.status, body: r.body.toString(),
        type: r.headers['x-amzn-errortype'] }));
      break;
    }
    default: await connections('POST', id, ev.body); // echo
  }
  return { statusCode: 200 };
}

async function onHttp(ev) {
  const p = ev.rawPath;
  let m;
  if ((m = /^\/sleep\/(\d+)$/.exec(p))) {
    await new Promise((r) => setTimeout(r, Number(m[1])));
    return { statusCode: 200, body: 'slept' };
  }
  if (p === '/error') throw new Error('error requested');
  if (p === '/exit') process.exit(3);
  if (p === '/huge') return { statusCode: 200, body: 'x'.repeat(6 * 1024 * 1024 + 10) };
  if ((m = /^\/status\/(\d+)$/.exec(p))) return { statusCode: Number(m[1]), body: `status ${m[1]}` };
  if (p === '/cookies') {
    return { statusCode: 200, headers: { 'x-multi': 'v1,v2', 'content-type': 'text/plain' },
      cookies: ['a=1; Path=/', 'b=2, c=3; Expires=Wed, 21 Oct 2026 07:28:00 GMT'], body: 'ok' };
  }
  if (p === '/binary') {
    const bytes = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) bytes[i] = i;
    return { statusCode: 200, headers: { 'content-type': 'application/octet-stream' },
      body: bytes.toString('base64'), isBase64Encoded: true };
  }
  // answers without statusCode, written as they are (a string is posted verbatim): not JSON,
  // a JSON string and a JSON object as in the payload 2.0 page's table
  if (p === '/noproxy') return 'hello';
  if (p === '/infer-string') return '"Hello from Lambda!"';
  if (p === '/infer-object') return '{ "message": "Hello from Lambda!" }';
  if (p === '/unicode-header') return { statusCode: 200, headers: { 'x-name': 'J\u00f6rg \u2713' }, body: 'ok' };
  if (p === '/post') {
    const r = await connections('POST', ev.queryStringParameters.conn, 'from-http');
    return { statusCode: 200, body: JSON.stringify({ status: r.status }) };
  }
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: ev }) };
}

async function handle(ev) {
  const rc = ev.requestContext || {};
  if (rc.eventType === 'CONNECT') return onConnect(ev);
  if (rc.eventType === 'MESSAGE') return onMessage(ev);
  if (rc.eventType === 'DISCONNECT') {
    process.stdout.write(`${JSON.stringify({ disconnect: ev })}\n`);
    return { statusCode: 200 };
  }
  if (ev.version === '2.0' && rc.http) return onHttp(ev);
  throw new Error('unknown event');
}

async function loop() {
  for (;;) {
    const next = await runtime('GET', '/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    let ev;
    try {
      ev = JSON.parse(next.body.toString());
      const out = await handle(ev);
      await runtime('POST', `/invocation/${id}/response`, typeof out === 'string' ? out : JSON.stringify(out));
    } catch (e) {
      await runtime('POST', `/invocation/${id}/error`, JSON.stringify({ errorMessage: String(e.message), errorType: 'Error' }));
    }
  }
}

if (process.env.ECHO_LAMBDA_INIT_FAIL) {
  runtime('POST', '/init/error', JSON.stringify({ errorMessage: 'init failed', errorType: 'Init' }))
    .then(() => process.exit(1));
} else {
  loop().catch((e) => {
    process.stderr.write(`echo lambda: ${e}\n`);
    process.exit(1);
  });
}
