// SPDX-License-Identifier: MIT
'use strict';
// The stand-in's action log (--actions-log): IAM's view of each call, one line per distinct pair.
const assert = require('assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { test } = require('node:test');
const { ActionLog } = require('./actions');

test('action log: tables, indexes, batches, transactions by item, @connections, log streams', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'actions-')), 'a.jsonl');
  const log = new ActionLog(file, 'us-east-1');
  log.dynamodb('Query', { TableName: 't1', IndexName: 'i1' });
  log.dynamodb('Query', { TableName: 't1', IndexName: 'i1' }); // the same pair again: one line
  log.dynamodb('BatchGetItem', { RequestItems: { t1: { Keys: [] }, t2: { Keys: [] } } });
  log.dynamodb('TransactWriteItems', { TransactItems: [{ Put: { TableName: 't1' } }, { ConditionCheck: { TableName: 't2' } }] });
  log.manageConnections('api1', 'dev', 'GET', 'abc=');
  log.logs('CreateLogStream', 'fn', 'standin/1');
  log.close();
  log.dynamodb('PutItem', { TableName: 't1' }); // after close: ignored
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ddb = 'arn:aws:dynamodb:us-east-1:123456789012:table';
  assert.deepEqual(lines, [
    { action: 'dynamodb:Query', resource: `${ddb}/t1/index/i1` },
    { action: 'dynamodb:BatchGetItem', resource: `${ddb}/t1` },
    { action: 'dynamodb:BatchGetItem', resource: `${ddb}/t2` },
    { action: 'dynamodb:PutItem', resource: `${ddb}/t1` },
    { action: 'dynamodb:ConditionCheckItem', resource: `${ddb}/t2` },
    { action: 'execute-api:ManageConnections', resource: 'arn:aws:execute-api:us-east-1:123456789012:api1/dev/GET/@connections/abc=' },
    { action: 'logs:CreateLogStream', resource: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:log-stream:standin/1' },
  ]);
});

test('action log: without a file nothing is written and nothing fails', () => {
  const log = new ActionLog(null, 'us-east-1');
  log.dynamodb('PutItem', { TableName: 't' });
  log.close();
});
