// SPDX-License-Identifier: MIT
'use strict';
// The AWS actions the stand-in served to the Lambda, as IAM would authorize them: one JSON line
// {"action":"dynamodb:PutItem","resource":"arn:aws:dynamodb:...:table/T"} per distinct pair, appended
// to a file (--actions-log). tests/infra checks the deployed IAM policy against these lines.
const fs = require('fs');

const ACCOUNT = '123456789012'; // the stand-in's account id (as in its Lambda ARN)

class ActionLog {
  constructor(file, region) {
    this.fd = file ? fs.openSync(file, 'a') : null;
    this.region = region;
    this.seen = new Set();
  }

  record(action, resource) {
    if (this.fd === null) return;
    const line = JSON.stringify({ action, resource });
    if (this.seen.has(line)) return;
    this.seen.add(line);
    fs.writeSync(this.fd, `${line}\n`);
  }

  // A DynamoDB call: one authorization per table (and index) it names. Transactions are authorized
  // per item, as the item operations they contain (TransactWriteItems has no IAM action of its own).
  dynamodb(op, p) {
    if (this.fd === null || !p) return;
    const arn = (t) => `arn:aws:dynamodb:${this.region}:${ACCOUNT}:table/${t}`;
    if ((op === 'TransactWriteItems' || op === 'TransactGetItems') && Array.isArray(p.TransactItems)) {
      const asAction = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem',
        Get: 'GetItem' };
      for (const item of p.TransactItems) {
        for (const [kind, spec] of Object.entries(item || {})) {
          if (asAction[kind] && spec && spec.TableName) this.record(`dynamodb:${asAction[kind]}`, arn(spec.TableName));
        }
      }
      return;
    }
    const tables = p.RequestItems && typeof p.RequestItems === 'object' ? Object.keys(p.RequestItems)
      : [p.TableName].filter(Boolean);
    for (const t of tables) {
      this.record(`dynamodb:${op}`, p.IndexName ? `${arn(t)}/index/${p.IndexName}` : arn(t));
    }
  }

  // An @connections call: execute-api:ManageConnections on apiId/stage/METHOD/@connections/id.
  manageConnections(apiId, stage, method, connectionId) {
    this.record('execute-api:ManageConnections',
      `arn:aws:execute-api:${this.region}:${ACCOUNT}:${apiId}/${stage}/${method}/@connections/${connectionId}`);
  }

  // What the Lambda service does with the function's role for its logs: a stream per environment.
  logs(action, functionName, stream) {
    this.record(`logs:${action}`,
      `arn:aws:logs:${this.region}:${ACCOUNT}:log-group:/aws/lambda/${functionName}:log-stream:${stream}`);
  }

  close() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

module.exports = { ActionLog };
