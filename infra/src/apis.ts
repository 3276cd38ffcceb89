// SPDX-License-Identifier: MIT
// apis.ts - the two API Gateway (v2) APIs.
// WebSocket API: agents connect here; routes $connect, $default, $disconnect, each a Lambda proxy
// integration of the "websocket" function; stage <environment>.
// HTTP API: public traffic; route $default, a Lambda proxy integration of the "http" function with
// payload format 2.0 and a 29 s timeout; stage $default (no stage prefix in URLs) with throttling.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TunnelConfig } from "./config";
import websocketJson from "../websocket.json";

/** infra/websocket.json: the WebSocket API's routes, read by the stand-in too (see its $comment). */
export interface WebsocketSpec {
    routeSelectionExpression: string;
    routes: string[];
    twoWayRoutes: string[];
    routeResponseSelectionExpression: string;
}

/** websocket.json, checked: the three routes API Gateway needs, two-way routes among them. */
export function loadWebsocketSpec(doc: unknown = websocketJson): WebsocketSpec {
    const spec = doc as WebsocketSpec;
    for (const r of ["$connect", "$default", "$disconnect"]) {
        if (!spec.routes.includes(r)) throw new Error(`websocket.json: route ${r} is missing`);
    }
    for (const r of spec.twoWayRoutes) {
        if (!spec.routes.includes(r)) throw new Error(`websocket.json: two-way route ${r} is not a route`);
    }
    if (!/^\$request\.body\.[A-Za-z_][A-Za-z0-9_]*$/.test(spec.routeSelectionExpression)) {
        throw new Error(`websocket.json: "${spec.routeSelectionExpression}" is not $request.body.<field>`);
    }
    return spec;
}

const WS = loadWebsocketSpec();
/** The agents' messages carry no "action" field, so every message falls to $default. */
export const ROUTE_SELECTION_EXPRESSION = WS.routeSelectionExpression;
export const WEBSOCKET_ROUTES = WS.routes;
/** API Gateway's integration timeout for HTTP APIs is at most 30 s; the Lambda plans for 29 s. */
export const HTTP_INTEGRATION_TIMEOUT_MS = 29000;

export function websocketApi(cfg: TunnelConfig, tags: Record<string, string>) {
    return new aws.apigatewayv2.Api("websocket-api", {
        name: `${cfg.project}-ws-${cfg.environment}`,
        description: "http-tunnel: agents (ttf) connect here",
        protocolType: "WEBSOCKET",
        routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
        tags,
    });
}

export function httpApi(cfg: TunnelConfig, tags: Record<string, string>) {
    return new aws.apigatewayv2.Api("http-api", {
        name: `${cfg.project}-http-${cfg.environment}`,
        description: "http-tunnel: public requests to tunnels",
        protocolType: "HTTP",
        tags,
    });
}

const routeSlug = (routeKey: string) => routeKey.replace(/^\$/, "");

/** Routes, integrations, stage and invoke permissions of the WebSocket API. */
export function websocketRoutes(cfg: TunnelConfig, api: aws.apigatewayv2.Api, fn: aws.lambda.Function,
    tags: Record<string, string>) {
    const routes = WEBSOCKET_ROUTES.map((routeKey) => {
        const slug = routeSlug(routeKey);
        const integration = new aws.apigatewayv2.Integration(`ws-integration-${slug}`, {
            apiId: api.id,
            integrationType: "AWS_PROXY",
            integrationMethod: "POST",
            integrationUri: fn.invokeArn,
        });
        const twoWay = WS.twoWayRoutes.includes(routeKey);
        const route = new aws.apigatewayv2.Route(`ws-route-${slug}`, {
            apiId: api.id,
            routeKey,
            target: pulumi.interpolate`integrations/${integration.id}`,
            // two-way communication: the Lambda's answer (an ack) goes back to the agent
            routeResponseSelectionExpression: twoWay ? WS.routeResponseSelectionExpression : undefined,
        });
        const routeResponse = twoWay
            ? new aws.apigatewayv2.RouteResponse(`ws-route-response-${slug}`, {
                apiId: api.id,
                routeId: route.id,
                routeResponseKey: "$default",
            })
            : undefined;
        // arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/ROUTE_KEY, any stage
        const permission = new aws.lambda.Permission(`ws-permission-${slug}`, {
            action: "lambda:InvokeFunction",
            function: fn.name,
            principal: "apigateway.amazonaws.com",
            sourceArn: pulumi.interpolate`${api.executionArn}/*/${routeKey}`,
        });
        return { routeKey, integration, route, routeResponse, permission };
    });
    const stage = new aws.apigatewayv2.Stage("ws-stage", {
        apiId: api.id,
        name: cfg.environment,
        autoDeploy: true,
        tags,
    }, { dependsOn: routes.flatMap((r) => (r.routeResponse ? [r.route, r.routeResponse] : [r.route])) });
    return { routes, stage };
}

/** Route, integration, stage (throttled, access-logged) and invoke permission of the HTTP API. */
export function httpRoutes(cfg: TunnelConfig, api: aws.apigatewayv2.Api, fn: aws.lambda.Function,
    accessLog: aws.cloudwatch.LogGroup, tags: Record<string, string>) {
    const integration = new aws.apigatewayv2.Integration("http-integration", {
        apiId: api.id,
        integrationType: "AWS_PROXY",
        integrationMethod: "POST",
        integrationUri: fn.invokeArn,
        payloadFormatVersion: "2.0",
        timeoutMilliseconds: HTTP_INTEGRATION_TIMEOUT_MS,
    });
    const route = new aws.apigatewayv2.Route("http-route-default", {
        apiId: api.id,
        routeKey: "$default",
        target: pulumi.interpolate`integrations/${integration.id}`,
    });
    // arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/ROUTE..., any stage, this API only
    const permission = new aws.lambda.Permission("http-permission", {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "apigateway.amazonaws.com",
        sourceArn: pulumi.interpolate`${api.executionArn}/*/*`,
    });
    const stage = new aws.apigatewayv2.Stage("http-stage", {
        apiId: api.id,
        name: "$default",
        autoDeploy: true,
        defaultRouteSettings: {
            throttlingRateLimit: cfg.rateLimitPerSecond,
            throttlingBurstLimit: cfg.rateLimitBurst,
        },
        accessLogSettings: {
            destinationArn: accessLog.arn,
            // $context variables of HTTP APIs; no query strings or headers (they may carry secrets)
            format: JSON.stringify({
                requestId: "$context.requestId",
                ip: "$context.identity.sourceIp",
                time: "$context.requestTime",
                method: "$context.httpMethod",
                host: "$context.domainName",
                path: "$context.path",
                status: "$context.status",
                bytes: "$context.responseLength",
                latencyMs: "$context.responseLatency",
                integrationLatencyMs: "$context.integrationLatency",
                integrationError: "$context.integrationErrorMessage",
            }),
        },
        tags,
    }, { dependsOn: [route] });
    return { integration, route, permission, stage };
}
