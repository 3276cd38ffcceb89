// SPDX-License-Identifier: MIT
'use strict';
// The WebSocket API of the serverless contract, from the one definition that infra/ deploys
// (infra/websocket.json): route selection expression, routes, two-way routes.
const path = require('path');

const SPEC = require(path.join(__dirname, '..', '..', '..', 'infra', 'websocket.json'));

// The route API Gateway picks for a client message ("Create routes for WebSocket APIs in API
// Gateway"): the routeSelectionExpression ($request.body.<path>) is evaluated on the JSON body; a
// value equal to the key of a custom route picks that route; anything else (no value, a body
// that is not JSON, a binary frame, a value that names no route) goes to $default. The result of
// the JSONPath is stringified, as AWS does.
function selectRoute(expression, routes, text, isBinary) {
  const m = /^\$request\.body\.(.+)$/.exec(expression || '');
  if (!m || isBinary) return '$default';
  const custom = routes.filter((r) => !['$connect', '$disconnect', '$default'].includes(r));
  if (custom.length === 0) return '$default'; // whatever the value: no route to match (no parse)
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return '$default';
  }
  for (const k of m[1].split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return '$default';
    v = v[k];
  }
  if (v === undefined || v === null) return '$default';
  const key = typeof v === 'string' ? v : JSON.stringify(v);
  return custom.includes(key) ? key : '$default';
}

module.exports = { SPEC, selectRoute };
