// SPDX-License-Identifier: MIT
'use strict';
// API Gateway WebSocket API for the stand-in: 101 upgrade on /{stage} decided by the Lambda's
// $connect answer (status, selected subprotocol), one $default invocation per client message,
// $disconnect on close, the 32 KiB frame / 128 KiB message limits (close 1009), and the
// @connections management API (POST, DELETE, GET; 410 GoneException; 413 over 128 KiB) on the
// same port, every management call's SigV4 signature checked.
const http = require('http');
const { WebSocketServer, Receiver } = require('ws');
const { apigwId, traceRoot, clfTime, readBody, sendJson, headerPairs } = require('./util');
const { SPEC, selectRoute } = require('./websocket_spec');

// "Quotas for configuring and running a WebSocket API in API Gateway": WebSocket frame size 32 KB,
// message payload size 128 KB (a larger message or frame closes the connection with 1009; a
// larger @connections post is PayloadTooLargeException). AWS does not say whether its KB is 1000
// or 1024 bytes: the stand-in takes the stricter reading, so that what passes here passes there.
const FRAME_MAX = 32 * 1000;
const MESSAGE_MAX = 128 * 1000;

// ws limits whole messages (maxPayload); API Gateway also limits each frame. ws has no option for
// that, so its receiver's length step is wrapped: a frame over `_frameMax` fails as 1009.
// The same step refuses binary frames (opcode 2, and the continuation frames of a binary message,
// whose opcode ws has set to 2 by then): "API Gateway WebSocket APIs don't currently support
// binary frames in incoming message payloads. If a client app sends a binary frame, API Gateway
// rejects it and disconnects the client with code 1003." ("Binary media types for WebSocket APIs
// in API Gateway"). No $default runs for it.
if (!Receiver.prototype.__standinFramePatch) {
  const orig = Receiver.prototype.haveLength;
  Receiver.prototype.haveLength = function haveLength(cb) {
    if (this._refuseBinary && this._opcode === 0x02) {
      cb(this.createError(TypeError, 'Binary frames are not supported', false, 1003, 'STANDIN_BINARY_FRAME'));
      return;
    }
    if (this._frameMax && this._opcode < 0x08 && this._payloadLength > this._frameMax) {
      cb(this.createError(RangeError, 'Frame size exceeded', false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'));
      return;
    }
    orig.call(this, cb);
  };
  Receiver.prototype.__standinFramePatch = true;
}

const REASONS = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

function rejectUpgrade(socket, status, body) {
  if (socket.destroyed) return;
  const b = Buffer.from(body || '');
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] || 'Error'}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${b.length}\r\nConnection: close\r\n\r\n${b.toString('binary')}`, 'binary');
}

function findHeader(obj, name) {
  if (!obj || typeof obj !== 'object') return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === want) return v;
  return undefined;
}

class WsApi {
  // opts: {pool, checker, stage, log, apiId, frameMax, messageMax, onAgentMessage, onPost}
  constructor(opts) {
    this.pool = opts.pool;
    this.checker = opts.checker;
    this.stage = opts.stage || 'dev';
    this.log = opts.log;
    this.apiId = opts.apiId || 'standinws';
    this.actions = opts.actions; // ActionLog of what the Lambda was served
    this.frameMax = opts.frameMax || FRAME_MAX;
    this.messageMax = opts.messageMax || MESSAGE_MAX;
    this.onAgentMessage = opts.onAgentMessage || (() => {});
    this.onPost = opts.onPost || (() => {});
    // For this long after its 101, a connection refuses posts (410), as a just-opened API Gateway
    // connection sometimes does: the Lambda's answer to `ready` has to retry.
    this.settleMs = opts.settleMs || 0;
    this.refusePosts = opts.refusePosts || 0; // the same, counted: the first N posts to each connection
    // Each $default invocation starts after a random delay up to this: messages then reach the
    // Lambda out of order, which API Gateway allows.
    this.jitterMs = opts.jitterMs || 0;
    // PostToConnection's LimitExceededException (429): "the client is sending more than the
    // allowed number of requests per unit of time or the WebSocket client side buffer is full"
    // (API Gateway management API reference). Modelled two ways: a connection whose unsent output
    // is over clientBufferMax, and for tests a share postLimit (0..1) of first-seen messages, never
    // twice for the same message so that a client that retries gets through. The share is spread
    // evenly (an accumulator, not Math.random()) so that a test's count of 429s is the same on
    // every run.
    this.postLimit = opts.postLimit || 0;
    this.postLimitDue = 0;
    // Route selection and two-way routes as infra/websocket.json configures them (extraRoutes: test
    // hook, custom routes infra/ does not deploy, invoked like $default).
    this.routeSelectionExpression = SPEC.routeSelectionExpression;
    this.routes = SPEC.routes.concat(opts.extraRoutes || []);
    this.twoWay = new Set(opts.routeResponse === false ? [] : SPEC.twoWayRoutes);
    this.routeResponse = this.twoWay.has('$default');
    // Connection duration 2 hours, idle connection timeout 10 minutes (the WebSocket quotas page):
    // API Gateway closes the connection (1001 Going away) when either runs out. Idle means no
    // message from the client (the stand-in does not count control frames as activity).
    this.maxLifetimeMs = opts.maxLifetimeMs || 2 * 3600 * 1000;
    this.idleMs = opts.idleMs || 10 * 60 * 1000;
    this.clientBufferMax = opts.clientBufferMax || 4 * 1024 * 1024;
    this.limited = new Set();
    this.conns = new Map();
    this.connecting = new Set(); // ids whose $connect is running (a post to them is a Lambda bug)
    this.inflight = new Set();
    this.stats = { connects: 0, connect_refused: 0, connect_errors: 0, open: 0, messages_in: 0, bytes_in: 0,
      default_errors: 0, disconnects: 0, close_codes: {}, frame_or_message_too_big: 0, binary_frames_refused: 0, dropped_no_protocol: 0,
      mgmt: { post: 0, delete: 0, get: 0, gone: 0, not_ready: 0, during_connect: 0, too_large: 0, bad_signature: 0, bytes_out: 0,
        limit_exceeded: 0 },
      protocols_selected: {}, expired: {}, route_responses: 0, routes: {} };
  }

  async start() {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.messageMax,
      perMessageDeflate: false,
      handleProtocols: (protocols, req) => {
        const s = req.standinProtocol;
        return s && protocols.has(s) ? s : false;
      },
    });
    this.server = http.createServer((req, res) => {
      this.management(req, res).catch((e) => sendJson(res, 500, { message: String(e) }));
    });
    this.server.keepAliveTimeout = 60000;
    this.server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      this.upgrade(req, socket, head).catch((e) => {
        this.log(`ws upgrade: ${e.stack || e}`);
        rejectUpgrade(socket, 500, '{"message":"Internal server error"}');
      });
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  baseContext(routeKey, eventType, conn, now) {
    return {
      routeKey,
      eventType,
      extendedRequestId: apigwId(),
      requestTime: clfTime(now),
      messageDirection: 'IN',
      stage: this.stage,
      connectedAt: conn.connectedAt,
      requestTimeEpoch: now,
      identity: { sourceIp: conn.sourceIp, userAgent: conn.userAgent },
      requestId: apigwId(),
      domainName: conn.domainName,
      connectionId: conn.id,
      apiId: this.apiId,
    };
  }

  async upgrade(req, socket, head) {
    const u = new URL(req.url, 'http://standin');
    const path = u.pathname.replace(/\/+$/, '');
    if (path !== `/${this.stage}`) {
      rejectUpgrade(socket, 403, '{"message":"Forbidden"}');
      return;
    }
    const now = Date.now();
    const conn = {
      id: apigwId(),
      connectedAt: now,
      lastActiveAt: now,
      sourceIp: req.socket.remoteAddress.replace(/^::ffff:/, ''),
      userAgent: req.headers['user-agent'] || '',
      domainName: req.headers.host || `127.0.0.1:${this.port}`,
      ws: null,
    };
    // Headers as API Gateway passes them: names as the client sent them, plus its own.
    const pairs = headerPairs(req).concat([
      ['X-Amzn-Trace-Id', `Root=${traceRoot()}`],
      ['X-Forwarded-For', conn.sourceIp],
      ['X-Forwarded-Port', String(this.port)],
      ['X-Forwarded-Proto', 'http'],
    ]);
    const headers = {};
    const multi = {};
    for (const [k, v] of pairs) {
      headers[k] = v;
      (multi[k] = multi[k] || []).push(v);
    }
    const event = { headers, multiValueHeaders: multi };
    if ([...u.searchParams.keys()].length > 0) {
      const q = {};
      const mq = {};
      for (const [k, v] of u.searchParams) {
        q[k] = v;
        (mq[k] = mq[k] || []).push(v);
      }
      event.queryStringParameters = q;
      event.multiValueQueryStringParameters = mq;
    }
    event.requestContext = this.baseContext('$connect', 'CONNECT', conn, now);
    event.isBase64Encoded = false;
    let gone = false;
    socket.once('close', () => {
      gone = true;
    });
    this.stats.connects++;
    this.connecting.add(conn.id);
    const r = await this.pool.invoke(event, '$connect').finally(() => this.connecting.delete(conn.id));
    if (gone) return;
    if (!r.ok) {
      this.stats.connect_errors++;
      this.log(`$connect failed: ${r.errorType}: ${r.errorMessage}`);
      rejectUpgrade(socket, 500, '{"message":"Internal server error"}');
      return;
    }
    let resp = {};
    try {
      resp = JSON.parse(r.body.toString() || '{}') || {};
    } catch (e) {
      resp = {};
    }
    const status = typeof resp.statusCode === 'number' ? resp.statusCode : 200;
    if (status < 200 || status > 299) {
      this.stats.connect_refused++;
      rejectUpgrade(socket, status, typeof resp.body === 'string' ? resp.body : '');
      return;
    }
    req.standinProtocol = findHeader(resp.headers, 'sec-websocket-protocol');
    const offered = !!req.headers['sec-websocket-protocol'];
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.opened(ws, conn);
      // The client offered subprotocols and the Lambda selected none of them: API Gateway answers
      // 101 without one and the connection does not survive (whatever the client makes of it).
      if (offered && !ws.protocol) {
        this.stats.dropped_no_protocol++;
        ws.terminate();
      }
    });
  }

  opened(ws, conn) {
    conn.ws = ws;
    conn.readyAt = Date.now() + this.settleMs;
    conn.refuseLeft = this.refusePosts;
    this.conns.set(conn.id, conn);
    this.stats.open++;
    const proto = ws.protocol || '(none)';
    this.stats.protocols_selected[proto] = (this.stats.protocols_selected[proto] || 0) + 1;
    if (ws._receiver) {
      ws._receiver._frameMax = this.frameMax;
      ws._receiver._refuseBinary = true;
    }
    const expire = (why) => {
      if (!this.conns.has(conn.id)) return;
      this.stats.expired[why] = (this.stats.expired[why] || 0) + 1;
      conn.ws.close(1001, 'Going away');
    };
    conn.lifeTimer = setTimeout(() => expire('max_lifetime'), this.maxLifetimeMs);
    conn.armIdle = () => {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = setTimeout(() => expire('idle'), this.idleMs);
    };
    conn.armIdle();
    ws.on('message', (data, isBinary) => this.message(conn, data, isBinary));
    ws.on('error', (e) => {
      if (e && e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.stats.frame_or_message_too_big++;
      if (e && e.code === 'STANDIN_BINARY_FRAME') this.stats.binary_frames_refused++;
    });
    ws.on('close', (code, reason) => this.closed(conn, code, reason.toString()));
  }

  track(p) {
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  message(conn, data, isBinary) {
    const now = Date.now();
    conn.lastActiveAt = now;
    conn.armIdle();
    this.stats.messages_in++;
    this.stats.bytes_in += data.length;
    const text = isBinary ? data.toString('base64') : data.toString('utf8');
    // the latency figures need the agent's http_response heads only: body pieces (most of the
    // bytes of a large transfer) are not parsed here
    if (!isBinary && !text.startsWith('{"type":"http_response_body"')) {
      try {
        this.onAgentMessage(JSON.parse(text), conn.id);
      } catch (e) {
        // not JSON: the Lambda decides what to do with it
      }
    }
    const routeKey = selectRoute(this.routeSelectionExpression, this.routes, text, isBinary);
    this.stats.routes[routeKey] = (this.stats.routes[routeKey] || 0) + 1;
    const ctx = this.baseContext(routeKey, 'MESSAGE', conn, now);
    ctx.messageId = apigwId();
    const event = { requestContext: ctx, body: text, isBase64Encoded: !!isBinary };
    const delay = this.jitterMs ? Math.floor(Math.random() * this.jitterMs) : 0;
    const start = delay ? new Promise((r) => setTimeout(r, delay)) : Promise.resolve();
    this.track(start.then(() => this.pool.invoke(event, '$default')).then((r) => {
      if (r.ok) {
        // "two-way communication": with a route response on the route, API Gateway passes the
        // integration's answer (a Lambda proxy answer's body) to the client; without one it drops
        // it ("Set up route responses for WebSocket APIs in API Gateway")
        if (!this.twoWay.has(routeKey) || !conn.ws || conn.ws.readyState !== 1) return;
        let doc = null;
        try {
          doc = JSON.parse(r.body.toString());
        } catch (e) {
          doc = null;
        }
        if (doc && typeof doc.body === 'string' && doc.body.length > 0) {
          this.stats.route_responses++;
          this.sendMessage(conn, Buffer.from(doc.body));
        }
        return;
      }
      this.stats.default_errors++;
      this.log(`$default failed: ${r.errorType}: ${r.errorMessage}`);
      // API Gateway tells the client when the integration failed
      if (conn.ws && conn.ws.readyState === 1) {
        conn.ws.send(JSON.stringify({ message: 'Internal server error', connectionId: conn.id, requestId: ctx.requestId }));
      }
    }));
  }

  closed(conn, code, reason) {
    clearTimeout(conn.lifeTimer);
    clearTimeout(conn.idleTimer);
    if (!this.conns.delete(conn.id)) return;
    this.stats.open--;
    this.stats.disconnects++;
    this.stats.close_codes[code] = (this.stats.close_codes[code] || 0) + 1;
    if (conn.silent) return;
    const now = Date.now();
    const ctx = this.baseContext('$disconnect', 'DISCONNECT', conn, now);
    ctx.disconnectStatusCode = code;
    ctx.disconnectReason = reason || '';
    const headers = { Host: conn.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
    const multi = {};
    for (const [k, v] of Object.entries(headers)) multi[k] = [v];
    const event = { headers, multiValueHeaders: multi, requestContext: ctx, isBase64Encoded: false };
    this.track(this.pool.invoke(event, '$disconnect').then((r) => {
      if (!r.ok) this.log(`$disconnect failed: ${r.errorType}: ${r.errorMessage}`);
    }));
  }

  // Sends one message, split into frames of at most frameMax bytes as API Gateway does.
  sendMessage(conn, buf) {
    if (buf.length <= this.frameMax) {
      conn.ws.send(buf, { binary: false });
      return;
    }
    for (let off = 0; off < buf.length; off += this.frameMax) {
      const end = Math.min(buf.length, off + this.frameMax);
      conn.ws.send(buf.subarray(off, end), { binary: false, fin: end === buf.length });
    }
  }

  async management(req, res) {
    const raw = req.url.split('?')[0];
    let segs;
    try {
      segs = raw.split('/').map((s) => decodeURIComponent(s));
    } catch (e) {
      sendJson(res, 400, { message: 'Bad Request' });
      return;
    }
    if (segs.length !== 4 || segs[0] !== '' || segs[1] !== this.stage || segs[2] !== '@connections' || !segs[3]) {
      req.resume();
      sendJson(res, 404, { message: 'Not Found' });
      return;
    }
    const id = segs[3];
    const { body, tooLarge } = await readBody(req, this.messageMax);
    // An oversized body was not kept, so its signature cannot be checked: it is refused anyway.
    const signed = tooLarge || this.checker.check('execute-api', { method: req.method, path: req.url,
      headers: req.headers, body });
    if (!signed) {
      this.stats.mgmt.bad_signature++;
      sendJson(res, 403, { message: 'The request signature we calculated does not match the signature you provided.' },
        { 'x-amzn-ErrorType': 'InvalidSignatureException' });
      return;
    }
    if (this.actions && ['POST', 'GET', 'DELETE'].includes(req.method)) {
      this.actions.manageConnections(this.apiId, this.stage, req.method, id);
    }
    const conn = this.conns.get(id);
    if (this.connecting.has(id)) this.stats.mgmt.during_connect++;
    const gone = () => {
      this.stats.mgmt.gone++;
      sendJson(res, 410, { message: `GoneException: no connection ${id}` }, { 'x-amzn-ErrorType': 'GoneException' });
    };
    if (req.method === 'POST') {
      this.stats.mgmt.post++;
      if (tooLarge) {
        this.stats.mgmt.too_large++;
        sendJson(res, 413, { message: 'PayloadTooLargeException: message over 128 KiB' },
          { 'x-amzn-ErrorType': 'PayloadTooLargeException' });
        return;
      }
      if (!conn || !conn.ws || conn.ws.readyState !== 1) return gone();
      if (Date.now() < conn.readyAt || conn.refuseLeft > 0) {
        if (conn.refuseLeft > 0) conn.refuseLeft--;
        this.stats.mgmt.not_ready++;
        return gone();
      }
      const limited = () => {
        this.stats.mgmt.limit_exceeded++;
        sendJson(res, 429, { message: 'LimitExceededException: rate exceeded or client buffer full' },
          { 'x-amzn-ErrorType': 'LimitExceededException' });
      };
      if (conn.ws.bufferedAmount > this.clientBufferMax) return limited();
      if (this.postLimit > 0) {
        const key = `${id}:${require('crypto').createHash('sha1').update(body).digest('hex')}`;
        if (!this.limited.has(key) && (this.postLimitDue += this.postLimit) >= 1) {
          this.postLimitDue -= 1;
          if (this.limited.size > 20000) this.limited.clear();
          this.limited.add(key);
          return limited();
        }
      }
      try {
        this.onPost(JSON.parse(body.toString()), id);
      } catch (e) {
        // not JSON: delivered all the same
      }
      this.sendMessage(conn, body);
      this.stats.mgmt.bytes_out += body.length;
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
      return;
    }
    if (req.method === 'DELETE') {
      this.stats.mgmt.delete++;
      if (!conn) return gone();
      conn.ws.close(1000, 'Connection deleted');
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method === 'GET') {
      this.stats.mgmt.get++;
      if (!conn) return gone();
      // GetConnection's body on the wire: the members' locationNames of the management API's
      // REST-JSON model (apigatewaymanagementapi 2018-11-29: connectedAt, identity {sourceIp,
      // userAgent}, lastActiveAt); the SDKs' ConnectedAt / Identity / LastActiveAt are their
      // shape names, not what the service sends.
      sendJson(res, 200, {
        connectedAt: new Date(conn.connectedAt).toISOString(),
        identity: { sourceIp: conn.sourceIp, userAgent: conn.userAgent },
        lastActiveAt: new Date(conn.lastActiveAt).toISOString(),
      });
      return;
    }
    sendJson(res, 405, { message: 'Method Not Allowed' });
  }

  // Test hook: the stand-in itself drops a connection (as the 2-hour limit or a network cut would).
  // silent: no $disconnect invocation follows (AWS delivers $disconnect on a best-effort basis),
  // so the Lambda's record stays and its next post meets a GoneException.
  drop(id, mode, silent) {
    const conn = this.conns.get(id);
    if (!conn) return false;
    conn.silent = !!silent;
    if (mode === 'terminate') conn.ws.terminate();
    else conn.ws.close(1001, 'Going away');
    return true;
  }

  list() {
    return [...this.conns.values()].map((c) => ({ connectionId: c.id, connectedAt: c.connectedAt,
      lastActiveAt: c.lastActiveAt, protocol: c.ws ? c.ws.protocol : '' }));
  }

  async close() {
    for (const c of this.conns.values()) c.ws.terminate();
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 3000))]);
    const p = new Promise((r) => this.server.close(() => r()));
    if (this.server.closeAllConnections) this.server.closeAllConnections();
    await p;
  }
}

module.exports = { WsApi, FRAME_MAX, MESSAGE_MAX };
