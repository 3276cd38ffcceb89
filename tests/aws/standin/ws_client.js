#!/usr/bin/env node
// SPDX-License-Identifier: MIT
'use strict';
// A scriptable WebSocket client for tests (e.g. a rogue agent): ws_client.js URL [PROTOCOLS]
// Each stdin line is sent as one text message; each message received is printed as one line.
// Prints {"_event":"open","protocol":P} once open and {"_event":"close","code":N} at the end;
// closes when stdin ends. Exits 1 if the upgrade is refused ({"_event":"refused","status":S}).
const readline = require('readline');
const WebSocket = require('ws');

const [url, protos] = process.argv.slice(2);
const out = (o) => process.stdout.write(`${typeof o === 'string' ? o : JSON.stringify(o)}\n`);
const ws = new WebSocket(url, protos ? protos.split(',') : undefined, { perMessageDeflate: false });
ws.on('unexpected-response', (_req, res) => {
  out({ _event: 'refused', status: res.statusCode });
  process.exit(1);
});
ws.on('error', (e) => {
  out({ _event: 'error', message: String(e.message) });
  process.exit(1);
});
ws.on('open', () => {
  out({ _event: 'open', protocol: ws.protocol });
  readline.createInterface({ input: process.stdin })
    .on('line', (l) => ws.send(l))
    .on('close', () => ws.close(1000));
});
ws.on('message', (d) => out(d.toString().replace(/\n/g, '\\n')));
ws.on('close', (code) => {
  out({ _event: 'close', code });
  process.exit(0);
});
