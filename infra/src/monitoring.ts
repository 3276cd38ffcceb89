// SPDX-License-Identifier: MIT
// monitoring.ts - the dashboard and alarms (enableMonitoring), their SNS topic (e-mail to
// alertEmail), and the monthly AWS Budgets cost budget (monthlyBudget > 0).
// Metric names and dimensions as AWS publishes them:
//   AWS/Lambda      Invocations, Errors, Throttles, Duration, ConcurrentExecutions  (FunctionName)
//   AWS/ApiGateway  HTTP APIs: Count, 4xx, 5xx, Latency, IntegrationLatency        (ApiId, Stage)
//   AWS/ApiGateway  WebSocket APIs: ConnectCount, MessageCount, IntegrationError,
//                   ClientError, ExecutionError, IntegrationLatency                  (ApiId, Stage)
//   AWS/DynamoDB    ConsumedReadCapacityUnits, ConsumedWriteCapacityUnits           (TableName)
// (docs.aws.amazon.com: lambda/latest/dg/monitoring-metrics-types.html, apigateway/latest/
// developerguide/http-api-metrics.html and apigateway-websocket-api-logging.html.)
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TunnelConfig } from "./config";
import { FunctionRole } from "./lambda";

export interface MonitoredStack {
    functions: { role: FunctionRole; fn: aws.lambda.Function }[];
    httpApiId: pulumi.Output<string>;
    wsApiId: pulumi.Output<string>;
    wsStage: string;
    tableNames: pulumi.Output<string>[];
}

const PERIOD = 300;

export interface AlarmSpec {
    key: string; // resource and alarm name part
    description: string;
    namespace: string;
    metricName: string;
    dimensions: Record<string, pulumi.Input<string>>;
    statistic?: string;
    extendedStatistic?: string;
    threshold: number;
}

/** The alarms, as data (tests read the same list). */
export function alarmSpecs(cfg: TunnelConfig, s: MonitoredStack): AlarmSpec[] {
    const specs: AlarmSpec[] = [];
    for (const { role, fn } of s.functions) {
        const dims = { FunctionName: fn.name };
        specs.push({ key: `${role}-errors`, namespace: "AWS/Lambda", metricName: "Errors", dimensions: dims,
            statistic: "Sum", threshold: 5,
            description: `${role} function: 5 or more invocations failed (crash, timeout, error response) in 5 minutes` });
        specs.push({ key: `${role}-throttles`, namespace: "AWS/Lambda", metricName: "Throttles", dimensions: dims,
            statistic: "Sum", threshold: 1,
            description: `${role} function: invocations throttled (reserved concurrency ${role === "websocket"
                ? cfg.websocketConcurrency : cfg.httpConcurrency} reached): requests failed` });
        specs.push({ key: `${role}-duration`, namespace: "AWS/Lambda", metricName: "Duration", dimensions: dims,
            extendedStatistic: "p99", threshold: Math.floor(cfg.lambdaTimeout * 1000 * 0.9),
            description: `${role} function: p99 duration within 10% of the ${cfg.lambdaTimeout} s timeout` });
    }
    const http = { ApiId: s.httpApiId, Stage: "$default" };
    specs.push({ key: "http-5xx", namespace: "AWS/ApiGateway", metricName: "5xx", dimensions: http,
        statistic: "Sum", threshold: 20,
        description: "HTTP API: 20 or more 5xx answers in 5 minutes (Lambda failures, agents gone, timeouts)" });
    specs.push({ key: "http-integration-latency", namespace: "AWS/ApiGateway", metricName: "IntegrationLatency",
        dimensions: http, extendedStatistic: "p99", threshold: 28000,
        description: "HTTP API: p99 integration latency at the 28 s wait limit (requests timing out)" });
    const ws = { ApiId: s.wsApiId, Stage: s.wsStage };
    specs.push({ key: "ws-integration-errors", namespace: "AWS/ApiGateway", metricName: "IntegrationError",
        dimensions: ws, statistic: "Sum", threshold: 5,
        description: "WebSocket API: 5 or more 4XX/5XX answers from the Lambda in 5 minutes" });
    specs.push({ key: "ws-execution-errors", namespace: "AWS/ApiGateway", metricName: "ExecutionError",
        dimensions: ws, statistic: "Sum", threshold: 1,
        description: "WebSocket API: errors calling the Lambda (throttled, missing permission)" });
    return specs;
}

function dashboardBody(region: string, cfg: TunnelConfig, fns: string[], httpApiId: string, wsApiId: string,
    tables: string[]): string {
    const widget = (title: string, metrics: unknown[][], x: number, y: number, stat = "Sum") => ({
        type: "metric", x, y, width: 12, height: 6,
        properties: { title, region, view: "timeSeries", stacked: false, period: PERIOD, stat, metrics },
    });
    const perFn = (name: string, extra: Record<string, string> = {}) =>
        fns.map((f) => ["AWS/Lambda", name, "FunctionName", f, extra]);
    const http = (name: string, extra: Record<string, string> = {}) =>
        ["AWS/ApiGateway", name, "ApiId", httpApiId, "Stage", "$default", extra];
    const ws = (name: string, extra: Record<string, string> = {}) =>
        ["AWS/ApiGateway", name, "ApiId", wsApiId, "Stage", cfg.environment, extra];
    return JSON.stringify({
        widgets: [
            widget("Lambda invocations, errors, throttles", [...perFn("Invocations"), ...perFn("Errors"),
                ...perFn("Throttles")], 0, 0),
            widget("Lambda duration p99 (ms) and concurrency", [...perFn("Duration", { stat: "p99" }),
                ...perFn("ConcurrentExecutions", { stat: "Maximum" })], 12, 0, "Average"),
            widget("HTTP API requests and errors", [http("Count"), http("4xx"), http("5xx")], 0, 6),
            widget("HTTP API latency p99 (ms)", [http("Latency", { stat: "p99" }),
                http("IntegrationLatency", { stat: "p99" })], 12, 6, "p99"),
            widget("WebSocket API", [ws("ConnectCount"), ws("MessageCount"), ws("IntegrationError"),
                ws("ClientError"), ws("ExecutionError")], 0, 12),
            widget("DynamoDB consumed capacity", tables.flatMap((t) => [
                ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", t, {}],
                ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", t, {}]]), 12, 12),
        ],
    });
}

export function monitoring(cfg: TunnelConfig, s: MonitoredStack, tags: Record<string, string>) {
    const name = (part: string) => `${cfg.project}-${part}-${cfg.environment}`;
    if (!cfg.enableMonitoring) return {};
    const topic = new aws.sns.Topic("alerts", { name: name("alerts"), tags });
    const subscription = cfg.alertEmail
        ? new aws.sns.TopicSubscription("alerts-email", { topic: topic.arn, protocol: "email", endpoint: cfg.alertEmail })
        : undefined;
    const alarms = alarmSpecs(cfg, s).map((a) => new aws.cloudwatch.MetricAlarm(`alarm-${a.key}`, {
        name: name(a.key),
        alarmDescription: a.description,
        namespace: a.namespace,
        metricName: a.metricName,
        dimensions: a.dimensions,
        statistic: a.statistic,
        extendedStatistic: a.extendedStatistic,
        period: PERIOD,
        evaluationPeriods: 1,
        threshold: a.threshold,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        tags,
    }));
    const region = aws.getRegionOutput().region;
    const dashboard = new aws.cloudwatch.Dashboard("dashboard", {
        dashboardName: name("dashboard"),
        dashboardBody: pulumi.all([region, pulumi.all(s.functions.map((f) => f.fn.name)), s.httpApiId, s.wsApiId,
            pulumi.all(s.tableNames)]).apply(([r, fns, h, w, t]) => dashboardBody(r, cfg, fns, h, w, t)),
    });
    return { topic, subscription, alarms, dashboard };
}

/** A monthly cost budget for the account (AWS Budgets cannot see one stack's costs without
 * cost-allocation tags activated by hand); e-mails alertEmail at 80 % and 100 % actual and 100 %
 * forecast. */
export function budget(cfg: TunnelConfig): aws.budgets.Budget | undefined {
    if (cfg.monthlyBudget <= 0) return undefined;
    const notify = (notificationType: string, threshold: number) => ({
        notificationType, threshold, thresholdType: "PERCENTAGE", comparisonOperator: "GREATER_THAN",
        subscriberEmailAddresses: [cfg.alertEmail as string],
    });
    return new aws.budgets.Budget("budget", {
        name: `${cfg.project}-${cfg.environment}-monthly`,
        budgetType: "COST",
        limitAmount: cfg.monthlyBudget.toFixed(2),
        limitUnit: "USD",
        timeUnit: "MONTHLY",
        notifications: cfg.alertEmail ? [notify("ACTUAL", 80), notify("ACTUAL", 100), notify("FORECASTED", 100)] : [],
    });
}
