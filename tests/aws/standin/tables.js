// SPDX-License-Identifier: MIT
'use strict';
// The DynamoDB tables of the serverless contract, from the one definition that infra/ deploys
// (infra/tables.json): names, CreateTable parameters, TTL, and the Lambda's environment variables.
const path = require('path');

const DEFS = require(path.join(__dirname, '..', '..', '..', 'infra', 'tables.json')).tables;
const PROJECT = 'http-tunnel';

// {key: table name} for an environment, as infra/ names them: <project>-<nameSuffix>-<environment>.
function tableNames(environment) {
  return Object.fromEntries(Object.entries(DEFS).map(([key, t]) => [key, `${PROJECT}-${t.nameSuffix}-${environment}`]));
}

// [{create: CreateTable payload, ttl: TimeToLiveSpecification}] for the given names.
function tableDefs(names) {
  return Object.entries(DEFS).map(([key, t]) => ({
    create: Object.assign({ TableName: names[key] }, t.createTable),
    ttl: t.timeToLive,
  }));
}

// {CONNECTIONS_TABLE_NAME: name, ...}: the Lambda's environment for the given names.
function tableEnv(names) {
  return Object.fromEntries(Object.entries(DEFS).map(([key, t]) => [t.environmentVariable, names[key]]));
}

module.exports = { tableNames, tableDefs, tableEnv };
