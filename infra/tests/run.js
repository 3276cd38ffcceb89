#!/usr/bin/env node
// SPDX-License-Identifier: MIT
'use strict';
// Compiles infra/ (program and tests) with tsc into OUT_DIR, then runs the compiled tests with
// node's test runner (one process per file). Usage: node tests/run.js OUT_DIR unit|iam
// The compiled files find infra/node_modules through NODE_PATH.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const infra = path.resolve(__dirname, '..');
const [outDir, which] = process.argv.slice(2);
if (!outDir || !['unit', 'iam'].includes(which)) {
  process.stderr.write('usage: node tests/run.js OUT_DIR unit|iam\n');
  process.exit(2);
}
const tsc = path.join(infra, 'node_modules', 'typescript', 'bin', 'tsc');
if (!fs.existsSync(tsc)) {
  process.stderr.write('infra/node_modules is missing: run scripts/deps.sh (npm ci in infra/)\n');
  process.exit(1);
}
fs.rmSync(outDir, { recursive: true, force: true });
let r = spawnSync(process.execPath, [tsc, '-p', infra, '--outDir', outDir], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status || 1);
const testDir = path.join(outDir, 'tests');
const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.test.js'))
  .filter((f) => (which === 'iam') === (f === 'iam.test.js')).sort().map((f) => path.join(testDir, f));
if (files.length === 0) {
  process.stderr.write(`no ${which} tests found in ${testDir}\n`);
  process.exit(1);
}
const env = Object.assign({}, process.env, { NODE_PATH: path.join(infra, 'node_modules') });
r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit', env, cwd: infra });
process.exit(r.status === null ? 1 : r.status);
