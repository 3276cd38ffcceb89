// SPDX-License-Identifier: MIT
'use strict';
// The Lambda service for the stand-in: one function. Each execution environment is one real
// `bootstrap` process with its own Runtime API endpoint (AWS_LAMBDA_RUNTIME_API), serving one
// invocation at a time; a new environment starts when none is idle. `cap` is the function's
// concurrency (its reserved concurrency): an invocation that would take the function over it is
// throttled at once, never queued: "When a function is throttled, Lambda returns a
// TooManyRequestsException (429) for synchronous invocations" ("Lambda function scaling" and
// "Understanding Lambda function throttling" in the Lambda developer guide); API Gateway, a
// synchronous caller, does not retry. Function timeout kills the environment.
const http = require('http');
const { spawn } = require('child_process');
const readline = require('readline');
const { uuid, traceRoot, readBody, sendJson, Samples } = require('./util');

const MAX_RESPONSE = 6 * 1024 * 1024; // synchronous invocation response limit
// Synchronous invocation request (event) limit, "6 MB each for request and response" (Lambda
// quotas): a bigger event is refused by Invoke (RequestEntityTooLargeException, HTTP 413) and
// never reaches the function.
const MAX_REQUEST = 6 * 1024 * 1024;
const MAX_ERROR = 1024 * 1024;

class LambdaPool {
  // opts: {cmd: [file, ...args], env: {}, cap, timeoutMs, log(line), lambdaLog(line), functionName, region}
  constructor(opts) {
    this.cmd = opts.cmd;
    this.env = opts.env;
    this.cap = opts.cap || 64;
    this.timeoutMs = opts.timeoutMs || 30000;
    this.log = opts.log;
    this.lambdaLog = opts.lambdaLog || opts.log;
    this.functionName = opts.functionName || 'http-tunnel-handler-test';
    this.region = opts.region || 'us-east-1';
    this.actions = opts.actions; // ActionLog: the log stream each environment writes (the role's logs:*)
    this.queue = [];
    this.envs = new Set();
    this.nextEnvId = 1;
    this.closing = false;
    this.timing = { duration_ms: {}, queued_ms: {} }; // per event kind
    this.stats = { invocations: 0, ok: 0, errors: 0, throttles: 0, timeouts: 0, cold_starts: 0, init_errors: 0,
      max_busy: 0, by_kind: {}, error_types: {} };
  }

  get arn() {
    return `arn:aws:lambda:${this.region}:123456789012:function:${this.functionName}`;
  }

  // Resolves {ok: true, body: Buffer} or {ok: false, errorType, errorMessage}; never rejects.
  invoke(event, kind, traceId) {
    this.stats.invocations++;
    this.stats.by_kind[kind] = (this.stats.by_kind[kind] || 0) + 1;
    return new Promise((resolve) => {
      const inv = { id: uuid(), event, kind, traceId: traceId || `Root=${traceRoot()};Sampled=0`, done: false,
        t0: Date.now() };
      inv.finish = (r) => {
        if (inv.done) return;
        inv.done = true;
        if (inv.timer) clearTimeout(inv.timer);
        const end = Date.now();
        this.sample('duration_ms', kind, end - (inv.assignedAt || end));
        this.sample('queued_ms', kind, (inv.assignedAt || end) - inv.t0);
        if (r.ok) this.stats.ok++;
        else {
          this.stats.errors++;
          this.stats.error_types[r.errorType] = (this.stats.error_types[r.errorType] || 0) + 1;
        }
        resolve(r);
      };
      if (this.closing) {
        inv.finish({ ok: false, errorType: 'ServiceUnavailable', errorMessage: 'stand-in is stopping' });
        return;
      }
      inv.payload = Buffer.from(JSON.stringify(event));
      if (inv.payload.length > MAX_REQUEST) {
        inv.finish({ ok: false, tooLarge: true, errorType: 'RequestEntityTooLargeException',
          errorMessage: `${inv.payload.length} byte payload is too large for the RequestResponse invocation type (limit ${MAX_REQUEST} bytes)` });
        return;
      }
      // concurrency in use: invocations running, and those waiting for an environment being started
      const running = [...this.envs].filter((e) => e.current).length;
      if (running + this.queue.length >= this.cap) {
        this.stats.throttles++;
        inv.finish({ ok: false, throttled: true, errorType: 'TooManyRequestsException',
          errorMessage: 'Rate Exceeded.' });
        return;
      }
      this.queue.push(inv);
      this.dispatch();
    });
  }

  dispatch() {
    while (this.queue.length > 0) {
      const idle = [...this.envs].find((e) => e.pendingNext && !e.current);
      if (!idle) break;
      this.assign(idle, this.queue.shift());
    }
    const starting = [...this.envs].filter((e) => e.state === 'init').length;
    let want = this.queue.length - starting;
    while (want > 0 && this.envs.size < this.cap && !this.closing) {
      this.spawnEnv();
      want--;
    }
  }

  sample(what, kind, ms) {
    const m = this.timing[what];
    if (!m[kind]) m[kind] = new Samples(5000);
    m[kind].add(ms);
  }

  assign(env, inv) {
    inv.assignedAt = Date.now();
    const res = env.pendingNext;
    env.pendingNext = null;
    env.current = inv;
    env.state = 'busy';
    const busy = [...this.envs].filter((e) => e.current).length;
    if (busy > this.stats.max_busy) this.stats.max_busy = busy;
    const deadline = Date.now() + this.timeoutMs;
    inv.timer = setTimeout(() => {
      this.stats.timeouts++;
      inv.finish({ ok: false, errorType: 'Sandbox.Timedout',
        errorMessage: `Task timed out after ${(this.timeoutMs / 1000).toFixed(2)} seconds` });
      this.killEnv(env, 'timeout');
    }, this.timeoutMs);
    const body = inv.payload;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
      'Lambda-Runtime-Aws-Request-Id': inv.id,
      'Lambda-Runtime-Deadline-Ms': String(deadline),
      'Lambda-Runtime-Invoked-Function-Arn': this.arn,
      'Lambda-Runtime-Trace-Id': inv.traceId,
    });
    res.end(body);
  }

  async spawnEnv() {
    const env = { id: this.nextEnvId++, state: 'init', pendingNext: null, current: null, proc: null };
    this.envs.add(env);
    this.stats.cold_starts++;
    env.server = http.createServer((req, res) => {
      this.runtimeApi(env, req, res).catch((e) => sendJson(res, 500, { errorMessage: String(e), errorType: 'Internal' }));
    });
    env.server.keepAliveTimeout = 0; // the runtime's GET /next may wait for a long time
    env.server.requestTimeout = 0;
    env.server.headersTimeout = 0;
    try {
      await new Promise((resolve, reject) => {
        env.server.once('error', reject);
        env.server.listen(0, '127.0.0.1', resolve);
      });
    } catch (e) {
      this.log(`lambda env ${env.id}: runtime API listen failed: ${e}`);
      this.envs.delete(env);
      return;
    }
    if (this.closing) {
      this.removeEnv(env);
      return;
    }
    const port = env.server.address().port;
    const childEnv = Object.assign({
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      TZ: ':UTC',
      LAMBDA_TASK_ROOT: '/var/task',
      LAMBDA_RUNTIME_DIR: '/var/runtime',
      AWS_LAMBDA_FUNCTION_NAME: this.functionName,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${this.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `standin/${env.id}`,
      AWS_EXECUTION_ENV: 'AWS_Lambda_provided.al2023',
      _HANDLER: 'bootstrap',
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
    }, this.env, { AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` });
    let proc;
    try {
      proc = spawn(this.cmd[0], this.cmd.slice(1), { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      this.log(`lambda env ${env.id}: spawn failed: ${e}`);
      this.removeEnv(env);
      this.failOneQueued('Runtime.InvalidEntrypoint', String(e));
      return;
    }
    env.proc = proc;
    const logStream = `standin/${env.id}`;
    if (this.actions) this.actions.logs('CreateLogStream', this.functionName, logStream);
    for (const stream of [proc.stdout, proc.stderr]) {
      readline.createInterface({ input: stream }).on('line', (l) => {
        if (this.actions) this.actions.logs('PutLogEvents', this.functionName, logStream);
        this.lambdaLog(`[env ${env.id}] ${l}`);
      });
    }
    proc.on('error', (e) => {
      this.log(`lambda env ${env.id}: ${e}`);
      if (!proc.pid) this.onExit(env, 127, null); // never started: no 'exit' follows
    });
    proc.on('exit', (code, signal) => this.onExit(env, code, signal));
  }

  async runtimeApi(env, req, res) {
    const url = req.url.split('?')[0];
    const base = '/2018-06-01/runtime';
    if (req.method === 'GET' && url === `${base}/invocation/next`) {
      if (env.current) {
        // next before answering: the previous invocation is answered with an error, as Lambda does
        env.current.finish({ ok: false, errorType: 'Runtime.NoResponse', errorMessage: 'runtime asked for next without answering' });
        env.current = null;
      }
      env.state = 'idle';
      env.pendingNext = res;
      res.on('close', () => {
        if (env.pendingNext === res) env.pendingNext = null;
      });
      this.dispatch();
      return;
    }
    let m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && m) {
      const id = decodeURIComponent(m[1]);
      const limit = m[2] === 'response' ? MAX_RESPONSE : MAX_ERROR;
      const { body, tooLarge } = await readBody(req, limit);
      const inv = env.current;
      if (!inv || inv.id !== id) {
        sendJson(res, 400, { errorMessage: `Invalid request ID: ${id}`, errorType: 'InvalidRequestID' });
        return;
      }
      env.current = null;
      env.state = 'idle-pending';
      if (m[2] === 'response') {
        if (tooLarge) {
          sendJson(res, 413, { errorMessage: `Exceeded maximum allowed payload size (${MAX_RESPONSE} bytes).`,
            errorType: 'RequestEntityTooLarge' });
          inv.finish({ ok: false, errorType: 'Function.ResponseSizeTooLarge', errorMessage: 'Response payload size exceeded maximum allowed payload size' });
          return;
        }
        sendJson(res, 202, { status: 'OK' });
        inv.finish({ ok: true, body });
      } else {
        let info = {};
        try {
          info = JSON.parse(body.toString());
        } catch (e) {
          info = {};
        }
        sendJson(res, 202, { status: 'OK' });
        inv.finish({ ok: false, errorType: req.headers['lambda-runtime-function-error-type'] || info.errorType || 'Unhandled',
          errorMessage: info.errorMessage || body.toString().slice(0, 500) });
      }
      return;
    }
    m = url === `${base}/init/error`;
    if (req.method === 'POST' && m) {
      const { body } = await readBody(req, MAX_ERROR);
      this.stats.init_errors++;
      this.log(`lambda env ${env.id}: init error: ${body.toString().slice(0, 500)}`);
      sendJson(res, 202, { status: 'OK' });
      this.failOneQueued('Runtime.InitError', body.toString().slice(0, 500));
      this.killEnv(env, 'init error');
      return;
    }
    sendJson(res, 404, { errorMessage: 'unknown runtime API path', errorType: 'NotFound' });
  }

  failOneQueued(type, msg) {
    const inv = this.queue.shift();
    if (inv) inv.finish({ ok: false, errorType: type, errorMessage: msg });
  }

  onExit(env, code, signal) {
    if (env.exited) return;
    env.exited = true;
    const how = signal ? `signal ${signal}` : `exit status ${code}`;
    if (!this.closing && !env.killed) this.log(`lambda env ${env.id}: runtime exited (${how})`);
    const inv = env.current;
    env.current = null;
    const wasInit = env.state === 'init';
    this.removeEnv(env);
    if (inv) inv.finish({ ok: false, errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${how}` });
    else if (wasInit && !env.killed) this.failOneQueued('Runtime.ExitError', `Runtime exited during init: ${how}`);
    if (!this.closing) this.dispatch();
  }

  killEnv(env, why) {
    if (env.killed) return;
    env.killed = why;
    if (env.proc && env.proc.exitCode === null && env.proc.signalCode === null) env.proc.kill('SIGKILL');
    else this.removeEnv(env);
  }

  // Test hook: every environment running an invocation dies at once (SIGKILL), as a crashing
  // runtime would; their invocations end with Runtime.ExitError. Returns how many died.
  crashBusy() {
    const busy = [...this.envs].filter((e) => e.current && e.proc);
    for (const e of busy) this.killEnv(e, 'crash');
    return busy.length;
  }

  removeEnv(env) {
    this.envs.delete(env);
    if (env.pendingNext) {
      env.pendingNext.destroy();
      env.pendingNext = null;
    }
    if (env.server) {
      env.server.close();
      if (env.server.closeAllConnections) env.server.closeAllConnections();
    }
  }

  summary() {
    const timing = {};
    for (const [what, m] of Object.entries(this.timing)) {
      timing[what] = {};
      for (const [k, smp] of Object.entries(m)) timing[what][k] = smp.summary();
    }
    return Object.assign({}, this.stats, { envs: this.envs.size, queued: this.queue.length, timing });
  }

  // Stops every environment: SIGTERM, then SIGKILL after a grace period; resolves when all exited.
  async close(graceMs) {
    this.closing = true;
    while (this.queue.length) this.failOneQueued('ServiceUnavailable', 'stand-in is stopping');
    const procs = [...this.envs].filter((e) => e.proc && e.proc.exitCode === null && e.proc.signalCode === null);
    const exits = procs.map((e) => new Promise((r) => e.proc.once('exit', r)));
    for (const e of procs) e.proc.kill('SIGTERM');
    const timer = setTimeout(() => procs.forEach((e) => e.proc.kill('SIGKILL')), graceMs || 2000);
    await Promise.all(exits);
    clearTimeout(timer);
    for (const e of [...this.envs]) this.removeEnv(e);
  }
}

module.exports = { LambdaPool };
