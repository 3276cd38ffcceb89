// SPDX-License-Identifier: MIT
// inspector_ui.js - drives Debian's chromium (headless, through playwright-core) against ttf's
// inspector page, as a user would: a request through the tunnel appears in the list, its detail
// opens with headers and bodies, Replay adds a second entry with the new answer, "Replay with
// changes" sends an edited request; captured markup stays text (no XSS).
//
//   node inspector_ui.js '{"inspector": "http://127.0.0.1:4040", "tunnel_port": 8080,
//                          "tunnel_host": "abc.localhost:8080", "screenshots": "docs/"}'
//
// The tunnel and the local service are started by the caller (tests/e2e/test_inspector_ui.py,
// scripts/inspector-screenshots.sh); the local service must answer /counter with
// {"n": <requests so far>, ...}. Exits 0 and prints "UI OK", or prints what failed and exits 1.
// With "screenshots", also saves inspector-list.png and inspector-detail.png there.
'use strict';

const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.argv[2] || '{}');
const SLOW = Number(process.env.TUNNEL_TEST_SLOW || '1');
const T = (ms) => ms * SLOW;

function request(method, target, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: cfg.tunnel_port, method, path: target,
      headers: Object.assign({ Host: cfg.tunnel_host }, headers),
    }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.setTimeout(T(20000), () => req.destroy(new Error('request timed out')));
    if (body) req.write(body);
    req.end();
  });
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

async function rowsFor(page, pathText) {
  return page.$$eval('#rows tr', (trs, p) => trs
    .filter((tr) => tr.querySelector('td.path').textContent === p)
    .map((tr) => ({ id: Number(tr.dataset.id), status: tr.dataset.status, state: tr.dataset.state })),
  pathText);
}

async function waitRows(page, pathText, n, what) {
  await page.waitForFunction(([p, k]) => [...document.querySelectorAll('#rows tr')]
    .filter((tr) => tr.querySelector('td.path').textContent === p && tr.dataset.state === 'done')
    .length >= k, [pathText, n], { timeout: T(15000) })
    .catch(() => { throw new Error('timed out waiting for ' + what); });
  return rowsFor(page, pathText);
}

async function detailText(page, sel) {
  return page.$eval(sel, (e) => e.textContent);
}

async function waitDetail(page, id, what) {
  await page.waitForFunction((i) => location.hash === '#/requests/' + i &&
    document.querySelector('#detail-pane').dataset.id === String(i) &&
    document.querySelector('#detail-pane').dataset.state === 'done' &&
    document.querySelector('#d-resp .startline') !== null, id, { timeout: T(15000) })
    .catch(() => { throw new Error('timed out waiting for the detail of ' + what); });
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ttf-ui-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 820 },
  });
  const problems = [];
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('dialog', (d) => { problems.push('a dialog opened: ' + d.message()); d.dismiss(); });
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });

    await page.goto(cfg.inspector + '/', { timeout: T(15000) });
    await page.waitForFunction(() => document.querySelector('#live').textContent === 'live',
      null, { timeout: T(15000) });

    // 1. A request through the tunnel appears in the list, live.
    const r1 = await request('POST', '/counter', {
      'Content-Type': 'application/json', 'X-Test': 'ui',
      'X-Markup': '<img src=x onerror="window.__pwned=1">',
    }, '{"hello":"world","n":[1,2]}');
    check(r1.status === 200 && JSON.parse(r1.body).n === 1, 'first answer is n=1: ' + r1.body);
    let list = await waitRows(page, '/counter', 1, 'the request in the list');
    check(list.length === 1 && list[0].status === '200', 'one /counter row with 200: ' + JSON.stringify(list));
    const firstId = list[0].id;
    // A body that is markup stays text.
    await request('POST', '/raw-echo', { 'Content-Type': 'text/html' },
      '<script>window.__pwned=2</script><b id="injected">bold</b>');
    await waitRows(page, '/raw-echo', 1, 'the markup request in the list');
    if (cfg.screenshots) {
      await request('GET', '/status/404', {});
      await request('GET', '/download?n=3000', {});
      await waitRows(page, '/download?n=3000', 1, 'the download in the list');
    }

    // 2. Its detail opens: headers and bodies shown.
    await page.click('#rows tr[data-id="' + firstId + '"]');
    await waitDetail(page, firstId, 'the first request');
    const req = await detailText(page, '#d-req');
    check(req.includes('X-Test') && req.includes('ui'), 'request headers shown: ' + req);
    check(req.includes('"hello": "world"'), 'request JSON body pretty-printed: ' + req);
    check(req.includes('<img src=x onerror="window.__pwned=1">'), 'markup header shown as text');
    const resp = await detailText(page, '#d-resp');
    check(resp.includes('HTTP/1.1 200 OK') && resp.includes('"n": 1'), 'response shown: ' + resp);
    if (cfg.screenshots) {
      await page.screenshot({ path: path.join(cfg.screenshots, 'inspector-detail.png') });
    }

    // 3. Replay: a second entry with the new answer (the service counts requests).
    await page.click('#replay');
    list = await waitRows(page, '/counter', 2, 'the replayed request in the list');
    const replayId = Math.max(...list.map((x) => x.id));
    check(replayId > firstId, 'the replay is a new entry');
    await waitDetail(page, replayId, 'the replay');
    const meta = await detailText(page, '#d-meta');
    check(meta.includes('replay of #' + firstId), 'replay links its original: ' + meta);
    const resp2 = await detailText(page, '#d-resp');
    check(resp2.includes('"n": 2'), 'the replay got the new answer (n=2): ' + resp2);

    // 4. Replay with changes: target and body edited in the form.
    await page.click('#rows tr[data-id="' + firstId + '"]');
    await waitDetail(page, firstId, 'the first request again');
    await page.click('#edit');
    await page.fill('#e-target', '/counter?edited=1');
    await page.fill('#e-body', '{"edited":true}');
    await page.click('#e-send');
    await waitRows(page, '/counter?edited=1', 1, 'the edited replay in the list');
    const edited = (await rowsFor(page, '/counter?edited=1'))[0];
    await waitDetail(page, edited.id, 'the edited replay');
    const req3 = await detailText(page, '#d-req');
    check(req3.includes('"edited": true'), 'edited body sent: ' + req3);
    check((await detailText(page, '#d-resp')).includes('"n": 3'), 'edited replay answered n=3');

    // 5. The markup body is text too; nothing ran.
    const rawId = (await rowsFor(page, '/raw-echo'))[0].id;
    await page.click('#rows tr[data-id="' + rawId + '"]');
    await waitDetail(page, rawId, 'the markup request');
    check((await detailText(page, '#d-req')).includes('<script>window.__pwned=2</script>'),
      'markup body shown as text');
    check(await page.evaluate(() => window.__pwned === undefined), 'no captured script ran');
    check(await page.evaluate(() => document.getElementById('injected') === null &&
      document.querySelectorAll('#detail-pane img').length === 0), 'no captured element was created');

    if (cfg.screenshots) {
      await page.evaluate(() => { location.hash = ''; });
      await page.waitForFunction(() => document.querySelector('#detail-pane').hidden);
      await page.screenshot({ path: path.join(cfg.screenshots, 'inspector-list.png') });
      // The detail view of the first request again, for the README.
      await page.click('#rows tr[data-id="' + firstId + '"]');
      await waitDetail(page, firstId, 'the first request (screenshot)');
      await page.screenshot({ path: path.join(cfg.screenshots, 'inspector-detail.png') });
    }
    check(problems.length === 0, problems.join('; '));
    console.log('UI OK');
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
