// SPDX-License-Identifier: MIT
// config.ts - the stack's configuration (`pulumi config set <key> <value>`), with defaults and
// checks. Every key here is used by the program; docs/serverless.md "Deploying" lists them.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

export type Architecture = "arm64" | "x86_64";

export interface TunnelConfig {
    project: string; // the Pulumi project name ("http-tunnel"): prefix of every resource name
    environment: string; // "dev": suffix of resource names, and the WebSocket API's stage name
    domainName?: string; // base domain of public URLs (custom domain), e.g. tunnel.example.com
    websocketDomainName?: string; // the agents' endpoint host (default ws.<domainName>)
    enableCustomDomain: boolean;
    enableSubdomainRouting: boolean; // as configured (only effective with a custom domain)
    subdomainRouting: boolean; // effective: enableCustomDomain && enableSubdomainRouting
    certificateArn?: string; // ACM certificate (same region) for domain, *.domain and the ws domain
    hostedZoneId?: string; // Route 53 zone: records (and the certificate's validation) go there
    lambdaArchitecture: Architecture;
    lambdaMemorySize: number; // MB
    lambdaTimeout: number; // seconds
    logRetentionDays: number;
    enableMonitoring: boolean; // dashboard, alarms, SNS topic
    alertEmail?: string; // SNS email subscription and budget notifications
    monthlyBudget: number; // USD; 0 = no budget
    requireAuth: boolean;
    rateLimitPerSecond: number; // HTTP API stage throttling (steady rate)
    rateLimitBurst: number; // HTTP API stage throttling (bucket size)
    websocketConcurrency: number; // reserved concurrency of the WebSocket function (-1: unreserved)
    httpConcurrency: number; // reserved concurrency of the HTTP function (-1: unreserved)
    jwtSecret?: pulumi.Output<string>; // secret: HS256 key for agent tokens
    jwks?: pulumi.Output<string>; // secret: JWKS document (RS256/ES256 public keys)
    lambdaZip: string; // path of the bootstrap zip for the architecture
}

/** CloudWatch Logs' allowed retention values (PutRetentionPolicy), 0 = never expire. */
export const LOG_RETENTION_DAYS = [
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Where `make lambda` leaves the zips; LAMBDA_ZIP_DIR overrides (the Makefile passes $(BUILD)/lambda). */
export function lambdaZipPath(arch: Architecture): string {
    const dir = process.env.LAMBDA_ZIP_DIR || path.join(__dirname, "..", "..", "build", "lambda");
    return path.resolve(dir, arch === "arm64" ? "bootstrap-arm64.zip" : "bootstrap.zip");
}

function fail(msg: string): never {
    throw new Error(`http-tunnel config: ${msg}`);
}

function intIn(cfg: pulumi.Config, key: string, dflt: number, lo: number, hi: number): number {
    const v = cfg.getNumber(key) ?? dflt;
    if (!Number.isInteger(v) || v < lo || v > hi) fail(`${key} must be an integer in ${lo}..${hi} (got ${v})`);
    return v;
}

function concurrency(cfg: pulumi.Config, key: string, dflt: number): number {
    const v = cfg.getNumber(key) ?? dflt;
    if (!Number.isInteger(v) || (v !== -1 && v < 1)) {
        fail(`${key} must be -1 (unreserved) or at least 1 (got ${v}); 0 would throttle every invocation`);
    }
    return v;
}

/** The agent keeps at most this many answers in flight per connection (ttf's window of
 * unacknowledged messages, docs/protocol.md §2): one large answer keeps that many $default
 * invocations of the WebSocket function busy at once. */
export const AGENT_MESSAGES_IN_FLIGHT = 8;
/** The default reserved concurrency of the WebSocket function: 4 agents sending large answers at
 * once (8 each), plus 8 for $connect, $disconnect, ready, pings and the cleanup. */
export const WEBSOCKET_CONCURRENCY_DEFAULT = 4 * AGENT_MESSAGES_IN_FLIGHT + 8;

function websocketConcurrency(cfg: pulumi.Config): number {
    const v = concurrency(cfg, "websocketConcurrency", WEBSOCKET_CONCURRENCY_DEFAULT);
    if (v !== -1 && v < AGENT_MESSAGES_IN_FLIGHT) {
        pulumi.log.warn(`websocketConcurrency ${v} is under ${AGENT_MESSAGES_IN_FLIGHT}, the answers one agent keeps ` +
            "in flight: every large answer will be throttled and sent again (slower, not lost). Reserve " +
            `${AGENT_MESSAGES_IN_FLIGHT} x the agents sending large answers at once (docs/serverless.md "Concurrency").`);
    }
    return v;
}

const HOST_RE = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Reads and checks the configuration; throws an Error naming the key on a bad value. */
export function readConfig(): TunnelConfig {
    const cfg = new pulumi.Config();
    const project = pulumi.getProject();
    const environment = cfg.get("environment") ?? "dev";
    if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(environment)) {
        fail(`environment must be 1-20 of [a-z0-9-] (it names resources and the WebSocket stage), got "${environment}"`);
    }
    const enableCustomDomain = cfg.getBoolean("enableCustomDomain") ?? false;
    const enableSubdomainRouting = cfg.getBoolean("enableSubdomainRouting") ?? true;
    const domainName = cfg.get("domainName")?.toLowerCase();
    let websocketDomainName = cfg.get("websocketDomainName")?.toLowerCase();
    const certificateArn = cfg.get("certificateArn");
    const hostedZoneId = cfg.get("hostedZoneId");
    if (enableCustomDomain) {
        if (!domainName) fail("enableCustomDomain needs domainName (e.g. tunnel.example.com)");
        if (!HOST_RE.test(domainName)) fail(`domainName "${domainName}" is not a host name`);
        websocketDomainName = websocketDomainName ?? `ws.${domainName}`;
        if (!HOST_RE.test(websocketDomainName)) fail(`websocketDomainName "${websocketDomainName}" is not a host name`);
        if (websocketDomainName === domainName) fail("websocketDomainName must differ from domainName");
        if (!certificateArn && !hostedZoneId) {
            fail("enableCustomDomain needs certificateArn (an ACM certificate in this region) or hostedZoneId " +
                "(a Route 53 zone where the program creates and validates one)");
        }
        if (certificateArn && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/.+$/.test(certificateArn)) {
            fail(`certificateArn "${certificateArn}" is not an ACM certificate ARN`);
        }
    } else if (enableSubdomainRouting && domainName) {
        pulumi.log.warn("enableSubdomainRouting needs enableCustomDomain (a wildcard domain): using path URLs");
    }
    const lambdaArchitecture = (cfg.get("lambdaArchitecture") ?? "arm64") as Architecture;
    if (lambdaArchitecture !== "arm64" && lambdaArchitecture !== "x86_64") {
        fail(`lambdaArchitecture must be arm64 or x86_64 (got "${lambdaArchitecture}")`);
    }
    const logRetentionDays = cfg.getNumber("logRetentionDays") ?? 14;
    if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
        fail(`logRetentionDays must be one of ${LOG_RETENTION_DAYS.join(", ")} (got ${logRetentionDays})`);
    }
    const monthlyBudget = cfg.getNumber("monthlyBudget") ?? 50;
    if (!(monthlyBudget >= 0)) fail(`monthlyBudget must be >= 0 USD (got ${monthlyBudget})`);
    const alertEmail = cfg.get("alertEmail");
    if (alertEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alertEmail)) {
        fail(`alertEmail "${alertEmail}" is not an e-mail address`);
    }
    const requireAuth = cfg.getBoolean("requireAuth") ?? true;
    const jwtSecret = cfg.getSecret("jwtSecret");
    const jwks = cfg.getSecret("jwks");
    if (requireAuth && !jwtSecret && !jwks) {
        fail("requireAuth is true (the default) but neither jwtSecret nor jwks is set: every agent would be refused. " +
            "Run `pulumi config set --secret jwtSecret \"$(openssl rand -hex 32)\"`, or set requireAuth false " +
            "(anyone could then open tunnels on your account)");
    }
    const lambdaZip = lambdaZipPath(lambdaArchitecture);
    if (!fs.existsSync(lambdaZip)) {
        fail(`${lambdaZip} is missing: run \`make lambda${lambdaArchitecture === "arm64" ? " ARCH=arm64" : ""}\` first`);
    }
    return {
        project,
        environment,
        domainName: enableCustomDomain ? domainName : undefined,
        websocketDomainName: enableCustomDomain ? websocketDomainName : undefined,
        enableCustomDomain,
        enableSubdomainRouting,
        subdomainRouting: enableCustomDomain && enableSubdomainRouting,
        certificateArn,
        hostedZoneId,
        lambdaArchitecture,
        // Lambda's limits: 128-10240 MB, 1-900 s; the HTTP function waits up to 28 s for an answer.
        lambdaMemorySize: intIn(cfg, "lambdaMemorySize", 256, 128, 10240),
        lambdaTimeout: intIn(cfg, "lambdaTimeout", 30, 30, 900),
        logRetentionDays,
        enableMonitoring: cfg.getBoolean("enableMonitoring") ?? true,
        alertEmail,
        monthlyBudget,
        requireAuth,
        rateLimitPerSecond: intIn(cfg, "rateLimitPerSecond", 50, 1, 10000),
        rateLimitBurst: intIn(cfg, "rateLimitBurst", 100, 1, 5000),
        websocketConcurrency: websocketConcurrency(cfg),
        httpConcurrency: concurrency(cfg, "httpConcurrency", 50),
        jwtSecret,
        jwks,
        lambdaZip,
    };
}
