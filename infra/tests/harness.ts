// SPDX-License-Identifier: MIT
// harness.ts - runs the Pulumi program (index.ts) under pulumi.runtime.setMocks with a given
// configuration and records every resource it registers, with the state AWS would give back
// (ARNs, endpoints, ids) in the shapes AWS documents. One program run per process: node --test
// runs each *.test.js file in its own process.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

export const REGION = "us-east-1";
export const ACCOUNT = "123456789012";
export const PROJECT = "http-tunnel";

export interface Recorded {
    type: string; // e.g. "aws:lambda/function:Function"
    name: string; // the Pulumi resource name
    inputs: any; // secrets unwrapped
    state: any;
    secretPaths: string[]; // where the inputs held secrets ("environment", ...)
}

// How the SDK marks a secret value it hands to the mocks: {<SIG>: SECRET_SIG, value: v}.
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isSecret = (v: any) => v !== null && typeof v === "object" && v[SIG] === SECRET_SIG;

function unwrapSecrets(v: any): any {
    if (isSecret(v)) return unwrapSecrets(v.value);
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (v !== null && typeof v === "object" && !(v instanceof Promise) && Object.getPrototypeOf(v) === Object.prototype) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

function secretPaths(v: any, at = ""): string[] {
    if (isSecret(v)) return [at || "."];
    if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
        return Object.entries(v).flatMap(([k, x]) => secretPaths(x, at ? `${at}.${k}` : k));
    }
    return [];
}

/** A directory holding empty stand-ins for the two zips (the program checks that the zip exists). */
export function fakeZipDir(which: ("bootstrap.zip" | "bootstrap-arm64.zip")[] = ["bootstrap.zip", "bootstrap-arm64.zip"]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "infra-zips-"));
    for (const f of which) fs.writeFileSync(path.join(dir, f), "");
    return dir;
}

function apiId(name: string) {
    return name === "websocket-api" ? "wsapi00001" : name === "http-api" ? "httpapi001" : `${name}-id`;
}

function computed(type: string, name: string, inputs: any): Record<string, unknown> {
    const arnBase = (svc: string) => `arn:aws:${svc}:${REGION}:${ACCOUNT}`;
    switch (type) {
    case "aws:dynamodb/table:Table":
        return { arn: `${arnBase("dynamodb")}:table/${inputs.name}` };
    case "aws:apigatewayv2/api:Api": {
        const id = apiId(name);
        const scheme = inputs.protocolType === "WEBSOCKET" ? "wss" : "https";
        return { id, apiEndpoint: `${scheme}://${id}.execute-api.${REGION}.amazonaws.com`,
            executionArn: `${arnBase("execute-api")}:${id}` };
    }
    case "aws:lambda/function:Function": {
        const arn = `${arnBase("lambda")}:function:${inputs.name}`;
        return { arn, invokeArn: `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${arn}/invocations` };
    }
    case "aws:cloudwatch/logGroup:LogGroup":
        return { arn: `${arnBase("logs")}:log-group:${inputs.name}` };
    case "aws:iam/role:Role":
        return { arn: `arn:aws:iam::${ACCOUNT}:role/${inputs.name}` };
    case "aws:cloudwatch/eventRule:EventRule":
        return { arn: `${arnBase("events")}:rule/${inputs.name}` };
    case "aws:sns/topic:Topic":
        return { arn: `${arnBase("sns")}:${inputs.name}` };
    case "aws:apigatewayv2/stage:Stage":
        return { id: inputs.name };
    case "aws:apigatewayv2/integration:Integration":
    case "aws:apigatewayv2/route:Route":
        return { id: `${name}-id` };
    case "aws:apigatewayv2/domainName:DomainName":
        return { domainNameConfiguration: { ...inputs.domainNameConfiguration,
            targetDomainName: `d-${name}.execute-api.${REGION}.amazonaws.com`, hostedZoneId: "Z1UJRXOUMOOFQ8" } };
    case "aws:acm/certificate:Certificate": {
        const names = [inputs.domainName, ...(inputs.subjectAlternativeNames ?? [])];
        return { arn: `${arnBase("acm")}:certificate/mock-cert`, domainValidationOptions: names.map((n: string) => ({
            domainName: n, resourceRecordName: `_v.${n.replace(/^\*\./, "")}.`, resourceRecordType: "CNAME",
            resourceRecordValue: `_x.acm-validations.aws.` })) };
    }
    case "aws:acm/certificateValidation:CertificateValidation":
        return { certificateArn: inputs.certificateArn };
    case "aws:route53/record:Record":
        return { fqdn: String(inputs.name).replace(/\.$/, "") };
    default:
        return {};
    }
}

/** Runs index.ts with `config` (keys without the project prefix; values as `pulumi config set`
 * would store them) and returns the recorded resources and the resolved stack outputs. */
export async function runProgram(config: Record<string, string>, opts: { zipDir?: string; secrets?: string[] } = {}) {
    process.env.LAMBDA_ZIP_DIR = opts.zipDir ?? fakeZipDir();
    const resources: Recorded[] = [];
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, v])),
        (opts.secrets ?? []).map((k) => `${PROJECT}:${k}`));
    await pulumi.runtime.setMocks({
        newResource(args: pulumi.runtime.MockResourceArgs) {
            const c = computed(args.type, args.name, unwrapSecrets(args.inputs));
            const id = (c.id as string | undefined) ?? `${args.name}-id`;
            const state = { ...args.inputs, ...c };
            resources.push({ type: args.type, name: args.name, inputs: unwrapSecrets(args.inputs), state,
                secretPaths: secretPaths(args.inputs) });
            return { id, state };
        },
        call(args: pulumi.runtime.MockCallArgs) {
            if (args.token === "aws:index/getRegion:getRegion") return { region: REGION, name: REGION, id: REGION };
            throw new Error(`unexpected invoke ${args.token}`);
        },
    }, PROJECT, "dev", false);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require("../index");
    const outputs: Record<string, any> = {};
    for (const [k, v] of Object.entries(program)) outputs[k] = await resolve(v);
    await settle();
    return { resources, outputs };
}

/** The value of an Output (or a plain value). */
export function resolve<T>(v: pulumi.Input<T> | undefined): Promise<T | undefined> {
    if (v === undefined) return Promise.resolve(undefined);
    return new Promise((res) => pulumi.output(v).apply((x) => { res(x as T); return x; }));
}

/** Waits for every outstanding registration (resources whose inputs were still resolving). */
async function settle() {
    await pulumi.runtime.disconnect();
}

export const byType = (rs: Recorded[], type: string) => rs.filter((r) => r.type === type);
export function one(rs: Recorded[], type: string, name: string): Recorded {
    const found = rs.filter((r) => r.type === type && r.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
    return found[0];
}

/** The type -> count table of a run (every resource the program made). */
export function census(rs: Recorded[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of rs) out[r.type] = (out[r.type] ?? 0) + 1;
    return out;
}
