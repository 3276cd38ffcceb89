// SPDX-License-Identifier: MIT
// Configuration checks: each bad value is refused with a message naming the key, before any
// resource is made; defaults as documented.
import assert from "node:assert/strict";
import * as path from "path";
import { test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { AGENT_MESSAGES_IN_FLIGHT, readConfig } from "../src/config";
import { maxWaitingPerAgent, maxWaitingRequests } from "../src/lambda";
import { PROJECT, fakeZipDir } from "./harness";

const zips = fakeZipDir();

async function withConfig(cfg: Record<string, string>, zipDir = zips, secrets: string[] = []) {
    process.env.LAMBDA_ZIP_DIR = zipDir;
    await pulumi.runtime.setMocks({ newResource: () => { throw new Error("no resources here"); },
        call: () => ({}) }, PROJECT, "dev", false);
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(cfg).map(([k, v]) => [`${PROJECT}:${k}`, v])),
        secrets.map((k) => `${PROJECT}:${k}`));
    return readConfig();
}

test("defaults", async () => {
    const c = await withConfig({ jwtSecret: "x" }, zips, ["jwtSecret"]);
    assert.deepEqual([c.environment, c.enableCustomDomain, c.enableSubdomainRouting, c.subdomainRouting,
        c.lambdaArchitecture, c.lambdaMemorySize, c.lambdaTimeout, c.logRetentionDays, c.enableMonitoring,
        c.alertEmail, c.monthlyBudget, c.requireAuth, c.rateLimitPerSecond, c.rateLimitBurst,
        c.websocketConcurrency, c.httpConcurrency],
    ["dev", false, true, false, "arm64", 256, 30, 14, true, undefined, 50, true, 50, 100, 40, 50]);
    /* 8 x 4 agents sending large answers at once, + 8 for the other routes */
    assert.equal(c.websocketConcurrency, 4 * AGENT_MESSAGES_IN_FLIGHT + 8);
    assert.equal(c.lambdaZip, path.join(zips, "bootstrap-arm64.zip"));
    assert.equal(c.domainName, undefined);
});

const refusals: [string, Record<string, string>, RegExp][] = [
    ["auth without key material", {}, /requireAuth is true .* neither jwtSecret nor jwks/],
    ["architecture", { requireAuth: "false", lambdaArchitecture: "amd64" }, /lambdaArchitecture must be arm64 or x86_64/],
    ["memory", { requireAuth: "false", lambdaMemorySize: "64" }, /lambdaMemorySize must be an integer in 128\.\.10240/],
    ["timeout under the 29 s integration", { requireAuth: "false", lambdaTimeout: "20" }, /lambdaTimeout must be .* 30\.\.900/],
    ["retention", { requireAuth: "false", logRetentionDays: "10" }, /logRetentionDays must be one of/],
    ["concurrency 0", { requireAuth: "false", httpConcurrency: "0" }, /httpConcurrency must be -1 .* or at least 1/],
    ["burst", { requireAuth: "false", rateLimitBurst: "0" }, /rateLimitBurst must be an integer/],
    ["budget", { requireAuth: "false", monthlyBudget: "-1" }, /monthlyBudget must be >= 0/],
    ["e-mail", { requireAuth: "false", alertEmail: "ops" }, /alertEmail "ops" is not an e-mail address/],
    ["environment", { requireAuth: "false", environment: "Dev_1" }, /environment must be 1-20 of/],
    ["custom domain without domain", { requireAuth: "false", enableCustomDomain: "true" }, /needs domainName/],
    ["custom domain without certificate or zone", { requireAuth: "false", enableCustomDomain: "true",
        domainName: "t.example.com" }, /needs certificateArn .* or hostedZoneId/],
    ["bad certificate ARN", { requireAuth: "false", enableCustomDomain: "true", domainName: "t.example.com",
        certificateArn: "arn:aws:iam::1:role/x" }, /is not an ACM certificate ARN/],
    ["same ws and base domain", { requireAuth: "false", enableCustomDomain: "true", domainName: "t.example.com",
        websocketDomainName: "t.example.com", hostedZoneId: "Z" }, /websocketDomainName must differ/],
];
for (const [what, cfg, re] of refusals) {
    test(`refused: ${what}`, async () => {
        await assert.rejects(withConfig(cfg), (e: Error) => {
            assert.match(e.message, /^http-tunnel config: /);
            assert.match(e.message, re);
            return true;
        });
    });
}

test("a missing zip names the make command for the architecture", async () => {
    await assert.rejects(withConfig({ requireAuth: "false" }, fakeZipDir(["bootstrap.zip"])),
        /bootstrap-arm64\.zip is missing: run `make lambda ARCH=arm64` first/);
    await assert.rejects(withConfig({ requireAuth: "false", lambdaArchitecture: "x86_64" }, fakeZipDir([])),
        /bootstrap\.zip is missing: run `make lambda` first/);
});

test("MAX_WAITING_REQUESTS: the HTTP function's concurrency minus a tenth (at least 1) for fast 503s", () => {
    assert.deepEqual([50, 100, 15, 3, 2, 1, -1].map(maxWaitingRequests), [45, 90, 13, 2, 1, undefined, undefined]);
});

test("MAX_WAITING_PER_AGENT: half of MAX_WAITING_REQUESTS (at least 1), none without it", () => {
    assert.deepEqual([45, 90, 13, 2, 1, undefined].map(maxWaitingPerAgent), [22, 45, 6, 1, 1, undefined]);
});
