// SPDX-License-Identifier: MIT
'use strict';
// The stand-in's own tests, against the fake echo Lambda (no C code needed):
// node --test tests/aws/standin/
const test = require('node:test');
const assert = require('node:assert');
const http = require('http');
const path = require('path');
const os = require('os');
const fs = require('fs');
const { spawn } = require('child_process');
const readline = require('readline');
const aws4 = require('aws4');
const WebSocket = require('ws');

const MAIN = path.join(__dirname, 'main.js');
const ECHO = path.join(__dirname, 'echo_lambda.js');

async function startStandin(extra) {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'standin-')), 'lambda.log');
  const args = [MAIN, '--lambda-cmd', JSON.stringify([process.execPath, ECHO]), '--watch-stdin',
    '--lambda-log', logFile].concat(extra || []);
  const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const info = await new Promise((resolve, reject) => {
    // a deadline, not a duration: node + dynalite start slowly on a loaded 2-core machine
    const t = setTimeout(() => reject(new Error(`stand-in not ready in 60 s: ${stderr}`)), 60000);
    readline.createInterface({ input: proc.stdout }).once('line', (l) => {
      clearTimeout(t);
      resolve(JSON.parse(l));
    });
    proc.once('exit', (c) => reject(new Error(`stand-in exited ${c}: ${stderr}`)));
  });
  info.proc = proc;
  info.logFile = logFile;
  info.stderr = () => stderr;
  info.stop = async () => {
    if (proc.exitCode !== null) return proc.exitCode;
    const exited = new Promise((r) => proc.once('exit', (c) => r(c)));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return info;
}

function req(port, opts, body) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method: opts.method || 'GET', path: opts.path || '/',
      headers: opts.headers || {}, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, raw: res.rawHeaders,
        body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

const json = (r) => JSON.parse(r.body.toString());

// One request written byte for byte (Buffer or latin1 string) on a fresh connection: {status, raw
// head (latin1), body}.
function rawReq(port, bytes) {
  return new Promise((resolve, reject) => {
    // not half-closed: the request says Connection: close, the server closes after its answer
    const sock = require('net').connect(port, '127.0.0.1', () => sock.write(Buffer.from(bytes, 'latin1')));
    const chunks = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, end).toString('latin1');
      resolve({ status: Number(head.split(' ')[1]), head, body: all.subarray(end + 4) });
    });
  });
}

function wsOpen(url, protocols, headers) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

function nextMessage(ws, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message in time')), ms || 5000);
    ws.once('message', (d) => {
      clearTimeout(t);
      resolve(d.toString());
    });
  });
}

function closed(ws, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('not closed in time')), ms || 5000);
    ws.once('close', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

async function stats(s) {
  return json(await req(s.control_port, { path: '/stats' }));
}

// A call to the stand-in's DynamoDB, signed as an SDK signs it: the raw answer.
function ddbCall(s, op, payload) {
  const body = JSON.stringify(payload);
  const o = aws4.sign({ host: `127.0.0.1:${s.dynamodb_port}`, path: '/', method: 'POST', service: 'dynamodb',
    region: s.region, body, headers: { 'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDB_20120810.${op}` } }, s.credentials);
  return req(s.dynamodb_port, { method: 'POST', path: '/', headers: o.headers }, body);
}

test('stand-in with the echo Lambda', async (t) => {
  const s = await startStandin();
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });

  await t.test('HTTP API: payload format 2.0 event', async () => {
    const r = await req(s.http_port, { method: 'GET', path: '/a%20b/c?x=1&x=2&y=%20',
      headers: [['Host', 'abc123def456.tunnel.test'], ['X-Rep', '1'], ['X-Rep', '2'], ['Cookie', 'a=1; b=2'],
        ['Cookie', 'c=3']] });
    assert.strictEqual(r.status, 200);
    const ev = json(r).event;
    assert.strictEqual(ev.version, '2.0');
    assert.strictEqual(ev.routeKey, '$default');
    assert.strictEqual(ev.rawPath, '/a b/c'); // decoded, as the HTTP API delivers it
    assert.strictEqual(ev.rawQueryString, 'x=1&x=2&y=%20');
    assert.deepStrictEqual(ev.cookies, ['a=1', 'b=2', 'c=3']);
    assert.strictEqual(ev.headers.cookie, undefined);
    assert.strictEqual(ev.headers['x-rep'], '1,2');
    assert.strictEqual(ev.headers.host, 'abc123def456.tunnel.test');
    assert.match(ev.headers['x-amzn-trace-id'], /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    assert.strictEqual(ev.queryStringParameters.x, '1,2');
    assert.strictEqual(ev.requestContext.http.method, 'GET');
    assert.strictEqual(ev.requestContext.http.path, '/a b/c');
    assert.strictEqual(ev.isBase64Encoded, false);
    assert.strictEqual(ev.body, undefined);
  });

  await t.test('HTTP API: request heads over 10240 bytes refused (431)', async () => {
    // request line + names + values (the stricter reading of AWS's quota)
    const head = (total) => {
      const fixed = 'GET /x HTTP/1.1'.length + 'Host'.length + 'abc123def456.tunnel.test'.length +
        'Connection'.length + 'close'.length + 'X-Big'.length;
      return `GET /x HTTP/1.1\r\nHost: abc123def456.tunnel.test\r\nConnection: close\r\n` +
        `X-Big: ${'a'.repeat(total - fixed)}\r\n\r\n`;
    };
    let r = await rawReq(s.http_port, head(10240));
    assert.strictEqual(r.status, 200);
    r = await rawReq(s.http_port, head(10241));
    assert.strictEqual(r.status, 431);
    assert.strictEqual(r.body.toString(), 'HTTP header is larger than 10240 bytes.');
    r = await rawReq(s.http_port, head(40 * 1024));
    assert.strictEqual(r.status, 431);
  });

  await t.test('HTTP API: header octets as UTF-8, what is not UTF-8 becomes U+FFFD', async () => {
    // (a raw octet over 0x7f in the target: Node's parser answers 400, what AWS does is not known)
    const r = await rawReq(s.http_port, 'GET /x?q=%E9&r=%C3%A9 HTTP/1.1\r\nHost: abc123def456.tunnel.test\r\n' +
      'X-Utf8: J\xc3\xb6rg\r\nX-Latin1: J\xf6rg\r\nConnection: close\r\n\r\n');
    assert.strictEqual(r.status, 200);
    const ev = json(r).event;
    assert.strictEqual(ev.headers['x-utf8'], 'J\u00f6rg');
    assert.strictEqual(ev.headers['x-latin1'], 'J\ufffdrg');
    assert.strictEqual(ev.rawQueryString, 'q=%E9&r=%C3%A9'); // encoded, as sent
    const u = await rawReq(s.http_port, 'GET /unicode-header HTTP/1.1\r\nHost: abc123def456.tunnel.test\r\n' +
      'Connection: close\r\n\r\n');
    assert.ok(Buffer.from(u.head, 'latin1').includes(Buffer.from('x-name: J\u00f6rg \u2713', 'utf8')), u.head);
  });

  await t.test('HTTP API: bodies textual or base64, any method', async () => {
    const bin = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
    let ev = json(await req(s.http_port, { method: 'PROPFIND', path: '/dav',
      headers: { 'Content-Type': 'application/octet-stream' } }, bin)).event;
    assert.strictEqual(ev.requestContext.http.method, 'PROPFIND');
    assert.strictEqual(ev.isBase64Encoded, true);
    assert.deepStrictEqual(Buffer.from(ev.body, 'base64'), bin);
    ev = json(await req(s.http_port, { method: 'POST', path: '/j', headers: { 'Content-Type': 'application/json' } },
      '{"é":1}')).event;
    assert.strictEqual(ev.isBase64Encoded, false);
    assert.strictEqual(ev.body, '{"é":1}');
  });

  await t.test('HTTP API: 2.0 answers mapped back', async () => {
    let r = await req(s.http_port, { path: '/cookies' });
    assert.strictEqual(r.status, 200);
    const cookies = [];
    for (let i = 0; i < r.raw.length; i += 2) if (r.raw[i].toLowerCase() === 'set-cookie') cookies.push(r.raw[i + 1]);
    assert.deepStrictEqual(cookies, ['a=1; Path=/', 'b=2, c=3; Expires=Wed, 21 Oct 2026 07:28:00 GMT']);
    assert.strictEqual(r.headers['x-multi'], 'v1,v2');
    r = await req(s.http_port, { path: '/binary' });
    assert.strictEqual(r.body.length, 256);
    assert.strictEqual(r.body[255], 255);
    // no statusCode: inferred from valid JSON only ("Lambda function response for format 2.0")
    r = await req(s.http_port, { path: '/infer-string' });
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.headers['content-type'], 'application/json');
    assert.strictEqual(r.body.toString(), 'Hello from Lambda!');
    r = await req(s.http_port, { path: '/infer-object' });
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.headers['content-type'], 'application/json');
    assert.strictEqual(r.body.toString(), '{ "message": "Hello from Lambda!" }');
    r = await req(s.http_port, { path: '/noproxy' });
    assert.strictEqual(r.status, 500);
    assert.deepStrictEqual(json(r), { message: 'Internal Server Error' });
    r = await req(s.http_port, { path: '/status/418' });
    assert.strictEqual(r.status, 418);
  });

  await t.test('HTTP API: Lambda failures are 500, the next request works', async () => {
    for (const p of ['/error', '/exit', '/huge']) {
      const r = await req(s.http_port, { path: p });
      assert.strictEqual(r.status, 500, p);
      assert.deepStrictEqual(json(r), { message: 'Internal Server Error' });
    }
    assert.strictEqual((await req(s.http_port, { path: '/status/200' })).status, 200);
  });

  await t.test('HTTP API: 10 MB request limit', async () => {
    const r = await req(s.http_port, { method: 'POST', path: '/x', headers: { 'Content-Type': 'application/octet-stream' } },
      Buffer.alloc(10 * 1024 * 1024 + 1));
    assert.strictEqual(r.status, 413);
    const ok = await req(s.http_port, { method: 'POST', path: '/x', headers: { 'Content-Type': 'text/plain' } },
      Buffer.alloc(1024, 'a'));
    assert.strictEqual(ok.status, 200);
  });

  await t.test('Lambda: concurrent invocations run in parallel environments', async () => {
    // 8 x 2 s would take 16 s one after the other (cold starts of 8 Node processes included)
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 8 }, () => req(s.http_port, { path: '/sleep/2000' })));
    assert.ok(rs.every((r) => r.status === 200));
    // environments busy at once prove it (elapsed time would depend on the machine's load)
    assert.ok((await stats(s)).lambda.max_busy >= 6, `took ${Date.now() - t0} ms`);
  });

  await t.test('WebSocket: $connect selects the subprotocol, $default events, echo', async () => {
    const ws = await wsOpen(s.websocket_url, ['ttf.bin.v1', 'ttf.json.v1']);
    assert.strictEqual(ws.protocol, 'ttf.json.v1');
    ws.send(JSON.stringify({ op: 'event' }));
    const ev = JSON.parse(await nextMessage(ws)).event;
    assert.strictEqual(ev.requestContext.eventType, 'MESSAGE');
    assert.strictEqual(ev.requestContext.routeKey, '$default');
    assert.strictEqual(ev.requestContext.stage, 'dev');
    assert.ok(ev.requestContext.messageId && ev.requestContext.connectionId);
    assert.strictEqual(ev.isBase64Encoded, false);
    assert.strictEqual(ev.body, '{"op":"event"}');
    ws.send('{"op":"echo","n":1}');
    assert.strictEqual(await nextMessage(ws), '{"op":"echo","n":1}');
    // 100 KiB in 32 KB frames is fine; the answer comes back whole
    const big = JSON.stringify({ op: 'echo', pad: 'p'.repeat(100 * 1024) });
    const buf = Buffer.from(big);
    for (let off = 0; off < buf.length; off += 32000) {
      ws.send(buf.subarray(off, off + 32000), { binary: false, fin: off + 32000 >= buf.length });
    }
    assert.strictEqual(await nextMessage(ws), big);
    ws.send(JSON.stringify({ op: 'get' }));
    const got = JSON.parse(await nextMessage(ws));
    assert.strictEqual(got.status, 200);
    // GetConnection's wire names (the management API's REST-JSON model: locationName
    // connectedAt, identity.sourceIp / userAgent, lastActiveAt; SDKs show them capitalized)
    assert.deepStrictEqual(Object.keys(got.info).sort(), ['connectedAt', 'identity', 'lastActiveAt']);
    assert.strictEqual(got.info.identity.sourceIp, '127.0.0.1');
    assert.strictEqual(typeof got.info.identity.userAgent, 'string');
    assert.ok(!Number.isNaN(Date.parse(got.info.connectedAt)) && !Number.isNaN(Date.parse(got.info.lastActiveAt)));
    ws.send(JSON.stringify({ op: 'big', size: 128000 + 1 }));
    assert.strictEqual(JSON.parse(await nextMessage(ws)).status, 413);
    ws.send(JSON.stringify({ op: 'post_other', to: 'nosuchconnAA=' }));
    const other = JSON.parse(await nextMessage(ws));
    assert.strictEqual(other.status, 410);
    assert.strictEqual(other.type, 'GoneException');
    // two-way communication on $default: the Lambda's answer body reaches the client
    ws.send(JSON.stringify({ op: 'route_response', n: 7 }));
    assert.strictEqual(await nextMessage(ws), 'route-response 7');
    ws.send(JSON.stringify({ op: 'fail' }));
    assert.strictEqual(JSON.parse(await nextMessage(ws)).message, 'Internal server error');
    const c = closed(ws);
    ws.send(JSON.stringify({ op: 'delete' }));
    assert.strictEqual(await c, 1000);
  });

  await t.test('WebSocket: $connect refusal, wrong stage, no subprotocol selected', async () => {
    await assert.rejects(wsOpen(s.websocket_url, ['ttf.json.v1'], { Authorization: 'Bearer bad' }), { status: 401 });
    await assert.rejects(wsOpen(s.websocket_url.replace('/dev', '/prod'), ['ttf.json.v1']), { status: 403 });
    await assert.rejects(wsOpen(`${s.websocket_url}?crash=1`, ['ttf.json.v1']), { status: 500 });
    await assert.rejects(wsOpen(`${s.websocket_url}?noproto=1`, ['ttf.json.v1']), /subprotocol/);
    const plain = await wsOpen(s.websocket_url);
    assert.strictEqual(plain.protocol, '');
    plain.close();
  });

  await t.test('WebSocket: 32 KB frame and 128 KB message limits close with 1009', async () => {
    let ws = await wsOpen(s.websocket_url, ['ttf.json.v1']);
    let c = closed(ws);
    ws.send('y'.repeat(32001));
    assert.strictEqual(await c, 1009);
    ws = await wsOpen(s.websocket_url, ['ttf.json.v1']);
    c = closed(ws);
    for (let i = 0; i < 5; i++) ws.send('z'.repeat(30 * 1024), { binary: false, fin: i === 4 });
    assert.strictEqual(await c, 1009);
  });

  await t.test('WebSocket: a binary frame closes the connection with 1003, no $default', async () => {
    // "API Gateway WebSocket APIs don't currently support binary frames in incoming message
    // payloads. If a client app sends a binary frame, API Gateway rejects it and disconnects the
    // client with code 1003." (Binary media types for WebSocket APIs in API Gateway)
    const before = (await stats(s)).lambda.by_kind.$default || 0;
    const ws = await wsOpen(s.websocket_url, ['ttf.json.v1']);
    const c = closed(ws);
    ws.send(Buffer.from('{"op":"echo"}'), { binary: true });
    assert.strictEqual(await c, 1003);
    assert.strictEqual((await stats(s)).lambda.by_kind.$default || 0, before);
  });

  await t.test('WebSocket: $disconnect event, control hook drops a connection', async () => {
    const ws = await wsOpen(s.websocket_url, ['ttf.json.v1']);
    ws.send(JSON.stringify({ op: 'event' }));
    const id = JSON.parse(await nextMessage(ws)).event.requestContext.connectionId;
    const c = closed(ws);
    const r = await req(s.control_port, { method: 'POST', path: `/connections/${encodeURIComponent(id)}/drop` });
    assert.strictEqual(r.status, 200);
    assert.strictEqual(await c, 1001);
    const deadline = Date.now() + 5000;
    let ev = null;
    while (!ev && Date.now() < deadline) {
      for (const l of fs.readFileSync(s.logFile, 'utf8').split('\n')) {
        const m = /^\[env \d+\] (\{"disconnect".*)$/.exec(l);
        if (m && JSON.parse(m[1]).disconnect.requestContext.connectionId === id) ev = JSON.parse(m[1]).disconnect;
      }
      if (!ev) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(ev, 'no $disconnect invocation seen');
    assert.strictEqual(ev.requestContext.eventType, 'DISCONNECT');
    assert.strictEqual(ev.requestContext.disconnectStatusCode, 1001);
  });

  await t.test('DynamoDB: tables, GSI and TTL as the contract says', async () => {
    const call = async (op, payload) => {
      const r = await ddbCall(s, op, payload);
      assert.strictEqual(r.status, 200, r.body.toString());
      return json(r);
    };
    const d = await call('DescribeTable', { TableName: s.tables.connections });
    assert.strictEqual(d.Table.GlobalSecondaryIndexes[0].IndexName, 'tunnel-id-index');
    const ttl = await call('DescribeTimeToLive', { TableName: s.tables.pending });
    assert.deepStrictEqual(ttl.TimeToLiveDescription, { TimeToLiveStatus: 'ENABLED', AttributeName: 'ttl' });
    await call('PutItem', { TableName: s.tables.connections, Item: { connectionId: { S: 'c1' },
      tunnelId: { S: 'abc123def456' }, ttl: { N: '1' } } });
    const q = await call('Query', { TableName: s.tables.connections, IndexName: 'tunnel-id-index',
      KeyConditionExpression: 'tunnelId = :t', ExpressionAttributeValues: { ':t': { S: 'abc123def456' } } });
    assert.strictEqual(q.Items[0].connectionId.S, 'c1');
    // UpdateTimeToLive again within the hour (the stand-in enabled TTL at start): ValidationException
    const again = await ddbCall(s, 'UpdateTimeToLive', { TableName: s.tables.pending,
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } });
    assert.strictEqual(again.status, 400);
    assert.match(json(again).__type, /ValidationException$/);
    // TTL values DynamoDB's TTL ignores are counted: milliseconds (PutItem, UpdateItem's SET),
    // more than five years in the past (the item above, ttl 1); epoch seconds are not
    const before = (await stats(s)).dynamodb.ttl_not_seconds;
    const nowS = Math.floor(Date.now() / 1000);
    await call('PutItem', { TableName: s.tables.pending, Item: { requestId: { S: 'r-ms' }, ttl: { N: String(Date.now()) } } });
    await call('PutItem', { TableName: s.tables.pending, Item: { requestId: { S: 'r-s' }, ttl: { N: String(nowS + 60) } } });
    await call('UpdateItem', { TableName: s.tables.pending, Key: { requestId: { S: 'r-s' } },
      UpdateExpression: 'ADD hits :one SET #t = :ttl', ExpressionAttributeNames: { '#t': 'ttl' },
      ExpressionAttributeValues: { ':one': { N: '1' }, ':ttl': { N: String(Date.now()) } } });
    await call('UpdateItem', { TableName: s.tables.pending, Key: { requestId: { S: 'r-s' } },
      UpdateExpression: 'SET #t = :ttl', ExpressionAttributeNames: { '#t': 'ttl' },
      ExpressionAttributeValues: { ':ttl': { N: String(nowS + 120) } } });
    assert.strictEqual((await stats(s)).dynamodb.ttl_not_seconds - before, 2);
  });

  await t.test('SigV4: every Lambda call was checked', async () => {
    const st = await stats(s);
    assert.ok(st.sigv4.verified > 5);
    assert.strictEqual(st.sigv4.failed, 0, JSON.stringify(st.sigv4.failures));
    // a forged signature is counted (record mode)
    const r = await req(s.websocket_port, { method: 'GET', path: '/dev/@connections/xyz', headers: {
      Authorization: `AWS4-HMAC-SHA256 Credential=${s.credentials.accessKeyId}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
      'X-Amz-Date': '20260101T000000Z' } });
    assert.strictEqual(r.status, 410);
    assert.strictEqual((await stats(s)).sigv4.failed, 1);
  });
});

test('WebSocket route selection: infra/websocket.json, agent messages to $default', async (t) => {
  const s = await startStandin(['--ws-extra-route', 'join']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  const ws = await wsOpen(s.websocket_url, ['ttf.json.v1']);
  const routeOf = async (msg) => {
    const p = nextMessage(ws);
    ws.send(msg);
    return JSON.parse(await p).event.requestContext.routeKey;
  };
  // the expression's field picks a custom route; a message type or no field does not
  assert.strictEqual(await routeOf(JSON.stringify({ op: 'event', action: 'join' })), 'join');
  assert.strictEqual(await routeOf(JSON.stringify({ op: 'event', action: 'other' })), '$default');
  assert.strictEqual(await routeOf(JSON.stringify({ op: 'event', type: 'join' })), '$default');
  assert.strictEqual(await routeOf(JSON.stringify({ op: 'event', type: 'http_response', request_id: 'r' })),
    '$default');
  const st = await stats(s);
  assert.strictEqual(st.websocket.routes.join, 1);
  assert.strictEqual(st.websocket.routes.$default, 3);
  ws.close();
});

test('stand-in: timeouts, init errors, strict SigV4', async (t) => {
  const s = await startStandin(['--integration-timeout-ms', '600', '--function-timeout-ms', '5000', '--sigv4', 'strict',
    '--cap', '4']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  await t.test('integration timeout is 503 Service Unavailable', async () => {
    // the function sleeps 4 s (under its 5 s timeout): only the 600 ms integration timeout can
    // answer 503, whatever the machine's load
    const r = await req(s.http_port, { path: '/sleep/4000' });
    assert.strictEqual(r.status, 503);
    assert.deepStrictEqual(json(r), { message: 'Service Unavailable' });
  });
  await t.test('strict mode answers 403 to a bad signature', async () => {
    const r = await req(s.websocket_port, { method: 'DELETE', path: '/dev/@connections/xyz', headers: {
      Authorization: 'AWS4-HMAC-SHA256 Credential=AKIAOTHER/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + '1'.repeat(64),
      'X-Amz-Date': '20260101T000000Z' } });
    assert.strictEqual(r.status, 403);
  });
});

test('stand-in: function timeout and init error', async (t) => {
  const s = await startStandin(['--function-timeout-ms', '500', '--env', 'ECHO_LAMBDA_INIT_FAIL=1']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  const r = await req(s.http_port, { path: '/status/200' });
  assert.strictEqual(r.status, 500);
  const st = await stats(s);
  assert.ok(st.lambda.init_errors >= 1);
  const s2 = await startStandin(['--function-timeout-ms', '500']);
  try {
    const r2 = await req(s2.http_port, { path: '/sleep/3000' });
    assert.strictEqual(r2.status, 500);
    assert.strictEqual((await stats(s2)).lambda.timeouts, 1);
  } finally {
    assert.strictEqual(await s2.stop(), 0);
  }
});

test('SigV4 checker reproduces the example of the AWS SigV4 documentation (IAM ListUsers)', () => {
  const { verify } = require('./sigv4');
  const req = (sig) => ({ method: 'GET', path: '/?Action=ListUsers&Version=2010-05-08', ignoreSkew: true,
    body: Buffer.alloc(0), headers: { host: 'iam.amazonaws.com', 'x-amz-date': '20150830T123600Z',
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, ' +
        `SignedHeaders=content-type;host;x-amz-date, Signature=${sig}` } });
  const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const good = '5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7';
  assert.strictEqual(verify(req(good), creds).ok, true);
  assert.strictEqual(verify(req(`${good.slice(0, 63)}8`), creds).ok, false);
  // and the request time is checked (15 min skew) unless told otherwise
  const late = req(good);
  delete late.ignoreSkew;
  assert.match(verify(late, creds).reason, /skewed/);
});

test('DynamoDB fault injection: throttles and partial batches, a retry gets through', async (t) => {
  const s = await startStandin(['--ddb-faults', '1']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  const call = (op, payload) => ddbCall(s, op, payload);
  let items = ['a', 'b', 'c', 'd'].map((k) => ({ PutRequest: { Item: { requestId: { S: k }, ttl: { N: '1' } } } }));
  let faults = 0;
  for (let round = 0; round < 12 && items.length; round++) {
    const r = await call('BatchWriteItem', { RequestItems: { [s.tables.pending]: items } });
    if (r.status === 400) {
      assert.match(json(r).__type, /ProvisionedThroughputExceeded/);
      faults++;
      continue;
    }
    assert.strictEqual(r.status, 200);
    const un = (json(r).UnprocessedItems || {})[s.tables.pending] || [];
    if (un.length) faults++;
    items = un;
  }
  assert.strictEqual(items.length, 0);
  assert.ok(faults >= 1);
  const got = await call('BatchGetItem', { RequestItems: { [s.tables.pending]: { Keys: ['a', 'b', 'c', 'd']
    .map((k) => ({ requestId: { S: k } })), ConsistentRead: true } } });
  if (got.status === 200) {
    const doc = json(got);
    const n = doc.Responses[s.tables.pending].length + ((doc.UnprocessedKeys || {})[s.tables.pending] || { Keys: [] }).Keys.length;
    assert.strictEqual(n, 4);
  } else {
    assert.strictEqual(got.status, 400);
  }
});

test('ready only once the tables are ACTIVE: the first call after the ready line finds them', async (t) => {
  // Tables that stay CREATING for 1.5 s (as on AWS, where it takes seconds): before the stand-in
  // waited for ACTIVE, the ready line came first and these calls met ResourceNotFoundException.
  const t0 = Date.now();
  const s = await startStandin(['--ddb-create-table-ms', '1500']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  assert.ok(Date.now() - t0 >= 1500, 'ready before the tables could be ACTIVE');
  const call = (op, payload) => ddbCall(s, op, payload);
  for (const table of Object.values(s.tables)) {
    const d = await call('DescribeTable', { TableName: table });
    assert.strictEqual(d.status, 200);
    const desc = json(d).Table;
    assert.strictEqual(desc.TableStatus, 'ACTIVE');
    for (const g of desc.GlobalSecondaryIndexes || []) assert.strictEqual(g.IndexStatus, 'ACTIVE');
    const ttl = await call('DescribeTimeToLive', { TableName: table });
    assert.strictEqual(json(ttl).TimeToLiveDescription.TimeToLiveStatus, 'ENABLED');
  }
  const put = await call('PutItem', { TableName: s.tables.connections,
    Item: { connectionId: { S: 'c1' }, tunnelId: { S: 'first' }, ttl: { N: '1' } } });
  assert.strictEqual(put.status, 200, put.body.toString());
  const q = await call('Query', { TableName: s.tables.connections, IndexName: 'tunnel-id-index',
    KeyConditionExpression: 'tunnelId = :t', ExpressionAttributeValues: { ':t': { S: 'first' } } });
  assert.strictEqual(q.status, 200, q.body.toString());
  assert.strictEqual(json(q).Count, 1);
});

test('HTTP API stage throttling: a token bucket, 429 past it', async (t) => {
  // "Throttling requests to your HTTP API": a token bucket, a token a request; past the rate and
  // burst, 429 Too Many Requests. Pure: the bucket refills with the time it is given.
  const { TokenBucket } = require('./http_api');
  const b = new TokenBucket(2, 3, 0);
  assert.deepStrictEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.strictEqual(b.take(499), false); // 0.998 of a token
  assert.strictEqual(b.take(500), true); // one token at 2/s after 500 ms
  assert.deepStrictEqual([b.take(10000), b.take(10000), b.take(10000), b.take(10000)], [true, true, true, false]);

  // Through the stand-in: a burst of 3 and a rate so low that no token comes back during the test.
  const s = await startStandin(['--http-throttle', '0.001,3']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  const statuses = [];
  for (let i = 0; i < 5; i++) {
    const r = await req(s.http_port, { path: '/status/200' });
    statuses.push(r.status);
    if (r.status === 429) {
      assert.deepStrictEqual(json(r), { message: 'Too Many Requests' });
      assert.ok(r.headers['apigw-requestid']);
    }
  }
  assert.deepStrictEqual(statuses, [200, 200, 200, 429, 429]);
  const st = await stats(s);
  assert.strictEqual(st.http.throttled, 2);
  assert.strictEqual(st.lambda.by_kind.http, 3); // a throttled request invokes nothing
});

test('DynamoDB: --gsi-lag-ms leaves fresh index entries out of a Query on the index', async (t) => {
  const s = await startStandin(['--gsi-lag-ms', '800']);
  t.after(async () => {
    assert.strictEqual(await s.stop(), 0);
  });
  const call = (op, payload) => ddbCall(s, op, payload);
  const query = async () => json(await call('Query', { TableName: s.tables.connections, IndexName: 'tunnel-id-index',
    KeyConditionExpression: 'tunnelId = :t', ExpressionAttributeValues: { ':t': { S: 'lagtunnel' } } }));
  const ttl = { N: String(Math.floor(Date.now() / 1000) + 600) };
  const t0 = Date.now();
  assert.strictEqual((await call('PutItem', { TableName: s.tables.connections,
    Item: { connectionId: { S: 'lag1' }, tunnelId: { S: 'lagtunnel' }, ttl } })).status, 200);
  const early = await query();
  assert.ok(Date.now() - t0 < 800, 'too slow to look within the lag');
  assert.deepStrictEqual([early.Count, early.Items.length], [0, 0]);
  // the table itself is up to date: a consistent GetItem sees the item at once
  const got = json(await call('GetItem', { TableName: s.tables.connections, Key: { connectionId: { S: 'lag1' } },
    ConsistentRead: true }));
  assert.strictEqual(got.Item.tunnelId.S, 'lagtunnel');
  const deadline = Date.now() + 10000;
  let late;
  do {
    await new Promise((r) => setTimeout(r, 100));
    late = await query();
  } while (late.Count === 0 && Date.now() < deadline);
  assert.strictEqual(late.Items[0].connectionId.S, 'lag1');
  assert.ok(Date.now() - t0 >= 800, `seen after ${Date.now() - t0} ms`);
  // a refused conditional write changes no index entry: the item stays in the index
  const refused = await call('PutItem', { TableName: s.tables.connections, ConditionExpression: 'attribute_not_exists(connectionId)',
    Item: { connectionId: { S: 'lag1' }, tunnelId: { S: 'lagtunnel' }, ttl } });
  assert.strictEqual(refused.status, 400);
  assert.strictEqual((await query()).Count, 1);
  assert.ok((await stats(s)).dynamodb.gsi.hidden >= 1);
});
