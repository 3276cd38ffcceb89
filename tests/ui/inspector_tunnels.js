// SPDX-License-Identifier: MIT
// inspector_tunnels.js - ttf --config's inspector page in Debian's chromium (headless, through
// playwright-core): the header lists every tunnel with its URL, each row of the list shows the
// name of the tunnel its request came through, and the detail view names it too.
//
//   node inspector_tunnels.js '{"inspector": "http://127.0.0.1:4040",
//                               "expect": {"/tag/web-1": "web", "/tag/api-1": "api"},
//                               "tunnels": ["web", "api"]}'
//
// The caller (tests/e2e/test_multi_tunnel.py) sends the requests first. Exits 0 and prints
// "UI OK", or prints what failed and exits 1.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.argv[2] || '{}');
const SLOW = Number(process.env.TUNNEL_TEST_SLOW || '1');
const T = (ms) => ms * SLOW;

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
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
    page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
    await page.goto(cfg.inspector + '/', { timeout: T(15000) });
    const targets = Object.keys(cfg.expect);
    // every request of the list, with the tunnel badge before its path
    await page.waitForFunction((ts) => ts.every((t) => [...document.querySelectorAll('#rows tr')]
      .some((tr) => tr.querySelector('td.path').textContent.endsWith(t))), targets,
    { timeout: T(15000) }).catch(() => { throw new Error('timed out waiting for the rows'); });
    const rows = await page.$$eval('#rows tr', (trs) => trs.map((tr) => {
      const badge = tr.querySelector('td.path span.tun');
      return { id: tr.dataset.id, badge: badge ? badge.textContent : null,
        text: tr.querySelector('td.path').textContent };
    }));
    for (const t of targets) {
      const row = rows.find((r) => r.text.endsWith(t));
      check(row && row.badge === cfg.expect[t], t + ' shows tunnel ' + cfg.expect[t] + ': ' +
        JSON.stringify(row));
      check(row.text === cfg.expect[t] + t, 'the badge then the path: ' + row.text);
    }
    // the header names every tunnel
    await page.waitForFunction((names) => names.every((n) =>
      document.querySelector('#tunnel').textContent.includes(n + ': http://')), cfg.tunnels,
    { timeout: T(15000) }).catch(() => { throw new Error('the header does not list the tunnels'); });
    // the detail view names the tunnel
    const last = targets[targets.length - 1];
    const row = rows.find((r) => r.text.endsWith(last));
    await page.click('#rows tr[data-id="' + row.id + '"]');
    await page.waitForFunction((n) => document.querySelector('#d-meta').textContent
      .includes('tunnel ' + n), cfg.expect[last], { timeout: T(15000) })
      .catch(() => { throw new Error('the detail does not name tunnel ' + cfg.expect[last]); });
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
