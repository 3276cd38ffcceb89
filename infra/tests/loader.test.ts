// SPDX-License-Identifier: MIT
// The Pulumi CLI loads index.ts through its vendored ts-node and the project's TypeScript, not
// through tsc: the program must load and run that way too (tests/pulumi-loader.js does what
// @pulumi/pulumi/cmd/run/run.js does, under mocks).
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { test } from "node:test";
import { fakeZipDir } from "./harness";

test("index.ts runs under Pulumi's TypeScript loader", () => {
    const infra = process.cwd(); // CTest runs the tests from infra/
    const r = spawnSync(process.execPath, [path.join(infra, "tests", "pulumi-loader.js")], {
        cwd: infra, encoding: "utf8", timeout: 240000,
        env: { ...process.env, LAMBDA_ZIP_DIR: fakeZipDir(["bootstrap-arm64.zip"]) },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    assert.match(out.tsnode, /vendor[/\\]ts-node@/, "the loader Pulumi falls back to when the project has no ts-node");
    assert.equal(out.ttfCommand, "ttf --endpoint wss://websocket-api.x/dev --port 3000");
    assert.equal(out.resources, 42);
});
