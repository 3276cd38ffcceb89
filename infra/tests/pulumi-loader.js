// SPDX-License-Identifier: MIT
'use strict';
// Loads index.ts the way the Pulumi CLI's Node.js language host does for `runtime: {name: nodejs,
// options: {typescript: true}}` (@pulumi/pulumi/cmd/run/run.js: the project's typescript, Pulumi's
// vendored ts-node, our tsconfig.json), under mocks, and prints {"ttfCommand", "resources"} as JSON.
// Run from infra/ with LAMBDA_ZIP_DIR pointing at a directory holding bootstrap-arm64.zip.
const path = require('path');
const pulumi = require('@pulumi/pulumi');
const tsutils = require('@pulumi/pulumi/tsutils');

const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const compilerOptions = tsutils.loadTypeScriptCompilerOptions('tsconfig.json');
require(tsnodeRequire).register({ compiler: typescriptRequire, project: 'tsconfig.json', skipProject: false,
  compilerOptions: { target: 'ES2020', module: 'nodenext', moduleResolution: 'nodenext', sourceMap: 'true',
    ...compilerOptions } });

const state = (type, name, inputs) => {
  const base = 'us-east-1:123456789012';
  switch (type) {
    case 'aws:apigatewayv2/api:Api': return { apiEndpoint: `${inputs.protocolType === 'WEBSOCKET' ? 'wss' : 'https'}://${name}.x`,
      executionArn: `arn:aws:execute-api:${base}:${name}` };
    case 'aws:lambda/function:Function': return { arn: `arn:aws:lambda:${base}:function:${inputs.name}`, invokeArn: 'i' };
    case 'aws:dynamodb/table:Table': return { arn: `arn:aws:dynamodb:${base}:table/${inputs.name}` };
    case 'aws:cloudwatch/logGroup:LogGroup': return { arn: `arn:aws:logs:${base}:log-group:${inputs.name}` };
    case 'aws:iam/role:Role': return { arn: `arn:aws:iam::123456789012:role/${inputs.name}` };
    case 'aws:cloudwatch/eventRule:EventRule': return { arn: `arn:aws:events:${base}:rule/${inputs.name}` };
    case 'aws:sns/topic:Topic': return { arn: `arn:aws:sns:${base}:${inputs.name}` };
    default: return {};
  }
};
const types = [];
pulumi.runtime.setAllConfig({ 'http-tunnel:requireAuth': 'false' });
pulumi.runtime.setMocks({
  newResource: (a) => { types.push(a.type); return { id: `${a.name}-id`, state: { ...a.inputs, ...state(a.type, a.name, a.inputs) } }; },
  call: () => ({ region: 'us-east-1', name: 'us-east-1', id: 'us-east-1' }),
}, 'http-tunnel', 'dev', false).then(async () => {
  const program = require(path.resolve('index.ts'));
  const ttfCommand = await new Promise((r) => pulumi.output(program.ttfCommand).apply((x) => { r(x); return x; }));
  await pulumi.runtime.disconnect();
  process.stdout.write(`${JSON.stringify({ ttfCommand, resources: types.length, tsnode: tsnodeRequire })}\n`);
}).catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
