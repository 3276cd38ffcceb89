// SPDX-License-Identifier: MIT
// stack.ts - the whole serverless back-end from one configuration, and its outputs.
//
//  ttf ──wss──► WebSocket API ($connect/$default/$disconnect) ──► λ <project>-websocket-<env> ─┐
//  visitor ─https─► HTTP API ($default, 2.0, 29 s, throttled) ──► λ <project>-http-<env> ──────┤
//  EventBridge rate(10 minutes) ─────────────────────────────────► λ websocket (cleanup)       │
//                                    DynamoDB connections, pending-requests (tables.json) ◄───┘
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { httpApi, httpRoutes, websocketApi, websocketRoutes } from "./apis";
import { TunnelConfig } from "./config";
import { customDomains } from "./domains";
import { lambdaPolicy, lambdaRole, lambdaRolePolicy } from "./iam";
import { FUNCTION_ROLES, functionLogGroup, tunnelFunction } from "./lambda";
import { budget, monitoring } from "./monitoring";
import { createTables, tableEnvironment } from "./tables";

/** The cleanup sweep's schedule: stale connection records (TTL 2 h) otherwise linger until
 * DynamoDB's own TTL deletion, which may take days, and every public request tries them first. */
export const CLEANUP_SCHEDULE = "rate(10 minutes)";

export function createStack(cfg: TunnelConfig) {
    const env = cfg.environment;
    const name = (part: string) => `${cfg.project}-${part}-${env}`;
    const tags = { Project: cfg.project, Environment: env, ManagedBy: "pulumi" };

    const tables = createTables(cfg.project, env, tags);
    const ws = websocketApi(cfg, tags);
    const http = httpApi(cfg, tags);

    const logGroups = Object.fromEntries(FUNCTION_ROLES.map((r) => [r, functionLogGroup(cfg, r, tags)]));
    const accessLog = new aws.cloudwatch.LogGroup("log-http-access", {
        name: `/aws/apigateway/${name("http")}`,
        retentionInDays: cfg.logRetentionDays,
        tags,
    });
    const role = lambdaRole(name("lambda"), tags);
    const policyDoc = lambdaPolicy(tables, ws.executionArn, env, FUNCTION_ROLES.map((r) => logGroups[r].arn));
    const policy = lambdaRolePolicy(role, name("lambda"), policyDoc);

    const httpHost = http.apiEndpoint.apply((e) => e.replace(/^https:\/\//, ""));
    const environment: Record<string, pulumi.Input<string>> = {
        ...tableEnvironment(tables),
        // the management API (@connections) is always reached on the execute-api host
        WEBSOCKET_API_ENDPOINT: pulumi.interpolate`${ws.apiEndpoint}/${env}`,
        DOMAIN_NAME: cfg.domainName ?? httpHost,
        PUBLIC_URL_SCHEME: "https",
        ENABLE_SUBDOMAIN_ROUTING: String(cfg.subdomainRouting),
    };
    const auth: Record<string, pulumi.Input<string>> = { REQUIRE_AUTH: String(cfg.requireAuth) };
    if (cfg.requireAuth && cfg.jwtSecret) auth.JWT_SECRET = cfg.jwtSecret;
    if (cfg.requireAuth && cfg.jwks) auth.JWKS = cfg.jwks;
    const fns = Object.fromEntries(FUNCTION_ROLES.map((r) => [r, tunnelFunction(cfg, r,
        { role, policy, logGroup: logGroups[r], environment, auth }, tags)]));

    const wsParts = websocketRoutes(cfg, ws, fns.websocket, tags);
    const httpParts = httpRoutes(cfg, http, fns.http, accessLog, tags);

    const cleanupRule = new aws.cloudwatch.EventRule("cleanup", {
        name: name("cleanup"),
        description: "http-tunnel: delete expired connection and request items (bootstrap's cleanup)",
        scheduleExpression: CLEANUP_SCHEDULE,
        tags,
    });
    const cleanupTarget = new aws.cloudwatch.EventTarget("cleanup-target", {
        rule: cleanupRule.name,
        arn: fns.websocket.arn,
    });
    const cleanupPermission = new aws.lambda.Permission("cleanup-permission", {
        action: "lambda:InvokeFunction",
        function: fns.websocket.name,
        principal: "events.amazonaws.com",
        sourceArn: cleanupRule.arn,
    });

    const domains = cfg.enableCustomDomain
        ? customDomains(cfg, http.id, httpParts.stage, ws.id, wsParts.stage, tags)
        : undefined;
    const mon = monitoring(cfg, {
        functions: FUNCTION_ROLES.map((r) => ({ role: r, fn: fns[r] })),
        httpApiId: http.id,
        wsApiId: ws.id,
        wsStage: env,
        tableNames: tables.map((t) => t.table.name),
    }, tags);
    const costBudget = budget(cfg);

    const websocketEndpoint = cfg.enableCustomDomain
        ? pulumi.output(`wss://${cfg.websocketDomainName}`)
        : pulumi.interpolate`${ws.apiEndpoint}/${env}`;
    const publicBase = cfg.enableCustomDomain ? pulumi.output(`https://${cfg.domainName}`) : http.apiEndpoint;
    const outputs = {
        websocketEndpoint,
        httpEndpoint: http.apiEndpoint,
        publicUrlBase: publicBase,
        publicUrlPattern: cfg.subdomainRouting
            ? pulumi.output(`https://<tunnel id>.${cfg.domainName}/`)
            : pulumi.interpolate`${publicBase}/<tunnel id>/`,
        websocketApiId: ws.id,
        httpApiId: http.id,
        connectionsTableName: tables.find((t) => t.key === "connections")?.table.name,
        pendingRequestsTableName: tables.find((t) => t.key === "pending")?.table.name,
        tableNames: pulumi.all(Object.fromEntries(tables.map((t) => [t.key, t.table.name]))),
        websocketFunctionName: fns.websocket.name,
        httpFunctionName: fns.http.name,
        logGroups: pulumi.all({
            websocket: logGroups.websocket.name, http: logGroups.http.name, httpAccess: accessLog.name,
        }),
        lambdaArchitecture: cfg.lambdaArchitecture,
        requireAuth: cfg.requireAuth,
        ttfCommand: pulumi.interpolate`ttf --endpoint ${websocketEndpoint} --port 3000${cfg.requireAuth
            ? " --token \"$TUNNEL_TOKEN\"" : ""}`,
        domainTargets: domains
            ? pulumi.all(Object.fromEntries(domains.domains.map((d) => [d.host,
                d.domain.domainNameConfiguration.targetDomainName])))
            : undefined,
        dashboardName: mon.dashboard?.dashboardName,
        alertTopicArn: mon.topic?.arn,
        budgetName: costBudget?.name,
    };
    return {
        tables, ws, http, logGroups, accessLog, role, policy, policyDoc, fns, wsParts, httpParts,
        cleanupRule, cleanupTarget, cleanupPermission, domains, monitoring: mon, budget: costBudget, outputs,
    };
}
