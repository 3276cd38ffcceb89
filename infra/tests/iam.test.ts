// SPDX-License-Identifier: MIT
// The Lambda's IAM policy allows exactly the AWS actions the Lambda was served during the
// serverless end-to-end suite (tests/aws; the stand-in logs each distinct {action, resource} to
// AWS_STANDIN_ACTIONS_DIR): every one of them, on its resource, and nothing else - no other action,
// no other table, index, stream, API, stage, @connections method or log group.
// Resources are compared by kind: a connection id or a log stream name is not known in advance, so
// the policy names "any connection of this API, stage and method" and "any stream of this group".
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { before, test } from "node:test";
import { ACCOUNT, REGION, Recorded, one, runProgram } from "./harness";

const ENV = "test"; // the stand-in names its tables for environment "test", as infra/ would
const actionsDir = process.env.AWS_STANDIN_ACTIONS_DIR;
const lambdaDir = process.env.LAMBDA_SOURCE_DIR ?? path.resolve(process.cwd(), "..", "lambda");

interface Statement { Sid: string; Effect: string; Action: string[]; Resource: string[]; [k: string]: unknown }
let rs: Recorded[];
let statements: Statement[];
let observed: { action: string; resource: string }[];
let wsExec: string;
let httpExec: string;
let functions: string[];
let tables: string[];

function readObserved() {
    assert.ok(actionsDir, "AWS_STANDIN_ACTIONS_DIR is not set (CTest sets it; run through ctest)");
    assert.ok(fs.existsSync(actionsDir), `${actionsDir} does not exist: the serverless end-to-end tests did not run`);
    const lines = fs.readdirSync(actionsDir).filter((f) => f.endsWith(".jsonl"))
        .flatMap((f) => fs.readFileSync(path.join(actionsDir, f), "utf8").split("\n").filter(Boolean));
    assert.ok(lines.length > 0, `no action was recorded in ${actionsDir}`);
    return lines.map((l) => JSON.parse(l) as { action: string; resource: string });
}

before(async () => {
    observed = readObserved();
    ({ resources: rs } = await runProgram({ environment: ENV, requireAuth: "false" }));
    statements = JSON.parse(one(rs, "aws:iam/rolePolicy:RolePolicy", "lambda-policy").inputs.policy).Statement;
    wsExec = `arn:aws:execute-api:${REGION}:${ACCOUNT}:wsapi00001`;
    httpExec = `arn:aws:execute-api:${REGION}:${ACCOUNT}:httpapi001`;
    functions = rs.filter((r) => r.type === "aws:lambda/function:Function").map((r) => r.inputs.name);
    tables = rs.filter((r) => r.type === "aws:dynamodb/table:Table").map((r) => r.inputs.name);
});

// IAM's matching: * any run of characters, ? one; actions case-insensitive.
function globMatch(pattern: string, s: string, ignoreCase: boolean): boolean {
    const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${re}$`, ignoreCase ? "i" : "").test(s);
}
function allowed(action: string, resource: string): boolean {
    return statements.some((st) => st.Action.some((a) => globMatch(a, action, true)) &&
        st.Resource.some((r) => globMatch(r, resource, false)));
}

/** Observed resource (the stand-in's account, API id, stage, function) -> the deployed ones; and
 * its kind (ids and stream names replaced by "*"). */
function deployed(o: { action: string; resource: string }): { action: string; resource: string; kind: string }[] {
    let m = /^arn:aws:dynamodb:[^:]+:\d{12}:table\/([^/]+)(\/index\/[^/]+)?$/.exec(o.resource);
    if (m) {
        assert.ok(tables.includes(m[1]), `the Lambda used table ${m[1]}, which infra/ does not deploy`);
        const r = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${m[1]}${m[2] ?? ""}`;
        return [{ action: o.action, resource: r, kind: r }];
    }
    m = /^arn:aws:execute-api:[^:]+:\d{12}:[^/]+\/[^/]+\/(POST|GET|DELETE)\/@connections\/(.+)$/.exec(o.resource);
    if (m) {
        return [{ action: o.action, resource: `${wsExec}/${ENV}/${m[1]}/@connections/${m[2]}`,
            kind: `${wsExec}/${ENV}/${m[1]}/@connections/*` }];
    }
    m = /^arn:aws:logs:[^:]+:\d{12}:log-group:\/aws\/lambda\/[^:]+:log-stream:(.+)$/.exec(o.resource);
    if (m) {
        // the stand-in's one function plays both of ours: each writes its own group the same way
        return functions.map((f) => {
            const group = `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${f}`;
            return { action: o.action, resource: `${group}:log-stream:${m![1]}`, kind: `${group}:log-stream:*` };
        });
    }
    throw new Error(`unrecognised resource in the action log: ${o.resource}`);
}

// A concrete resource standing for a kind (a fresh connection id / stream name).
const probe = (kind: string) => kind.replace(/\*$/, "probe-4f2a");

test("the policy uses only Allow statements with actions and resources (what the checker models)", () => {
    for (const st of statements) {
        assert.deepEqual(Object.keys(st).sort(), ["Action", "Effect", "Resource", "Sid"], st.Sid);
        assert.equal(st.Effect, "Allow");
        for (const a of st.Action) assert.doesNotMatch(a, /\*/, `${st.Sid}: wildcard action ${a}`);
    }
});

test("every action the Lambda was served is allowed on its resource (no fewer)", () => {
    const denied = observed.flatMap(deployed).filter((o) => !allowed(o.action, o.resource));
    assert.deepEqual(denied, []);
});

test("nothing else is allowed (no more)", () => {
    const seen = observed.flatMap(deployed);
    const kinds = [...new Set(seen.map((o) => o.kind))];
    const expected = new Set(seen.map((o) => `${o.action} ${probe(o.kind)}`));
    const conn = tables.find((t) => t.includes("connections"))!;
    const pend = tables.find((t) => t.includes("pending"))!;
    const table = (t: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${t}`;
    const group = (g: string) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${g}`;
    const foreign = [
        "*",
        table("http-tunnel-other-test"), `${table(conn)}/index/other-index`, `${table(pend)}/index/tunnel-id-index`,
        `${table(conn)}/stream/2026-01-01T00:00:00.000`, `${table(pend)}/backup/01234567890123-abcdefgh`,
        `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/*`,
        `${wsExec}/${ENV}/DELETE/@connections/probe-4f2a`, `${wsExec}/prod/POST/@connections/probe-4f2a`,
        `arn:aws:execute-api:${REGION}:${ACCOUNT}:otherapi01/${ENV}/POST/@connections/probe-4f2a`,
        `${wsExec}/${ENV}/$connect`, `${httpExec}/$default/GET/`, `${httpExec}/$default/POST/@connections/probe-4f2a`,
        group("/aws/lambda/someone-else"), `${group("/aws/lambda/someone-else")}:log-stream:probe-4f2a`,
        group(`/aws/apigateway/http-tunnel-http-${ENV}`), `${group(`/aws/apigateway/http-tunnel-http-${ENV}`)}:log-stream:x`,
        ...functions.map((f) => group(`/aws/lambda/${f}`)),
        `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functions[0]}`, `arn:aws:iam::${ACCOUNT}:role/http-tunnel-lambda-${ENV}`,
    ];
    const resources = [...kinds.map(probe), ...foreign];
    const actions = [...new Set([...seen.map((o) => o.action), ...UNIVERSE_ACTIONS])];
    const got = new Set<string>();
    for (const a of actions) for (const r of resources) if (allowed(a, r)) got.add(`${a} ${r}`);
    assert.deepEqual([...got].sort(), [...expected].sort());
});

test("every statement is used: each action on each resource pattern was served at least once", () => {
    const seen = observed.flatMap(deployed);
    for (const st of statements) {
        for (const a of st.Action) {
            for (const r of st.Resource) {
                assert.ok(seen.some((o) => globMatch(a, o.action, true) && globMatch(r, o.resource, false)),
                    `${st.Sid}: ${a} on ${r} was never used by the Lambda in the end-to-end suite`);
            }
        }
    }
});

test("the end-to-end suite exercised every DynamoDB operation and @connections method the C code has", () => {
    const src = fs.readdirSync(lambdaDir).filter((f) => f.endsWith(".c"))
        .map((f) => [f, fs.readFileSync(path.join(lambdaDir, f), "utf8")] as const);
    const ops = new Set<string>();
    for (const [, text] of src) {
        for (const m of text.matchAll(/\b(?:store_run|run|ddb_call)\(\s*s(?:->db)?\s*,\s*"([A-Za-z]+)"/g)) {
            // a transaction is authorized as the item operations it holds (logged as those)
            if (!m[1].startsWith("Transact")) ops.add(m[1]);
        }
    }
    const methods = new Set<string>();
    for (const [f, text] of src) {
        if (f === "apigw_mgmt.c") continue; // the definitions; callers are elsewhere
        for (const m of text.matchAll(/\bmgmt_(post|get|delete)\(/g)) methods.add(m[1].toUpperCase());
    }
    assert.ok(ops.size >= 5, `found only ${[...ops]} in ${lambdaDir}: the source scan is broken`);
    const servedOps = new Set(observed.filter((o) => o.action.startsWith("dynamodb:")).map((o) => o.action.slice(9)));
    assert.deepEqual([...servedOps].sort(), [...ops].sort());
    const servedMethods = new Set(observed.filter((o) => o.action === "execute-api:ManageConnections")
        .map((o) => /\/(POST|GET|DELETE)\/@connections\//.exec(o.resource)![1]));
    assert.deepEqual([...servedMethods].sort(), [...methods].sort());
});

// Actions a too-broad policy would allow (DynamoDB's, API Gateway's, CloudWatch Logs' and a few others
// a Lambda role is often given); from the Service Authorization Reference.
const UNIVERSE_ACTIONS = [
    ...["BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "CreateBackup", "CreateGlobalTable", "CreateTable",
        "CreateTableReplica", "DeleteBackup", "DeleteItem", "DeleteTable", "DeleteTableReplica", "DescribeBackup",
        "DescribeContinuousBackups", "DescribeStream", "DescribeTable", "DescribeTimeToLive", "ExportTableToPointInTime",
        "GetItem", "GetRecords", "GetShardIterator", "ImportTable", "ListBackups", "ListStreams", "ListTables",
        "ListTagsOfResource", "PartiQLDelete", "PartiQLInsert", "PartiQLSelect", "PartiQLUpdate", "PutItem",
        "PutResourcePolicy", "Query", "RestoreTableFromBackup", "Scan", "TagResource", "UntagResource",
        "UpdateContinuousBackups", "UpdateItem", "UpdateTable", "UpdateTimeToLive"].map((a) => `dynamodb:${a}`),
    "execute-api:Invoke", "execute-api:ManageConnections", "execute-api:InvalidateCache",
    ...["CreateLogGroup", "CreateLogStream", "PutLogEvents", "DeleteLogGroup", "DeleteLogStream", "DescribeLogGroups",
        "DescribeLogStreams", "GetLogEvents", "FilterLogEvents", "PutRetentionPolicy", "PutSubscriptionFilter",
        "TagResource"].map((a) => `logs:${a}`),
    "lambda:InvokeFunction", "iam:PassRole", "sts:AssumeRole", "sns:Publish", "events:PutEvents", "s3:GetObject",
];
