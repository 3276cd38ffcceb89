// SPDX-License-Identifier: MIT
// iam.ts - the Lambda's execution role: exactly the calls the bootstrap makes (lambda/store.c,
// lambda/apigw_mgmt.c) plus what the Lambda service does with the role for the function's logs.
// tests/infra/iam.test.ts checks the document against every call of the end-to-end suite.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DeployedTable } from "./tables";

/** The @connections methods the Lambda uses: POST (send a message), GET (is the agent connected?),
 * DELETE (close an agent's connection after refusing its tunnel name: lambda/ws_handlers.c). */
export const MANAGE_CONNECTIONS_METHODS = ["POST", "GET", "DELETE"];

/** What Lambda does with the role for a function's logs (the group itself is created by Pulumi). */
export const LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"];

export interface PolicyStatement {
    Sid: string;
    Effect: "Allow";
    Action: string[];
    Resource: string[];
}

export interface PolicyDocument {
    Version: "2012-10-17";
    Statement: PolicyStatement[];
}

const sidPart = (s: string) => s.replace(/(^|[^A-Za-z0-9])([a-z0-9])/g, (_m, _p, c: string) => c.toUpperCase())
    .replace(/[^A-Za-z0-9]/g, "");

/** The policy document, built once every ARN is known.
 * wsExecutionArn: arn:aws:execute-api:REGION:ACCOUNT:API_ID; logGroupArns without the ":*" suffix. */
export function lambdaPolicy(tables: DeployedTable[], wsExecutionArn: pulumi.Input<string>, wsStage: string,
    logGroupArns: pulumi.Input<string>[]): pulumi.Output<PolicyDocument> {
    const tableArns = pulumi.all(tables.map((t) => t.table.arn));
    return pulumi.all([tableArns, wsExecutionArn, pulumi.all(logGroupArns)]).apply(([arns, wsArn, logArns]) => {
        const statements: PolicyStatement[] = [];
        tables.forEach((t, i) => {
            statements.push({
                Sid: `DynamoDb${sidPart(t.key)}Table`,
                Effect: "Allow",
                Action: [...t.spec.lambdaActions].sort(),
                Resource: [arns[i]],
            });
            for (const [index, actions] of Object.entries(t.spec.indexActions)) {
                statements.push({
                    Sid: `DynamoDb${sidPart(t.key)}Index${sidPart(index)}`,
                    Effect: "Allow",
                    Action: [...actions].sort(),
                    Resource: [`${arns[i]}/index/${index}`],
                });
            }
        });
        statements.push({
            Sid: "WebSocketManageConnections",
            Effect: "Allow",
            Action: ["execute-api:ManageConnections"],
            Resource: MANAGE_CONNECTIONS_METHODS.map((m) => `${wsArn}/${wsStage}/${m}/@connections/*`),
        });
        statements.push({
            Sid: "FunctionLogs",
            Effect: "Allow",
            Action: [...LOG_ACTIONS],
            Resource: logArns.map((a) => `${a}:*`),
        });
        return { Version: "2012-10-17" as const, Statement: statements };
    });
}

export function lambdaRole(name: string, tags: Record<string, string>): aws.iam.Role {
    return new aws.iam.Role("lambda-role", {
        name,
        description: "http-tunnel Lambda (bootstrap): its two tables, @connections of its WebSocket API, its logs",
        assumeRolePolicy: JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags,
    });
}

export function lambdaRolePolicy(role: aws.iam.Role, name: string,
    doc: pulumi.Output<PolicyDocument>): aws.iam.RolePolicy {
    return new aws.iam.RolePolicy("lambda-policy", {
        name,
        role: role.id,
        policy: doc.apply((d) => JSON.stringify(d)),
    });
}
