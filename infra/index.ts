// SPDX-License-Identifier: MIT
// The Pulumi program: `make deploy-infra` (pulumi up) deploys http-tunnel's serverless back-end.
// Configuration: src/config.ts; resources: src/stack.ts; docs/serverless.md "Deploying on AWS".
import { readConfig } from "./src/config";
import { createStack } from "./src/stack";

const stack = createStack(readConfig());
const o = stack.outputs;

export const websocketEndpoint = o.websocketEndpoint;
export const httpEndpoint = o.httpEndpoint;
export const publicUrlBase = o.publicUrlBase;
export const publicUrlPattern = o.publicUrlPattern;
export const websocketApiId = o.websocketApiId;
export const httpApiId = o.httpApiId;
export const connectionsTableName = o.connectionsTableName;
export const pendingRequestsTableName = o.pendingRequestsTableName;
export const tableNames = o.tableNames;
export const websocketFunctionName = o.websocketFunctionName;
export const httpFunctionName = o.httpFunctionName;
export const logGroups = o.logGroups;
export const lambdaArchitecture = o.lambdaArchitecture;
export const requireAuth = o.requireAuth;
export const ttfCommand = o.ttfCommand;
export const domainTargets = o.domainTargets;
export const dashboardName = o.dashboardName;
export const alertTopicArn = o.alertTopicArn;
export const budgetName = o.budgetName;
