// SPDX-License-Identifier: MIT
// lambda.ts - the two functions deployed from the one bootstrap zip, and their log groups.
// "websocket" serves the WebSocket API's $connect / $default / $disconnect and the scheduled
// cleanup; "http" serves the HTTP API. Each has its own reserved concurrency, so public requests
// waiting (up to 25 s each) for their answers can never take the environments that the agents'
// answers ($default) need. TUNNEL_ROLE tells the bootstrap which one it is.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TunnelConfig } from "./config";

export type FunctionRole = "websocket" | "http";
export const FUNCTION_ROLES: FunctionRole[] = ["websocket", "http"];

export function functionName(cfg: TunnelConfig, role: FunctionRole): string {
    return `${cfg.project}-${role}-${cfg.environment}`;
}

/** /aws/lambda/<function>, the group Lambda writes to, created up front so that it has a retention
 * and the role needs no logs:CreateLogGroup. */
export function functionLogGroup(cfg: TunnelConfig, role: FunctionRole,
    tags: Record<string, string>): aws.cloudwatch.LogGroup {
    return new aws.cloudwatch.LogGroup(`log-${role}`, {
        name: `/aws/lambda/${functionName(cfg, role)}`,
        retentionInDays: cfg.logRetentionDays,
        tags,
    });
}

/** How many public requests the HTTP function lets wait for their answers at once
 * (MAX_WAITING_REQUESTS, lambda/admission.h): its reserved concurrency minus a tenth (at least 1),
 * the environments left to answer the others at once with a 503 of its own instead of Lambda
 * throttling them (API Gateway's 500). A refusal takes an environment for ~10-20 ms, so one spare
 * environment answers some 50 refusals a second. undefined (no limit) when the function is
 * unreserved (-1: no known limit) or has 1 environment (none to spare). */
export function maxWaitingRequests(httpConcurrency: number): number | undefined {
    if (httpConcurrency < 2) return undefined;
    return httpConcurrency - Math.max(1, Math.ceil(httpConcurrency / 10));
}

/** How many of those may wait for one agent connection at once (MAX_WAITING_PER_AGENT,
 * lambda/admission.h): half of them (at least 1), so that one tunnel flooded by its public
 * clients leaves the other half to the other tunnels (its own further requests get ttfd's answer
 * to a busy agent, 503 with Retry-After). undefined when there is no limit in all. */
export function maxWaitingPerAgent(waiting: number | undefined): number | undefined {
    if (waiting === undefined) return undefined;
    return Math.max(1, Math.floor(waiting / 2));
}

export interface FunctionInputs {
    role: aws.iam.Role;
    policy: aws.iam.RolePolicy; // the function must not start before its permissions exist
    logGroup: aws.cloudwatch.LogGroup;
    environment: Record<string, pulumi.Input<string>>; // shared by both functions
    auth: Record<string, pulumi.Input<string>>; // REQUIRE_AUTH and key material: $connect only
}

export function tunnelFunction(cfg: TunnelConfig, fnRole: FunctionRole, inp: FunctionInputs,
    tags: Record<string, string>): aws.lambda.Function {
    const reserved = fnRole === "websocket" ? cfg.websocketConcurrency : cfg.httpConcurrency;
    const waiting = fnRole === "http" ? maxWaitingRequests(reserved) : undefined;
    const perAgent = maxWaitingPerAgent(waiting);
    return new aws.lambda.Function(`fn-${fnRole}`, {
        name: functionName(cfg, fnRole),
        description: fnRole === "websocket"
            ? "http-tunnel: WebSocket API routes ($connect, $default, $disconnect) and the scheduled cleanup"
            : "http-tunnel: public requests from the HTTP API",
        runtime: "provided.al2023",
        handler: "bootstrap",
        architectures: [cfg.lambdaArchitecture],
        memorySize: cfg.lambdaMemorySize,
        timeout: cfg.lambdaTimeout,
        reservedConcurrentExecutions: reserved,
        code: new pulumi.asset.FileArchive(cfg.lambdaZip),
        role: inp.role.arn,
        loggingConfig: { logFormat: "Text", logGroup: inp.logGroup.name },
        environment: {
            variables: {
                TUNNEL_ROLE: fnRole,
                ...inp.environment,
                ...(fnRole === "websocket" ? inp.auth : {}),
                ...(waiting !== undefined ? { MAX_WAITING_REQUESTS: String(waiting) } : {}),
                ...(perAgent !== undefined ? { MAX_WAITING_PER_AGENT: String(perAgent) } : {}),
            },
        },
        tags,
    }, { dependsOn: [inp.policy, inp.logGroup] });
}
