#!/usr/bin/env node
// SPDX-License-Identifier: MIT
'use strict';
// The local AWS stand-in: DynamoDB (dynalite), API Gateway WebSocket + HTTP APIs and the Lambda
// service around real `bootstrap` processes, all on 127.0.0.1 ephemeral ports. Prints one JSON
// line with its ports on stdout once ready; a control port serves /stats and test hooks.
// Stops every child on SIGINT/SIGTERM, on POST /shutdown, or when stdin closes (--watch-stdin).
const http = require('http');
const fs = require('fs');
const { SigV4Checker } = require('./sigv4');
const { Dynamo } = require('./dynamo');
const { LambdaPool } = require('./lambda_pool');
const { WsApi } = require('./ws_api');
const { HttpApi, LatencyTracker } = require('./http_api');
const { sendJson } = require('./util');
const { tableNames, tableEnv } = require('./tables');
const { ActionLog } = require('./actions');

const USAGE = `usage: main.js (--bootstrap PATH | --lambda-cmd JSON_ARRAY) [options]
  --env K=V                 extra Lambda environment (repeatable; K= removes K)
  --stage NAME              WebSocket API stage (dev)
  --cap N                   concurrency of each Lambda function (64); past it invocations are
                            throttled (429), not queued
  --ws-concurrency N        reserved concurrency of the WebSocket routes' function (--cap)
  --http-concurrency N      reserved concurrency of the HTTP API's function (--cap)
  --single-function         one function for both APIs (upstream's layout) instead of two
                            functions from the same code (infra/ deploys two)
  --function-timeout-ms N   Lambda function timeout (30000)
  --integration-timeout-ms N  HTTP API integration timeout (29000)
  --max-request-bytes N     HTTP API request limit (10485760)
  --http-throttle RATE,BURST  HTTP API stage throttling (infra/'s rateLimitPerSecond and
                            rateLimitBurst): a token bucket, 429 {"message":"Too Many Requests"}
                            past it (off: the suite and bench/ measure the stack, not the limit)
  --connect-settle-ms N     posts to a connection younger than N ms get 410 (0)
  --connect-refuse-posts N  the first N posts to each connection get 410 (0)
  --message-jitter-ms N     delay each $default invocation randomly by up to N ms (0): out of order
  --ddb-faults P            DynamoDB throttles (P/4) and trims batches (P) at random, never the
                            same request twice (0)
  --ddb-delay-ms N          answer every DynamoDB call of the Lambda N ms late (0)
  --gsi-lag-ms N            a global secondary index shows an item N ms after its index key was
                            written (0: at once); AWS's propagation is eventually consistent
  --ddb-create-table-ms N   the tables stay CREATING for N ms after CreateTable, as on AWS (0);
                            the ready line is printed once they are ACTIVE
  --one-way                 no route response on $default: the Lambda's answers to messages are
                            dropped (default: two-way communication, as infra/websocket.json
                            configures it)
  --ws-extra-route KEY      a custom WebSocket route infra/ does not deploy (repeatable; tests of
                            the route selection expression)
  --connection-max-ms N     API Gateway closes a WebSocket connection after N ms (7200000, 2 h)
  --idle-timeout-ms N       ... and after N ms without a message from the client (600000)
  --post-limit P            @connections posts get 429 LimitExceededException: a share P of them,
                            spread evenly, never twice for the same message (0); a
                            connection with more than 4 MiB of unsent output always gets it
  --sigv4 record|strict     signature check: count mismatches, or answer 403 as AWS (record)
  --lambda-log FILE         write the Lambda processes' output there (default: stderr)
  --actions-log FILE        append each distinct AWS action served to the Lambda (IAM's view:
                            {"action","resource"} JSON lines) to FILE
  --region R                AWS region (us-east-1)
  --watch-stdin             stop when stdin closes (the parent went away)
  -v                        log each public request on stderr (method, path, status, bytes, ms)`;

function parseArgs(argv) {
  const o = { env: {}, stage: 'dev', cap: 64, functionTimeoutMs: 30000, integrationTimeoutMs: 29000,
    maxRequest: 10 * 1024 * 1024, sigv4: 'record', region: 'us-east-1', cmd: null, lambdaLog: null, actionsLog: null,
    watchStdin: false, verbose: false, settleMs: 0, refusePosts: 0, jitterMs: 0, ddbFaults: 0, ddbDelayMs: 0, ddbCreateTableMs: 0,
    wsConcurrency: null, httpConcurrency: null, singleFunction: false, postLimit: 0,
    maxLifetimeMs: 0, idleMs: 0, routeResponse: true, extraRoutes: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const num = () => {
      const v = Number(val());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} wants a non-negative number`);
      return v;
    };
    switch (a) {
      case '--bootstrap': o.cmd = [val()]; break;
      case '--lambda-cmd': o.cmd = JSON.parse(val()); break;
      case '--env': {
        const kv = val();
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new Error(`--env wants K=V, got ${kv}`);
        o.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      case '--stage': o.stage = val(); break;
      case '--cap': o.cap = num(); break;
      case '--ws-concurrency': o.wsConcurrency = num(); break;
      case '--http-concurrency': o.httpConcurrency = num(); break;
      case '--single-function': o.singleFunction = true; break;
      case '--post-limit': o.postLimit = num(); break;
      case '--connection-max-ms': o.maxLifetimeMs = num(); break;
      case '--one-way': o.routeResponse = false; break;
      case '--ws-extra-route': o.extraRoutes.push(val()); break;
      case '--idle-timeout-ms': o.idleMs = num(); break;
      case '--function-timeout-ms': o.functionTimeoutMs = num(); break;
      case '--integration-timeout-ms': o.integrationTimeoutMs = num(); break;
      case '--max-request-bytes': o.maxRequest = num(); break;
      case '--http-throttle': {
        const [rate, burst] = val().split(',').map(Number);
        if (!(rate > 0) || !(burst >= 1)) throw new Error('--http-throttle is RATE,BURST (RATE > 0, BURST >= 1)');
        o.throttle = { rate, burst };
        break;
      }
      case '--sigv4': o.sigv4 = val(); break;
      case '--connect-settle-ms': o.settleMs = num(); break;
      case '--connect-refuse-posts': o.refusePosts = num(); break;
      case '--message-jitter-ms': o.jitterMs = num(); break;
      case '--ddb-faults': o.ddbFaults = num(); break;
      case '--ddb-delay-ms': o.ddbDelayMs = num(); break;
      case '--gsi-lag-ms': o.gsiLagMs = num(); break;
      case '--ddb-create-table-ms': o.ddbCreateTableMs = num(); break;
      case '--lambda-log': o.lambdaLog = val(); break;
      case '--actions-log': o.actionsLog = val(); break;
      case '--region': o.region = val(); break;
      case '--watch-stdin': o.watchStdin = true; break;
      case '-v': o.verbose = true; break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.cmd || !Array.isArray(o.cmd) || o.cmd.length === 0) throw new Error('--bootstrap or --lambda-cmd is required');
  if (!['record', 'strict'].includes(o.sigv4)) throw new Error('--sigv4 is record or strict');
  return o;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`standin: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const log = (l) => process.stderr.write(`standin: ${l}\n`);
  const lambdaStream = opts.lambdaLog ? fs.createWriteStream(opts.lambdaLog, { flags: 'a' }) : null;
  const lambdaLog = lambdaStream ? (l) => lambdaStream.write(`${l}\n`) : (l) => process.stderr.write(`lambda${l}\n`);
  // Dummy credentials; the secret has '/' and '+' as real ones do, and a session token is set.
  const creds = { accessKeyId: 'AKIASTANDIN000000001', secretAccessKey: 'standin/Secret+Key/0123456789abcdefghij',
    sessionToken: 'standin-session-token-0001' };
  const tables = tableNames('test'); // infra/tables.json, as infra/ names them for environment "test"
  const actions = new ActionLog(opts.actionsLog, opts.region);
  const checker = new SigV4Checker(creds, opts.sigv4);
  const tracker = new LatencyTracker();
  const posted = []; // the last http_request messages the Lambda posted (tests look up request ids)

  const dynamo = new Dynamo({ creds, region: opts.region, checker, tables, actions, faults: opts.ddbFaults,
    delayMs: opts.ddbDelayMs, createTableMs: opts.ddbCreateTableMs, gsiLagMs: opts.gsiLagMs });
  const dynamoPort = await dynamo.start();
  checker.reset(); // count only the Lambda's calls
  const ws = new WsApi({ pool: null, checker, stage: opts.stage, log, actions, settleMs: opts.settleMs,
    refusePosts: opts.refusePosts, jitterMs: opts.jitterMs, postLimit: opts.postLimit,
    maxLifetimeMs: opts.maxLifetimeMs, idleMs: opts.idleMs, routeResponse: opts.routeResponse,
    extraRoutes: opts.extraRoutes,
    onAgentMessage: (m) => tracker.onAgentMessage(m),
    onPost: (m, connectionId) => {
      tracker.onPost(m);
      if (m && m.type === 'http_request') {
        posted.push({ connectionId, request_id: m.request_id, method: m.method, uri: m.uri });
        if (posted.length > 200) posted.shift();
      }
    } });
  const wsPort = await ws.start();
  const lambdaEnv = Object.assign({
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_SESSION_TOKEN: creds.sessionToken,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamoPort}`,
    WEBSOCKET_API_ENDPOINT: `ws://127.0.0.1:${wsPort}/${opts.stage}`,
  }, tableEnv(tables), opts.env);
  const httpApi = new HttpApi({ pool: null, log, timeoutMs: opts.integrationTimeoutMs, maxRequest: opts.maxRequest,
    tracker, verbose: opts.verbose, throttle: opts.throttle });
  const httpPort = await httpApi.start();
  // --env values may name the stand-in's ports, e.g. DOMAIN_NAME=tunnel.test:{HTTP_PORT}
  const ports = { HTTP_PORT: httpPort, WS_PORT: wsPort, DDB_PORT: dynamoPort };
  for (const [k, v] of Object.entries(lambdaEnv)) {
    lambdaEnv[k] = v.replace(/\{(HTTP_PORT|WS_PORT|DDB_PORT)\}/g, (_m, n) => String(ports[n]));
    if (lambdaEnv[k] === '') delete lambdaEnv[k]; // --env K= removes K (e.g. a default of the stand-in)
  }
  // Two functions from the same code, as infra/ deploys them: the WebSocket routes' and the HTTP
  // API's, each with its own reserved concurrency, so that requests waiting for their answers
  // (one environment each, up to 29 s) never starve the handling of the agents' messages.
  const mkPool = (name, cap) => new LambdaPool({ cmd: opts.cmd, env: lambdaEnv, cap,
    timeoutMs: opts.functionTimeoutMs, log, lambdaLog, region: opts.region, functionName: name, actions });
  const pools = {};
  if (opts.singleFunction) {
    pools.ws = mkPool('http-tunnel-handler-test', opts.cap);
    pools.http = pools.ws;
  } else {
    pools.ws = mkPool('http-tunnel-ws-test', opts.wsConcurrency !== null ? opts.wsConcurrency : opts.cap);
    pools.http = mkPool('http-tunnel-http-test', opts.httpConcurrency !== null ? opts.httpConcurrency : opts.cap);
  }
  const allPools = [...new Set(Object.values(pools))];
  ws.pool = pools.ws;
  httpApi.pool = pools.http;
  // One figure for the whole Lambda side (sums), and each function's own.
  const lambdaSummary = () => {
    const parts = Object.fromEntries(Object.entries(pools).map(([k, p]) => [k, p.summary()]));
    if (opts.singleFunction) return Object.assign({ functions: { all: parts.ws } }, parts.ws);
    const out = { functions: parts, by_kind: {}, error_types: {}, timing: { duration_ms: {}, queued_ms: {} } };
    for (const p of Object.values(parts)) {
      for (const [k, v] of Object.entries(p)) {
        if (typeof v === 'number') out[k] = (out[k] || 0) + v;
      }
      for (const f of ['by_kind', 'error_types']) {
        for (const [k, v] of Object.entries(p[f])) out[f][k] = (out[f][k] || 0) + v;
      }
      for (const w of ['duration_ms', 'queued_ms']) Object.assign(out.timing[w], p.timing[w]);
    }
    return out;
  };

  // A bug in the stand-in is logged and counted (stats.standin_errors; the suite checks it is 0)
  // rather than taking every test down with the process.
  const standinErrors = { count: 0, first: null };
  const onBug = (e) => {
    standinErrors.count++;
    if (!standinErrors.first) standinErrors.first = String((e && e.stack) || e);
    log(`internal error: ${(e && e.stack) || e}`);
  };
  process.on('unhandledRejection', onBug);
  process.on('uncaughtException', onBug);

  const stats = () => ({
    standin_errors: standinErrors,
    lambda: lambdaSummary(),
    websocket: ws.stats,
    http: httpApi.stats,
    latency: tracker.summary(),
    sigv4: checker.stats(),
    dynamodb: dynamo.stats(),
  });

  let stopping = null;
  const stop = (why) => {
    if (stopping) return stopping;
    stopping = (async () => {
      log(`stopping (${why})`);
      const hard = setTimeout(() => process.exit(1), 15000);
      await ws.close().catch((e) => log(`ws close: ${e}`));
      await httpApi.close().catch((e) => log(`http close: ${e}`));
      await Promise.all(allPools.map((p) => p.close(2000).catch((e) => log(`lambda close: ${e}`))));
      await dynamo.close().catch((e) => log(`dynamodb close: ${e}`));
      process.stderr.write(`STANDIN-STATS ${JSON.stringify(stats())}\n`);
      if (lambdaStream) await new Promise((r) => lambdaStream.end(r));
      actions.close();
      control.close();
      if (control.closeAllConnections) control.closeAllConnections();
      clearTimeout(hard);
      process.exit(0);
    })();
    return stopping;
  };

  // Test hooks that take a JSON body: invoke the Lambda with any event, call DynamoDB (signed).
  const withBody = async (req, res, fn) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let doc;
    try {
      doc = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch (e) {
      return sendJson(res, 400, { message: `bad JSON: ${e.message}` });
    }
    try {
      return sendJson(res, 200, await fn(doc));
    } catch (e) {
      return sendJson(res, 500, { message: String(e.message || e) });
    }
  };

  const control = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://control');
    let m;
    if (req.method === 'POST' && url.pathname === '/invoke') {
      return withBody(req, res, async (ev) => {
        // the scheduled cleanup and other direct invocations go to the WebSocket routes' function
        // unless ?function=http says otherwise
        const r = await pools[url.searchParams.get('function') === 'http' ? 'http' : 'ws'].invoke(ev, 'control');
        return r.ok ? { ok: true, body: r.body.toString() } : r;
      });
    }
    if (req.method === 'POST' && (m = /^\/dynamodb\/([A-Za-z]+)$/.exec(url.pathname))) {
      const op = m[1];
      return withBody(req, res, (payload) => dynamo.call(op, payload));
    }
    if (req.method === 'GET' && url.pathname === '/stats') return sendJson(res, 200, stats());
    if (req.method === 'GET' && url.pathname === '/connections') return sendJson(res, 200, ws.list());
    if (req.method === 'GET' && url.pathname === '/sigv4/recent') return sendJson(res, 200, checker.recent);
    if (req.method === 'GET' && url.pathname === '/posted') return sendJson(res, 200, posted);
    if (req.method === 'POST' && (m = /^\/connections\/([^/]+)\/drop$/.exec(url.pathname))) {
      const ok = ws.drop(decodeURIComponent(m[1]), url.searchParams.get('mode') || 'close',
        url.searchParams.get('silent') === '1');
      return sendJson(res, ok ? 200 : 404, { dropped: ok });
    }
    if (req.method === 'POST' && (m = /^\/lambda\/(ws|http)\/crash$/.exec(url.pathname))) {
      return sendJson(res, 200, { crashed: pools[m[1]].crashBusy() });
    }
    if (req.method === 'POST' && url.pathname === '/latency/reset') {
      tracker.reset();
      return sendJson(res, 200, tracker.summary());
    }
    if (req.method === 'POST' && url.pathname === '/shutdown') {
      sendJson(res, 200, { stopping: true });
      stop('POST /shutdown');
      return undefined;
    }
    return sendJson(res, 404, { message: 'unknown control path' });
  });
  await new Promise((r) => control.listen(0, '127.0.0.1', r));

  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (opts.watchStdin) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin error'));
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({
    ready: true,
    pid: process.pid,
    dynamodb_port: dynamoPort,
    websocket_port: wsPort,
    http_port: httpPort,
    control_port: control.address().port,
    websocket_url: `ws://127.0.0.1:${wsPort}/${opts.stage}`,
    http_url: `http://127.0.0.1:${httpPort}`,
    dynamodb_endpoint: `http://127.0.0.1:${dynamoPort}`,
    region: opts.region,
    tables,
    credentials: creds,
  })}\n`);
}

main().catch((e) => {
  process.stderr.write(`standin: fatal: ${e.stack || e}\n`);
  process.exit(1);
});
