// SPDX-License-Identifier: MIT
// `make deploy-infra | preview-infra | destroy-infra` (scripts/infra.sh) with a fake `pulumi` on
// PATH: the clear message when the CLI, credentials, a login or a region are missing, and the
// exact pulumi commands otherwise.
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { test } from "node:test";

const root = path.resolve(process.cwd(), ".."); // CTest runs the tests from infra/
const BASE_PATH = "/usr/local/bin:/usr/bin:/bin";

function sandbox(opts: { pulumi?: boolean; loggedIn?: boolean; region?: boolean }) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "infra-cli-"));
    const bin = path.join(dir, "bin");
    const home = path.join(dir, "home");
    fs.mkdirSync(bin);
    fs.mkdirSync(home);
    const calls = path.join(dir, "calls");
    if (opts.pulumi) {
        // records each call as one line: args and LAMBDA_ZIP_DIR
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh
echo "$* | LAMBDA_ZIP_DIR=$LAMBDA_ZIP_DIR" >> ${calls}
case "$1" in
  whoami) ${opts.loggedIn ? "echo me; exit 0" : "echo 'error: not logged in' >&2; exit 1"} ;;
  config) ${opts.region ? "echo us-east-1; exit 0" : "exit 1"} ;;
esac
exit 0
`, { mode: 0o755 });
    }
    return { dir, bin, home, calls };
}

function run(args: string[], sb: ReturnType<typeof sandbox>, env: Record<string, string> = {}) {
    const r = spawnSync("make", ["--no-print-directory", "-C", root, ...args], {
        encoding: "utf8",
        env: { PATH: `${sb.bin}:${BASE_PATH}`, HOME: sb.home, ...env },
    });
    const calls = fs.existsSync(sb.calls) ? fs.readFileSync(sb.calls, "utf8").trim().split("\n") : [];
    return { status: r.status, stderr: r.stderr, calls };
}

const creds = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" };

test("no Pulumi CLI: says how to install it and log in", () => {
    const r = run(["preview-infra"], sandbox({}), creds);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /the Pulumi CLI is not installed/);
    assert.match(r.stderr, /pulumi login --local/);
});

test("no AWS credentials: says how to provide them, pulumi is never run", () => {
    const sb = sandbox({ pulumi: true, loggedIn: true, region: true });
    const r = run(["deploy-infra"], sb);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no AWS credentials found/);
    assert.match(r.stderr, /aws configure/);
    assert.deepEqual(r.calls, []);
});

test("credentials from ~/.aws/credentials count", () => {
    const sb = sandbox({ pulumi: true, loggedIn: true, region: true });
    fs.mkdirSync(path.join(sb.home, ".aws"));
    fs.writeFileSync(path.join(sb.home, ".aws", "credentials"), "[default]\naws_access_key_id = AKIA\n");
    const r = run(["preview-infra"], sb);
    assert.equal(r.status, 0, r.stderr);
});

test("not logged in: says pulumi login", () => {
    const r = run(["deploy-infra"], sandbox({ pulumi: true, loggedIn: false, region: true }), creds);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not logged in.*\n.*pulumi login --local/);
});

test("no region: says pulumi config set aws:region", () => {
    const r = run(["deploy-infra"], sandbox({ pulumi: true, loggedIn: true, region: false }), creds);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /pulumi config set aws:region/);
});

for (const [target, op] of [["deploy-infra", "up"], ["preview-infra", "preview"], ["destroy-infra", "destroy"]]) {
    test(`make ${target}: pulumi ${op} on the stack, with the zip directory of the build`, () => {
        const sb = sandbox({ pulumi: true, loggedIn: true, region: false });
        const r = run([target, "STACK=prod", "PULUMI_ARGS=--yes --skip-preview"], sb,
            { ...creds, AWS_REGION: "eu-west-1" });
        assert.equal(r.status, 0, r.stderr);
        const zips = path.join(root, "build", "lambda");
        assert.deepEqual(r.calls, [
            `whoami | LAMBDA_ZIP_DIR=${zips}`,
            `stack select --create prod | LAMBDA_ZIP_DIR=${zips}`,
            `${op} --stack prod --yes --skip-preview | LAMBDA_ZIP_DIR=${zips}`,
        ]);
    });
}
