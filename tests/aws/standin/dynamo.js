// SPDX-License-Identifier: MIT
'use strict';
// DynamoDB for the stand-in: dynalite (in memory, in a worker thread) behind a small front that checks
// every request's SigV4 signature, counts operations, and adds what dynalite lacks
// (UpdateTimeToLive / DescribeTimeToLive). Creates the two tables of the serverless contract.
const crypto = require('crypto');
const http = require('http');
const zlib = require('zlib');
const aws4 = require('aws4');
const { Worker } = require('worker_threads');
const { readBody, sendJson, Samples } = require('./util');
const { tableDefs } = require('./tables');

const MAX_REQUEST = 16 * 1024 * 1024;

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port || 0, '127.0.0.1', () => resolve(server.address().port));
  });
}

// Takes the last third of a batch out of `p` (edited in place) and returns a function that puts it
// back into the answer as UnprocessedItems / UnprocessedKeys; null when there is nothing to trim.
function trimBatch(op, p) {
  if (!p.RequestItems || typeof p.RequestItems !== 'object') return null;
  for (const [table, spec] of Object.entries(p.RequestItems)) {
    const list = op === 'BatchWriteItem' ? spec : spec && spec.Keys;
    if (!Array.isArray(list) || list.length < 2) continue;
    const k = Math.ceil(list.length / 3);
    const rest = list.splice(list.length - k, k);
    if (op === 'BatchWriteItem') {
      return (doc) => {
        doc.UnprocessedItems = doc.UnprocessedItems || {};
        doc.UnprocessedItems[table] = (doc.UnprocessedItems[table] || []).concat(rest);
      };
    }
    if (op === 'BatchGetItem') {
      const others = Object.assign({}, spec);
      delete others.Keys;
      return (doc) => {
        doc.UnprocessedKeys = doc.UnprocessedKeys || {};
        doc.UnprocessedKeys[table] = Object.assign({}, others, { Keys: rest });
      };
    }
    return null;
  }
  return null;
}

class Dynamo {
  constructor(opts) {
    this.creds = opts.creds;
    this.region = opts.region;
    this.checker = opts.checker;
    this.names = opts.tables;
    this.ttl = new Map(); // table name -> TTL attribute name
    this.ops = {};
    this.actions = opts.actions; // ActionLog of what the Lambda was served
    this.getItemConsistent = 0;
    this.getItemEventual = 0;
    this.putsWithoutTtl = 0;
    this.ttlNotSeconds = 0; // TTL values written that DynamoDB's TTL would ignore (see ttlIgnored)
    this.ttlUpdatedAt = new Map(); // table name -> when UpdateTimeToLive last changed it (ms)
    this.latency = {}; // op -> Samples of ms, request start to answer sent
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    // Fault injection (--ddb-faults P): throttling errors and partial batches, as DynamoDB answers
    // under load. A request (same body) is never faulted twice, so a client that retries gets through.
    this.faults = opts.faults || 0;
    this.delayMs = opts.delayMs || 0; // every Lambda call answered this much later (--ddb-delay-ms)
    this.createTableMs = opts.createTableMs || 0; // CREATING -> ACTIVE takes this long (--ddb-create-table-ms)
    this.faulted = new Set();
    // Global secondary index propagation (--gsi-lag-ms): "Global secondary indexes support
    // eventually consistent reads only" and "changes to the table data are propagated to the global
    // secondary indexes within a fraction of a second, under normal conditions" ("Using Global
    // Secondary Indexes in DynamoDB"). dynalite updates its indexes at once; with a lag, an item
    // whose index key attribute was written less than gsiLagMs ago is left out of a Query on the
    // index. (Removals are not delayed: the old entry is gone at once, which AWS may also show, as
    // it does not order the propagation of two items' changes.)
    this.gsiLagMs = opts.gsiLagMs || 0;
    this.gsiWrites = new Map(); // `${table}\0${hash key value}` -> when its index key was last written
    this.gsiStats = { hidden: 0 };
    this.schema = new Map(); // table -> {hash: attribute, indexKeys: [attribute]}
    for (const def of tableDefs(this.names)) {
      const c = def.create;
      const keys = new Set();
      for (const g of c.GlobalSecondaryIndexes || []) for (const k of g.KeySchema) keys.add(k.AttributeName);
      this.schema.set(c.TableName, { hash: c.KeySchema.find((k) => k.KeyType === 'HASH').AttributeName,
        indexKeys: [...keys] });
    }
    this.faultStats = { throttled: 0, batch_write_trimmed: 0, batch_get_trimmed: 0 };
    this.units = { wru: 0, rru: 0 };
  }

  async start() {
    // dynalite runs in a worker thread: it then has a core of its own instead of sharing the
    // stand-in's event loop with both API Gateways and the Lambda service (large transfers are
    // mostly its work). Same behaviour, reached over HTTP as before.
    // dynalite checksums every answer (x-amz-crc32) with buffer-crc32, a byte loop in JavaScript:
    // the same CRC-32 (IEEE) from zlib's C code when this Node has it (20.15+), the same header.
    this.inner = new Worker(`
      const { parentPort } = require('worker_threads');
      const zlib = require('zlib');
      const crc32 = require(${JSON.stringify(require.resolve('buffer-crc32', { paths: [require.resolve('dynalite')] }))});
      if (zlib.crc32) crc32.unsigned = (b) => zlib.crc32(b);
      const dynalite = require(${JSON.stringify(require.resolve('dynalite'))});
      const server = dynalite({ createTableMs: ${Number(this.createTableMs)}, deleteTableMs: 0, updateTableMs: 0 });
      server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
    `, { eval: true });
    this.innerPort = await new Promise((resolve, reject) => {
      this.inner.once('message', resolve);
      this.inner.once('error', reject);
    });
    this.front = http.createServer((req, res) => {
      this.handle(req, res).catch((e) => sendJson(res, 500, { __type: 'InternalServerError', message: String(e) }));
    });
    this.front.keepAliveTimeout = 60000;
    this.port = await listen(this.front, 0);
    for (const def of tableDefs(this.names)) await this.call('CreateTable', def.create);
    // CreateTable answers with TableStatus CREATING; until ACTIVE (and every GSI ACTIVE) DynamoDB
    // refuses the table's items with ResourceNotFoundException, and so does dynalite (its switch
    // to ACTIVE is a timer). Wait as the SDKs' "tableExists" waiter does: the stand-in is ready
    // only when the Lambda can use its tables.
    for (const def of tableDefs(this.names)) {
      await this.waitActive(def.create.TableName);
      await this.call('UpdateTimeToLive', { TableName: def.create.TableName, TimeToLiveSpecification: def.ttl });
    }
    return this.port;
  }

  async waitActive(table) {
    const deadline = Date.now() + 60000;
    for (;;) {
      const t = (await this.call('DescribeTable', { TableName: table })).Table;
      if (t.TableStatus === 'ACTIVE' && (t.GlobalSecondaryIndexes || []).every((g) => g.IndexStatus === 'ACTIVE')) {
        return;
      }
      if (Date.now() > deadline) throw new Error(`DynamoDB table ${table} not ACTIVE after 60 s (${t.TableStatus})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  // A signed call through the front, as any SDK would make it.
  async call(op, payload) {
    const body = JSON.stringify(payload);
    const opts = aws4.sign({
      host: `127.0.0.1:${this.port}`,
      path: '/',
      method: 'POST',
      service: 'dynamodb',
      region: this.region,
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `DynamoDB_20120810.${op}` },
      body,
    }, this.creds);
    // marked (outside the signature) so that the stand-in's own calls stay out of the Lambda's figures
    const headers = Object.assign({ 'X-Standin-Internal': '1' }, opts.headers);
    const { status, text } = await new Promise((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port: this.port, path: '/', method: 'POST', headers,
        agent: this.agent }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      });
      r.on('error', reject);
      r.end(body);
    });
    if (status !== 200) throw new Error(`DynamoDB ${op}: ${status} ${text}`);
    return JSON.parse(text);
  }

  async handle(req, res) {
    const t0 = Date.now();
    const { body, tooLarge } = await readBody(req, MAX_REQUEST);
    if (tooLarge) {
      sendJson(res, 413, { __type: 'com.amazon.coral.service#RequestEntityTooLarge', message: 'Request too large' });
      return;
    }
    const internal = req.headers['x-standin-internal'] === '1';
    const ok = internal || this.checker.check('dynamodb', { method: req.method, path: req.url, headers: req.headers,
      body });
    if (!ok) {
      sendJson(res, 403, {
        __type: 'com.amazon.coral.service#InvalidSignatureException',
        message: 'The request signature we calculated does not match the signature you provided.',
      }, { 'Content-Type': 'application/x-amz-json-1.0' });
      return;
    }
    const op = String(req.headers['x-amz-target'] || '').split('.')[1] || '?';
    let payload = null;
    try {
      payload = JSON.parse(body.toString() || '{}');
    } catch (e) {
      payload = null;
    }
    if (!internal) {
      this.ops[op] = (this.ops[op] || 0) + 1;
      if (this.actions) this.actions.dynamodb(op, payload);
      if (payload) this.observe(op, payload);
      res.on('finish', () => {
        if (!this.latency[op]) this.latency[op] = new Samples(5000);
        this.latency[op].add(Date.now() - t0);
      });
    }
    if (op === 'UpdateTimeToLive' && payload) return this.updateTtl(payload, res);
    if (op === 'DescribeTimeToLive' && payload) return this.describeTtl(payload, res);
    if (!internal && this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.gsiLagMs && payload) {
      if (op === 'Query' && payload.IndexName) return this.forward(req, body, res, this.indexAsOfLag(payload));
      // a write that DynamoDB refused (a failed condition) changed no index
      res.on('finish', () => {
        if (res.statusCode === 200) this.noteIndexWrite(op, payload);
      });
    }
    if (!internal && payload && this.faults > 0) {
      const key = crypto.createHash('sha1').update(body).digest('hex');
      if (!this.faulted.has(key)) {
        if (this.faulted.size > 20000) this.faulted.clear();
        if (Math.random() < this.faults / 4) {
          this.faulted.add(key);
          this.faultStats.throttled++;
          sendJson(res, 400, { __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
            message: 'The level of configured provisioned throughput for the table was exceeded (stand-in fault).' },
          { 'Content-Type': 'application/x-amz-json-1.0' });
          return undefined;
        }
        // The first batch of each kind is always trimmed, so every run exercises the retry of
        // unprocessed items; later ones at random.
        const stat = op === 'BatchWriteItem' ? 'batch_write_trimmed' : 'batch_get_trimmed';
        const first = (op === 'BatchWriteItem' || op === 'BatchGetItem') && this.faultStats[stat] === 0;
        const trimmed = first || Math.random() < this.faults ? trimBatch(op, payload) : null;
        if (trimmed) {
          this.faulted.add(key);
          this.faultStats[stat]++;
          return this.forward(req, Buffer.from(JSON.stringify(payload)), res, trimmed);
        }
      }
    }
    // reads are counted from the answer: parsed when small, estimated from its size when large
    // (a BatchGetItem of a 4 MiB response is 5.6 MB of JSON)
    if (!internal && payload) {
      return this.forward(req, body, res, null, (doc, size) => this.countUnits(op, payload, doc, size));
    }
    return this.forward(req, body, res);
  }

  // Capacity units, for the cost figures of bench/serverless.py ("Read/write capacity units" in
  // the DynamoDB developer guide): a write is 1 WRU per KB of the item, a strongly consistent read
  // 1 RRU per 4 KB. Item sizes are estimated from the attribute values (binary decoded).
  static itemBytes(item) {
    let n = 0;
    for (const [k, v] of Object.entries(item || {})) {
      n += Buffer.byteLength(k);
      if (v.B !== undefined) n += Math.floor((String(v.B).length * 3) / 4);
      else if (v.S !== undefined) n += Buffer.byteLength(String(v.S));
      else n += Buffer.byteLength(JSON.stringify(v));
    }
    return n;
  }

  countUnits(op, p, answer, size) {
    const u = this.units;
    if (!answer && (op === 'BatchGetItem' || op === 'Query' || op === 'Scan' || op === 'GetItem')) {
      u.rru += Math.max(1, Math.ceil((size * 3) / 4 / 4096)); // mostly base64: decoded size
      return;
    }
    const wru = (item) => Math.max(1, Math.ceil(Dynamo.itemBytes(item) / 1024));
    const rru = (item) => Math.max(1, Math.ceil(Dynamo.itemBytes(item) / 4096));
    if (op === 'PutItem') u.wru += wru(p.Item);
    else if (op === 'UpdateItem' || op === 'DeleteItem') u.wru += 1;
    else if (op === 'BatchWriteItem') {
      for (const reqs of Object.values(p.RequestItems || {})) {
        for (const r of reqs) u.wru += r.PutRequest ? wru(r.PutRequest.Item) : 1;
      }
    } else if (op === 'GetItem') u.rru += answer && answer.Item ? rru(answer.Item) : 1;
    else if (op === 'BatchGetItem') {
      for (const items of Object.values((answer && answer.Responses) || {})) for (const it of items) u.rru += rru(it);
    } else if (op === 'Query' || op === 'Scan') {
      let b = 0;
      for (const it of (answer && answer.Items) || []) b += Dynamo.itemBytes(it);
      u.rru += Math.max(1, Math.ceil(b / 4096));
    }
  }

  // A TTL attribute value DynamoDB's TTL would never act on ("Computing Time to Live (TTL) in
  // DynamoDB": "The calculated expiry must be in epoch format, in seconds. Items with a TTL more
  // than five years in the past are not eligible for expiry and deletion. If you use any other
  // format, the TTL processes ignore the item."): not a Number, more than five years in the past,
  // or milliseconds (a value past the year 5000 read as seconds: no seconds value of ours is).
  static ttlIgnored(v, nowS) {
    if (!v || typeof v !== 'object' || v.N === undefined) return true;
    const n = Number(v.N);
    return !Number.isFinite(n) || n < nowS - 5 * 366 * 86400 || n > 1e11;
  }

  // The value an UpdateItem's SET gives to the attribute `attr` (through ExpressionAttributeNames
  // and ExpressionAttributeValues), or undefined when it sets no such value.
  static setValue(p, attr) {
    const m = /(?:^|\s)SET\s+(.*?)(?:\s+(?:REMOVE|ADD|DELETE)\s|$)/i.exec(String(p.UpdateExpression || ''));
    if (!m) return undefined;
    const names = p.ExpressionAttributeNames || {};
    for (const part of m[1].split(',')) {
      const a = /^\s*([#\w]+)\s*=\s*(:\w+)\s*$/.exec(part);
      if (a && (names[a[1]] || a[1]) === attr) return (p.ExpressionAttributeValues || {})[a[2]] || null;
    }
    return undefined;
  }

  // Remembers when a write gave an item's index key attribute a value (--gsi-lag-ms).
  noteIndexWrite(op, p) {
    const mark = (table, item, setsKey) => {
      const sc = this.schema.get(table);
      if (!sc || !item || !item[sc.hash] || !sc.indexKeys.some(setsKey)) return;
      const k = `${table}\0${JSON.stringify(item[sc.hash])}`;
      this.gsiWrites.delete(k); // re-inserted: the Map stays in time order for trimming
      this.gsiWrites.set(k, Date.now());
    };
    if (op === 'PutItem') mark(p.TableName, p.Item, (a) => p.Item && p.Item[a] !== undefined);
    if (op === 'UpdateItem') mark(p.TableName, p.Key, (a) => Dynamo.setValue(p, a) !== undefined);
    if (op === 'BatchWriteItem' && p.RequestItems) {
      for (const [table, reqs] of Object.entries(p.RequestItems)) {
        for (const r of reqs || []) {
          const it = r.PutRequest && r.PutRequest.Item;
          if (it) mark(table, it, (a) => it[a] !== undefined);
        }
      }
    }
    const old = Date.now() - this.gsiLagMs;
    for (const [k, at] of this.gsiWrites) {
      if (at >= old) break;
      this.gsiWrites.delete(k);
    }
  }

  // A Query on an index, answered as the index stands gsiLagMs behind the table (see above).
  indexAsOfLag(p) {
    const sc = this.schema.get(p.TableName);
    return (doc) => {
      if (!sc || !Array.isArray(doc.Items)) return;
      const now = Date.now();
      const visible = doc.Items.filter((it) => {
        const at = it[sc.hash] !== undefined ? this.gsiWrites.get(`${p.TableName}\0${JSON.stringify(it[sc.hash])}`) : undefined;
        return at === undefined || now - at >= this.gsiLagMs;
      });
      this.gsiStats.hidden += doc.Items.length - visible.length;
      doc.Items = visible;
      doc.Count = visible.length;
    };
  }

  // Counts what the issue asks of the Lambda: strongly consistent reads, a TTL on every item, in
  // seconds.
  observe(op, p) {
    if (op === 'GetItem') {
      if (p.ConsistentRead === true) this.getItemConsistent++;
      else this.getItemEventual++;
    }
    const nowS = Date.now() / 1000;
    const ttlAttr = this.ttl.get(p.TableName);
    if (op === 'PutItem' && ttlAttr && p.Item && !p.Item[ttlAttr]) this.putsWithoutTtl++;
    else if (op === 'PutItem' && ttlAttr && p.Item && Dynamo.ttlIgnored(p.Item[ttlAttr], nowS)) this.ttlNotSeconds++;
    if (op === 'UpdateItem' && ttlAttr) {
      const v = Dynamo.setValue(p, ttlAttr);
      if (v !== undefined && Dynamo.ttlIgnored(v, nowS)) this.ttlNotSeconds++;
    }
    if (op === 'BatchWriteItem' && p.RequestItems) {
      for (const [table, reqs] of Object.entries(p.RequestItems)) {
        const attr = this.ttl.get(table);
        for (const r of reqs || []) {
          const item = r.PutRequest && r.PutRequest.Item;
          if (!attr || !item) continue;
          if (!item[attr]) this.putsWithoutTtl++;
          else if (Dynamo.ttlIgnored(item[attr], nowS)) this.ttlNotSeconds++;
        }
      }
    }
  }

  updateTtl(p, res) {
    const spec = p.TimeToLiveSpecification || {};
    if (!p.TableName || !spec.AttributeName || typeof spec.Enabled !== 'boolean') {
      sendJson(res, 400, { __type: 'com.amazon.coral.validate#ValidationException', message: 'invalid TTL spec' });
      return;
    }
    // "It can take up to one hour for the change to fully process. Any additional
    // UpdateTimeToLive calls for the same table during this one hour duration result in a
    // ValidationException." (UpdateTimeToLive, DynamoDB API reference)
    const last = this.ttlUpdatedAt.get(p.TableName);
    if (last !== undefined && Date.now() - last < 3600 * 1000) {
      sendJson(res, 400, { __type: 'com.amazon.coral.validate#ValidationException',
        message: 'Time to live has been modified multiple times within a fixed interval' },
      { 'Content-Type': 'application/x-amz-json-1.0' });
      return;
    }
    this.ttlUpdatedAt.set(p.TableName, Date.now());
    if (spec.Enabled) this.ttl.set(p.TableName, spec.AttributeName);
    else this.ttl.delete(p.TableName);
    sendJson(res, 200, { TimeToLiveSpecification: spec }, { 'Content-Type': 'application/x-amz-json-1.0' });
  }

  describeTtl(p, res) {
    const attr = this.ttl.get(p.TableName);
    const d = attr ? { TimeToLiveStatus: 'ENABLED', AttributeName: attr } : { TimeToLiveStatus: 'DISABLED' };
    sendJson(res, 200, { TimeToLiveDescription: d }, { 'Content-Type': 'application/x-amz-json-1.0' });
  }

  // merge: when set, edits the parsed answer (a fault's unprocessed items) before it is sent.
  forward(req, body, res, merge, peek) {
    const headers = Object.assign({}, req.headers, { 'content-length': body.length });
    delete headers['transfer-encoding'];
    const up = http.request({ host: '127.0.0.1', port: this.innerPort, method: req.method, path: req.url, headers,
      agent: this.agent }, (ur) => {
      if (!merge && !peek) {
        res.writeHead(ur.statusCode, ur.headers);
        ur.pipe(res);
        return;
      }
      if (!merge) {
        const parts = [];
        ur.on('data', (c) => parts.push(c));
        ur.on('end', () => {
          const out = Buffer.concat(parts);
          res.writeHead(ur.statusCode, ur.headers);
          res.end(out);
          if (ur.statusCode === 200) {
            let doc = null;
            try {
              doc = out.length <= 65536 ? JSON.parse(out.toString()) : null;
            } catch (e) {
              doc = null; // not JSON: counted by its size
            }
            peek(doc, out.length);
          }
        });
        return;
      }
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => {
        let out = Buffer.concat(chunks);
        const h = Object.assign({}, ur.headers);
        if (ur.statusCode === 200) {
          const doc = JSON.parse(out.toString());
          merge(doc);
          out = Buffer.from(JSON.stringify(doc));
          h['content-length'] = out.length;
          if (zlib.crc32) h['x-amz-crc32'] = String(zlib.crc32(out));
          else delete h['x-amz-crc32'];
        }
        res.writeHead(ur.statusCode, h);
        res.end(out);
      });
    });
    up.on('error', (e) => sendJson(res, 500, { __type: 'InternalServerError', message: String(e) }));
    up.end(body);
  }

  stats() {
    return {
      ops: this.ops,
      get_item_consistent: this.getItemConsistent,
      get_item_eventual: this.getItemEventual,
      puts_without_ttl: this.putsWithoutTtl,
      ttl_not_seconds: this.ttlNotSeconds,
      gsi: { lag_ms: this.gsiLagMs, hidden: this.gsiStats.hidden },
      faults: this.faultStats,
      capacity_units: this.units,
      ttl: Object.fromEntries(this.ttl),
      latency_ms: Object.fromEntries(Object.entries(this.latency).map(([k, v]) => [k, v.summary()])),
    };
  }

  async close() {
    this.agent.destroy();
    await new Promise((r) => this.front.close(() => r()));
    if (this.front.closeAllConnections) this.front.closeAllConnections();
    await this.inner.terminate();
  }
}

module.exports = { Dynamo, tableDefs };
