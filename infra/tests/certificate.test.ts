// SPDX-License-Identifier: MIT
// Custom domain without certificateArn: the program requests an ACM certificate and validates it
// by DNS in the zone; subdomain routing off (no wildcard domain); a WebSocket domain outside the
// wildcard's reach is added to the certificate; monitoring off.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { Recorded, byType, one, runProgram } from "./harness";

let rs: Recorded[];
let out: Record<string, any>;

before(async () => {
    ({ resources: rs, outputs: out } = await runProgram({
        enableCustomDomain: "true",
        enableSubdomainRouting: "false",
        domainName: "t.example.com",
        websocketDomainName: "agents.example.com",
        hostedZoneId: "ZZONE",
        enableMonitoring: "false",
        monthlyBudget: "0",
        jwks: "{\"keys\":[]}",
    }, { secrets: ["jwks"] }));
});

test("ACM certificate with DNS validation records in the zone", () => {
    const cert = one(rs, "aws:acm/certificate:Certificate", "certificate").inputs;
    assert.equal(cert.domainName, "t.example.com");
    assert.deepEqual(cert.subjectAlternativeNames, ["*.t.example.com", "agents.example.com"]);
    assert.equal(cert.validationMethod, "DNS");
    const recs = byType(rs, "aws:route53/record:Record").filter((r) => r.name.startsWith("certificate-validation"))
        .map((r) => [r.inputs.zoneId, r.inputs.name, r.inputs.type, r.inputs.records]).sort();
    assert.deepEqual(recs, [["ZZONE", "_v.agents.example.com.", "CNAME", ["_x.acm-validations.aws."]],
        ["ZZONE", "_v.t.example.com.", "CNAME", ["_x.acm-validations.aws."]]]);
    const v = one(rs, "aws:acm/certificateValidation:CertificateValidation", "certificate-validation").inputs;
    assert.deepEqual(v.validationRecordFqdns.sort(), ["_v.agents.example.com", "_v.t.example.com"]);
    for (const d of byType(rs, "aws:apigatewayv2/domainName:DomainName")) {
        assert.equal(d.inputs.domainNameConfiguration.certificateArn, "arn:aws:acm:us-east-1:123456789012:certificate/mock-cert");
    }
});

test("no wildcard domain without subdomain routing; path URLs", () => {
    assert.deepEqual(byType(rs, "aws:apigatewayv2/domainName:DomainName").map((d) => d.inputs.domainName).sort(),
        ["agents.example.com", "t.example.com"]);
    const f = one(rs, "aws:lambda/function:Function", "fn-http").inputs;
    assert.equal(f.environment.variables.ENABLE_SUBDOMAIN_ROUTING, "false");
    assert.equal(out.publicUrlPattern, "https://t.example.com/<tunnel id>/");
    assert.equal(out.ttfCommand, "ttf --endpoint wss://agents.example.com --port 3000 --token \"$TUNNEL_TOKEN\"");
});

test("JWKS reaches only the websocket function, as a secret", () => {
    const ws = one(rs, "aws:lambda/function:Function", "fn-websocket");
    assert.equal(ws.inputs.environment.variables.JWKS, "{\"keys\":[]}");
    assert.equal(ws.inputs.environment.variables.JWT_SECRET, undefined);
    assert.deepEqual(ws.secretPaths, ["environment"]);
    assert.equal(one(rs, "aws:lambda/function:Function", "fn-http").inputs.environment.variables.JWKS, undefined);
});

test("enableMonitoring false: no topic, alarms or dashboard; monthlyBudget 0: no budget", () => {
    for (const t of ["aws:sns/topic:Topic", "aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/dashboard:Dashboard",
        "aws:budgets/budget:Budget"]) assert.equal(byType(rs, t).length, 0, t);
    assert.equal(out.dashboardName, undefined);
    assert.equal(out.budgetName, undefined);
});
