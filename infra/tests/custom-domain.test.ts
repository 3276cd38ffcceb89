// SPDX-License-Identifier: MIT
// Custom domains on (given certificate, Route 53 zone), x86_64, alertEmail, auth off.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { Recorded, byType, census, one, runProgram } from "./harness";

let rs: Recorded[];
let out: Record<string, any>;
const CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";

before(async () => {
    ({ resources: rs, outputs: out } = await runProgram({
        environment: "prod",
        enableCustomDomain: "true",
        domainName: "Tunnel.Example.com",
        certificateArn: CERT,
        hostedZoneId: "Z0123456789ABC",
        lambdaArchitecture: "x86_64",
        lambdaMemorySize: "512",
        lambdaTimeout: "60",
        logRetentionDays: "30",
        alertEmail: "ops@example.com",
        monthlyBudget: "12.5",
        requireAuth: "false",
        rateLimitPerSecond: "20",
        rateLimitBurst: "40",
        websocketConcurrency: "5",
        httpConcurrency: "-1",
    }));
});

test("base, wildcard and WebSocket domains: regional, TLS 1.2, the given certificate", () => {
    const domains = byType(rs, "aws:apigatewayv2/domainName:DomainName").map((d) => [d.name, d.inputs.domainName,
        d.inputs.domainNameConfiguration]).sort();
    const conf = { certificateArn: CERT, endpointType: "REGIONAL", securityPolicy: "TLS_1_2" };
    assert.deepEqual(domains, [["domain-base", "tunnel.example.com", conf], ["domain-websocket", "ws.tunnel.example.com", conf],
        ["domain-wildcard", "*.tunnel.example.com", conf]]);
    assert.equal(byType(rs, "aws:acm/certificate:Certificate").length, 0, "a given certificate is used as is");
});

test("API mappings: base and wildcard -> HTTP API $default, ws -> WebSocket stage", () => {
    const m = (k: string) => one(rs, "aws:apigatewayv2/apiMapping:ApiMapping", `mapping-${k}`).inputs;
    assert.deepEqual([m("base").apiId, m("base").domainName, m("base").stage], ["httpapi001", "tunnel.example.com", "$default"]);
    assert.deepEqual([m("wildcard").apiId, m("wildcard").domainName, m("wildcard").stage],
        ["httpapi001", "*.tunnel.example.com", "$default"]);
    assert.deepEqual([m("websocket").apiId, m("websocket").domainName, m("websocket").stage],
        ["wsapi00001", "ws.tunnel.example.com", "prod"]);
});

test("Route 53 alias records to each domain's regional target", () => {
    for (const [k, host] of [["base", "tunnel.example.com"], ["wildcard", "*.tunnel.example.com"],
        ["websocket", "ws.tunnel.example.com"]]) {
        const r = one(rs, "aws:route53/record:Record", `dns-${k}`).inputs;
        assert.deepEqual([r.zoneId, r.name, r.type], ["Z0123456789ABC", host, "A"]);
        assert.deepEqual(r.aliases, [{ name: `d-domain-${k}.execute-api.us-east-1.amazonaws.com`,
            zoneId: "Z1UJRXOUMOOFQ8", evaluateTargetHealth: false }]);
    }
    assert.equal(byType(rs, "aws:route53/record:Record").length, 3);
});

test("functions: x86_64 zip, memory, timeout, concurrency, subdomain routing on the custom domain", async () => {
    for (const role of ["websocket", "http"]) {
        const f = one(rs, "aws:lambda/function:Function", `fn-${role}`).inputs;
        assert.deepEqual(f.architectures, ["x86_64"]);
        assert.match(await f.code.path, /\/bootstrap\.zip$/);
        assert.equal(f.memorySize, 512);
        assert.equal(f.timeout, 60);
        assert.equal(f.name, `http-tunnel-${role}-prod`);
        assert.equal(f.environment.variables.DOMAIN_NAME, "tunnel.example.com");
        assert.equal(f.environment.variables.ENABLE_SUBDOMAIN_ROUTING, "true");
        assert.equal(f.environment.variables.WEBSOCKET_API_ENDPOINT,
            "wss://wsapi00001.execute-api.us-east-1.amazonaws.com/prod", "@connections stays on the execute-api host");
        assert.equal(f.environment.variables.JWT_SECRET, undefined);
    }
    assert.equal(one(rs, "aws:lambda/function:Function", "fn-websocket").inputs.reservedConcurrentExecutions, 5);
    assert.equal(one(rs, "aws:lambda/function:Function", "fn-http").inputs.reservedConcurrentExecutions, -1);
    assert.equal(one(rs, "aws:lambda/function:Function", "fn-http").inputs.environment.variables.MAX_WAITING_REQUESTS,
        undefined, "unreserved: no known limit to stay under");
    assert.equal(one(rs, "aws:lambda/function:Function", "fn-http").inputs.environment.variables.MAX_WAITING_PER_AGENT,
        undefined);
    assert.equal(one(rs, "aws:lambda/function:Function", "fn-websocket").inputs.environment.variables.REQUIRE_AUTH, "false");
});

test("stage throttling, retention, alarms' duration threshold follow the config", () => {
    assert.deepEqual(one(rs, "aws:apigatewayv2/stage:Stage", "http-stage").inputs.defaultRouteSettings,
        { throttlingRateLimit: 20, throttlingBurstLimit: 40 });
    for (const g of byType(rs, "aws:cloudwatch/logGroup:LogGroup")) assert.equal(g.inputs.retentionInDays, 30);
    assert.equal(one(rs, "aws:cloudwatch/metricAlarm:MetricAlarm", "alarm-http-duration").inputs.threshold, 54000);
    assert.equal(one(rs, "aws:lambda/permission:Permission", "ws-permission-connect").inputs.sourceArn,
        "arn:aws:execute-api:us-east-1:123456789012:wsapi00001/*/$connect");
});

test("alertEmail: SNS e-mail subscription and budget notifications", () => {
    const sub = one(rs, "aws:sns/topicSubscription:TopicSubscription", "alerts-email").inputs;
    assert.deepEqual([sub.topic, sub.protocol, sub.endpoint],
        ["arn:aws:sns:us-east-1:123456789012:http-tunnel-alerts-prod", "email", "ops@example.com"]);
    const b = one(rs, "aws:budgets/budget:Budget", "budget").inputs;
    assert.equal(b.limitAmount, "12.50");
    assert.deepEqual(b.notifications.map((n: any) => [n.notificationType, n.threshold, n.thresholdType,
        n.comparisonOperator, n.subscriberEmailAddresses]), [
        ["ACTUAL", 80, "PERCENTAGE", "GREATER_THAN", ["ops@example.com"]],
        ["ACTUAL", 100, "PERCENTAGE", "GREATER_THAN", ["ops@example.com"]],
        ["FORECASTED", 100, "PERCENTAGE", "GREATER_THAN", ["ops@example.com"]]]);
});

test("outputs: custom endpoints and the ttf line", () => {
    assert.equal(out.websocketEndpoint, "wss://ws.tunnel.example.com");
    assert.equal(out.publicUrlBase, "https://tunnel.example.com");
    assert.equal(out.publicUrlPattern, "https://<tunnel id>.tunnel.example.com/");
    assert.equal(out.ttfCommand, "ttf --endpoint wss://ws.tunnel.example.com --port 3000");
    assert.deepEqual(out.domainTargets, {
        "tunnel.example.com": "d-domain-base.execute-api.us-east-1.amazonaws.com",
        "*.tunnel.example.com": "d-domain-wildcard.execute-api.us-east-1.amazonaws.com",
        "ws.tunnel.example.com": "d-domain-websocket.execute-api.us-east-1.amazonaws.com",
    });
    assert.equal(out.connectionsTableName, "http-tunnel-connections-prod");
    assert.equal(census(rs)["aws:apigatewayv2/domainName:DomainName"], 3);
});
