// SPDX-License-Identifier: MIT
// The default configuration (only the required jwtSecret set): every resource, its key settings,
// and every IAM statement.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { ACCOUNT, REGION, Recorded, byType, census, one, runProgram } from "./harness";

let rs: Recorded[];
let out: Record<string, any>;
const WS = "wsapi00001";
const HTTP = "httpapi001";
const T = {
    fn: "aws:lambda/function:Function", perm: "aws:lambda/permission:Permission",
    api: "aws:apigatewayv2/api:Api", integ: "aws:apigatewayv2/integration:Integration",
    route: "aws:apigatewayv2/route:Route", stage: "aws:apigatewayv2/stage:Stage",
    routeResponse: "aws:apigatewayv2/routeResponse:RouteResponse",
    table: "aws:dynamodb/table:Table", log: "aws:cloudwatch/logGroup:LogGroup",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
};
const fnArn = (n: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${n}`;
const invokeArn = (n: string) => `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${fnArn(n)}/invocations`;

before(async () => {
    ({ resources: rs, outputs: out } = await runProgram({ jwtSecret: "s3cret" }, { secrets: ["jwtSecret"] }));
});

test("exactly these resources", () => {
    assert.deepEqual(census(rs), {
        "aws:dynamodb/table:Table": 2,
        "aws:apigatewayv2/api:Api": 2,
        "aws:cloudwatch/logGroup:LogGroup": 3,
        "aws:iam/role:Role": 1,
        "aws:iam/rolePolicy:RolePolicy": 1,
        "aws:lambda/function:Function": 2,
        "aws:apigatewayv2/integration:Integration": 4,
        "aws:apigatewayv2/route:Route": 4,
        "aws:apigatewayv2/routeResponse:RouteResponse": 1,
        "aws:apigatewayv2/stage:Stage": 2,
        "aws:lambda/permission:Permission": 5,
        "aws:cloudwatch/eventRule:EventRule": 1,
        "aws:cloudwatch/eventTarget:EventTarget": 1,
        "aws:sns/topic:Topic": 1,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 10,
        "aws:cloudwatch/dashboard:Dashboard": 1,
        "aws:budgets/budget:Budget": 1,
    });
});

test("DynamoDB tables: keys, GSI, TTL, on-demand", () => {
    const conn = one(rs, T.table, "table-connections").inputs;
    assert.equal(conn.name, "http-tunnel-connections-dev");
    assert.equal(conn.billingMode, "PAY_PER_REQUEST");
    assert.equal(conn.hashKey, "connectionId");
    assert.equal(conn.rangeKey, undefined);
    assert.deepEqual(conn.attributes, [{ name: "connectionId", type: "S" }, { name: "tunnelId", type: "S" }]);
    assert.deepEqual(conn.globalSecondaryIndexes, [{ name: "tunnel-id-index", projectionType: "ALL",
        keySchemas: [{ attributeName: "tunnelId", keyType: "HASH" }] }]);
    assert.deepEqual(conn.ttl, { attributeName: "ttl", enabled: true });
    const pend = one(rs, T.table, "table-pending").inputs;
    assert.equal(pend.name, "http-tunnel-pending-requests-dev");
    assert.equal(pend.billingMode, "PAY_PER_REQUEST");
    assert.equal(pend.hashKey, "requestId");
    assert.deepEqual(pend.attributes, [{ name: "requestId", type: "S" }]);
    assert.deepEqual(pend.globalSecondaryIndexes, []);
    assert.deepEqual(pend.ttl, { attributeName: "ttl", enabled: true });
});

test("two functions from one zip: provided.al2023, arm64, 256 MB, 30 s, reserved concurrency, roles", async () => {
    const fns = byType(rs, T.fn);
    for (const [role, reserved] of [["websocket", 40], ["http", 50]] as const) {
        const f = one(rs, T.fn, `fn-${role}`).inputs;
        assert.equal(f.name, `http-tunnel-${role}-dev`);
        assert.equal(f.runtime, "provided.al2023");
        assert.equal(f.handler, "bootstrap");
        assert.deepEqual(f.architectures, ["arm64"]);
        assert.equal(f.memorySize, 256);
        assert.equal(f.timeout, 30);
        assert.equal(f.reservedConcurrentExecutions, reserved);
        assert.equal(f.role, `arn:aws:iam::${ACCOUNT}:role/http-tunnel-lambda-dev`);
        assert.match(await f.code.path, /\/bootstrap-arm64\.zip$/);
        assert.deepEqual(f.loggingConfig, { logFormat: "Text", logGroup: `/aws/lambda/http-tunnel-${role}-dev` });
    }
    assert.equal(fns.length, 2);
    const common = {
        CONNECTIONS_TABLE_NAME: "http-tunnel-connections-dev",
        PENDING_REQUESTS_TABLE_NAME: "http-tunnel-pending-requests-dev",
        WEBSOCKET_API_ENDPOINT: `wss://${WS}.execute-api.${REGION}.amazonaws.com/dev`,
        DOMAIN_NAME: `${HTTP}.execute-api.${REGION}.amazonaws.com`,
        PUBLIC_URL_SCHEME: "https",
        ENABLE_SUBDOMAIN_ROUTING: "false",
    };
    const ws = one(rs, T.fn, "fn-websocket");
    assert.deepEqual(ws.inputs.environment.variables, { ...common, TUNNEL_ROLE: "websocket", REQUIRE_AUTH: "true",
        JWT_SECRET: "s3cret" });
    assert.deepEqual(ws.secretPaths, ["environment"], "the key material reaches Pulumi's state as a secret");
    const http = one(rs, T.fn, "fn-http");
    assert.deepEqual(http.inputs.environment.variables, { ...common, TUNNEL_ROLE: "http", MAX_WAITING_REQUESTS: "45",
        MAX_WAITING_PER_AGENT: "22" },
        "the HTTP function gets no key material (only $connect verifies tokens); 45 of its 50 environments wait, 22 for one agent");
    assert.deepEqual(http.secretPaths, []);
});

test("WebSocket API: three routes, proxy integrations, stage, permissions with the stage wildcard", () => {
    const api = one(rs, T.api, "websocket-api").inputs;
    assert.equal(api.protocolType, "WEBSOCKET");
    assert.equal(api.routeSelectionExpression, "$request.body.action");
    assert.equal(api.name, "http-tunnel-ws-dev");
    for (const key of ["$connect", "$default", "$disconnect"]) {
        const slug = key.slice(1);
        const integ = one(rs, T.integ, `ws-integration-${slug}`).inputs;
        assert.equal(integ.apiId, WS);
        assert.equal(integ.integrationType, "AWS_PROXY");
        assert.equal(integ.integrationMethod, "POST");
        assert.equal(integ.integrationUri, invokeArn("http-tunnel-websocket-dev"));
        const route = one(rs, T.route, `ws-route-${slug}`).inputs;
        assert.deepEqual([route.apiId, route.routeKey, route.target], [WS, key, `integrations/ws-integration-${slug}-id`]);
        // two-way communication on $default only: its answer (the Lambda's ack) reaches the agent
        assert.equal(route.routeResponseSelectionExpression, key === "$default" ? "$default" : undefined);
        const perm = one(rs, T.perm, `ws-permission-${slug}`).inputs;
        assert.equal(perm.action, "lambda:InvokeFunction");
        assert.equal(perm.function, "http-tunnel-websocket-dev");
        assert.equal(perm.principal, "apigateway.amazonaws.com");
        assert.equal(perm.sourceArn, `arn:aws:execute-api:${REGION}:${ACCOUNT}:${WS}/*/${key}`);
    }
    const rr = one(rs, T.routeResponse, "ws-route-response-default").inputs;
    assert.deepEqual([rr.apiId, rr.routeId, rr.routeResponseKey], [WS, "ws-route-default-id", "$default"]);
    const stage = one(rs, T.stage, "ws-stage").inputs;
    assert.deepEqual([stage.apiId, stage.name, stage.autoDeploy], [WS, "dev", true]);
});

test("HTTP API: payload 2.0, 29 s, $default route and stage, throttling from config, access log", () => {
    const api = one(rs, T.api, "http-api").inputs;
    assert.equal(api.protocolType, "HTTP");
    const integ = one(rs, T.integ, "http-integration").inputs;
    assert.equal(integ.apiId, HTTP);
    assert.equal(integ.integrationType, "AWS_PROXY");
    assert.equal(integ.payloadFormatVersion, "2.0");
    assert.equal(integ.timeoutMilliseconds, 29000);
    assert.equal(integ.integrationUri, invokeArn("http-tunnel-http-dev"));
    const route = one(rs, T.route, "http-route-default").inputs;
    assert.deepEqual([route.apiId, route.routeKey, route.target], [HTTP, "$default", "integrations/http-integration-id"]);
    const stage = one(rs, T.stage, "http-stage").inputs;
    assert.deepEqual([stage.apiId, stage.name, stage.autoDeploy], [HTTP, "$default", true]);
    assert.deepEqual(stage.defaultRouteSettings, { throttlingRateLimit: 50, throttlingBurstLimit: 100 });
    assert.equal(stage.accessLogSettings.destinationArn,
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/apigateway/http-tunnel-http-dev`);
    const fmt = JSON.parse(stage.accessLogSettings.format);
    assert.equal(fmt.status, "$context.status");
    assert.equal(fmt.integrationError, "$context.integrationErrorMessage");
    const perm = one(rs, T.perm, "http-permission").inputs;
    assert.equal(perm.function, "http-tunnel-http-dev");
    assert.equal(perm.principal, "apigateway.amazonaws.com");
    assert.equal(perm.sourceArn, `arn:aws:execute-api:${REGION}:${ACCOUNT}:${HTTP}/*/*`);
});

test("log groups with retention", () => {
    const groups = byType(rs, T.log).map((r) => [r.inputs.name, r.inputs.retentionInDays]).sort();
    assert.deepEqual(groups, [["/aws/apigateway/http-tunnel-http-dev", 14], ["/aws/lambda/http-tunnel-http-dev", 14],
        ["/aws/lambda/http-tunnel-websocket-dev", 14]]);
});

test("IAM: trust lambda.amazonaws.com; every statement of the policy", () => {
    const role = one(rs, "aws:iam/role:Role", "lambda-role").inputs;
    assert.deepEqual(JSON.parse(role.assumeRolePolicy), { Version: "2012-10-17", Statement: [
        { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] });
    assert.equal(role.managedPolicyArns, undefined, "no managed policy (AWSLambdaBasicExecutionRole allows logs on *)");
    const pol = one(rs, "aws:iam/rolePolicy:RolePolicy", "lambda-policy").inputs;
    assert.equal(pol.role, "lambda-role-id");
    const table = (t: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${t}`;
    const logs = (f: string) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${f}:*`;
    assert.deepEqual(JSON.parse(pol.policy), { Version: "2012-10-17", Statement: [
        { Sid: "DynamoDbConnectionsTable", Effect: "Allow", Action: ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem",
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"],
        Resource: [table("http-tunnel-connections-dev")] },
        { Sid: "DynamoDbConnectionsIndexTunnelIdIndex", Effect: "Allow", Action: ["dynamodb:Query"],
            Resource: [`${table("http-tunnel-connections-dev")}/index/tunnel-id-index`] },
        { Sid: "DynamoDbPendingTable", Effect: "Allow", Action: ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem",
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"],
        Resource: [table("http-tunnel-pending-requests-dev")] },
        { Sid: "WebSocketManageConnections", Effect: "Allow", Action: ["execute-api:ManageConnections"], Resource: [
            `arn:aws:execute-api:${REGION}:${ACCOUNT}:${WS}/dev/POST/@connections/*`,
            `arn:aws:execute-api:${REGION}:${ACCOUNT}:${WS}/dev/GET/@connections/*`,
            `arn:aws:execute-api:${REGION}:${ACCOUNT}:${WS}/dev/DELETE/@connections/*`] },
        { Sid: "FunctionLogs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
            Resource: [logs("http-tunnel-websocket-dev"), logs("http-tunnel-http-dev")] },
    ] });
});

test("cleanup schedule: EventBridge rule -> the websocket function, with its invoke permission", () => {
    const rule = one(rs, "aws:cloudwatch/eventRule:EventRule", "cleanup").inputs;
    assert.equal(rule.scheduleExpression, "rate(10 minutes)");
    assert.equal(rule.name, "http-tunnel-cleanup-dev");
    const target = one(rs, "aws:cloudwatch/eventTarget:EventTarget", "cleanup-target").inputs;
    assert.deepEqual([target.rule, target.arn], ["http-tunnel-cleanup-dev", fnArn("http-tunnel-websocket-dev")]);
    const perm = one(rs, T.perm, "cleanup-permission").inputs;
    assert.deepEqual([perm.principal, perm.function, perm.sourceArn], ["events.amazonaws.com",
        "http-tunnel-websocket-dev", `arn:aws:events:${REGION}:${ACCOUNT}:rule/http-tunnel-cleanup-dev`]);
});

test("alarms on metrics AWS publishes, to the SNS topic; no e-mail subscription without alertEmail", () => {
    const topic = `arn:aws:sns:${REGION}:${ACCOUNT}:http-tunnel-alerts-dev`;
    const got = byType(rs, T.alarm).map((a) => a.inputs).map((a) => [a.name, a.namespace, a.metricName,
        a.statistic ?? a.extendedStatistic, a.threshold, JSON.stringify(a.dimensions)]);
    const fnDims = (r: string) => JSON.stringify({ FunctionName: `http-tunnel-${r}-dev` });
    const http = JSON.stringify({ ApiId: HTTP, Stage: "$default" });
    const ws = JSON.stringify({ ApiId: WS, Stage: "dev" });
    assert.deepEqual(got.sort(), [
        ["http-tunnel-http-5xx-dev", "AWS/ApiGateway", "5xx", "Sum", 20, http],
        ["http-tunnel-http-duration-dev", "AWS/Lambda", "Duration", "p99", 27000, fnDims("http")],
        ["http-tunnel-http-errors-dev", "AWS/Lambda", "Errors", "Sum", 5, fnDims("http")],
        ["http-tunnel-http-integration-latency-dev", "AWS/ApiGateway", "IntegrationLatency", "p99", 28000, http],
        ["http-tunnel-http-throttles-dev", "AWS/Lambda", "Throttles", "Sum", 1, fnDims("http")],
        ["http-tunnel-websocket-duration-dev", "AWS/Lambda", "Duration", "p99", 27000, fnDims("websocket")],
        ["http-tunnel-websocket-errors-dev", "AWS/Lambda", "Errors", "Sum", 5, fnDims("websocket")],
        ["http-tunnel-websocket-throttles-dev", "AWS/Lambda", "Throttles", "Sum", 1, fnDims("websocket")],
        ["http-tunnel-ws-execution-errors-dev", "AWS/ApiGateway", "ExecutionError", "Sum", 1, ws],
        ["http-tunnel-ws-integration-errors-dev", "AWS/ApiGateway", "IntegrationError", "Sum", 5, ws],
    ]);
    for (const a of byType(rs, T.alarm)) {
        assert.deepEqual(a.inputs.alarmActions, [topic]);
        assert.deepEqual(a.inputs.okActions, [topic]);
        assert.equal(a.inputs.comparisonOperator, "GreaterThanOrEqualToThreshold");
        assert.equal(a.inputs.period, 300);
        assert.equal(a.inputs.treatMissingData, "notBreaching");
    }
    assert.equal(byType(rs, "aws:sns/topicSubscription:TopicSubscription").length, 0);
});

test("dashboard: the functions, both APIs, both tables", () => {
    const d = one(rs, "aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs;
    assert.equal(d.dashboardName, "http-tunnel-dashboard-dev");
    const body = JSON.parse(d.dashboardBody);
    const metrics = body.widgets.flatMap((w: any) => w.properties.metrics.map((m: any[]) => m.slice(0, -1).join(" ")));
    for (const m of ["AWS/Lambda Throttles FunctionName http-tunnel-http-dev",
        "AWS/Lambda ConcurrentExecutions FunctionName http-tunnel-websocket-dev",
        `AWS/ApiGateway 5xx ApiId ${HTTP} Stage $default`,
        `AWS/ApiGateway IntegrationLatency ApiId ${HTTP} Stage $default`,
        `AWS/ApiGateway ConnectCount ApiId ${WS} Stage dev`,
        `AWS/ApiGateway ExecutionError ApiId ${WS} Stage dev`,
        "AWS/DynamoDB ConsumedWriteCapacityUnits TableName http-tunnel-pending-requests-dev"]) {
        assert.ok(metrics.includes(m), `dashboard lacks ${m}`);
    }
    for (const w of body.widgets) assert.equal(w.properties.region, REGION);
});

test("budget: monthly cost budget, 50 USD, no notifications without alertEmail", () => {
    const b = one(rs, "aws:budgets/budget:Budget", "budget").inputs;
    assert.deepEqual([b.budgetType, b.limitAmount, b.limitUnit, b.timeUnit], ["COST", "50.00", "USD", "MONTHLY"]);
    assert.deepEqual(b.notifications, []);
});

test("outputs: endpoints, names, the ttf line", () => {
    assert.equal(out.websocketEndpoint, `wss://${WS}.execute-api.${REGION}.amazonaws.com/dev`);
    assert.equal(out.httpEndpoint, `https://${HTTP}.execute-api.${REGION}.amazonaws.com`);
    assert.equal(out.publicUrlPattern, `https://${HTTP}.execute-api.${REGION}.amazonaws.com/<tunnel id>/`);
    assert.deepEqual(out.tableNames, { connections: "http-tunnel-connections-dev",
        pending: "http-tunnel-pending-requests-dev" });
    assert.equal(out.connectionsTableName, "http-tunnel-connections-dev");
    assert.equal(out.pendingRequestsTableName, "http-tunnel-pending-requests-dev");
    assert.equal(out.websocketFunctionName, "http-tunnel-websocket-dev");
    assert.equal(out.httpFunctionName, "http-tunnel-http-dev");
    assert.equal(out.ttfCommand,
        `ttf --endpoint wss://${WS}.execute-api.${REGION}.amazonaws.com/dev --port 3000 --token "$TUNNEL_TOKEN"`);
    assert.equal(out.domainTargets, undefined);
    assert.equal(out.budgetName, "http-tunnel-dev-monthly");
});
