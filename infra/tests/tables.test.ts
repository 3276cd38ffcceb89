// SPDX-License-Identifier: MIT
// tables.json is the one definition of the tables: the stand-in reads it (checked here through
// its own module), and its names are the ones the Lambda's C code uses.
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { test } from "node:test";
import { loadTableSpecs } from "../src/tables";

const INFRA = path.resolve(__dirname, "..", "..", "..", "infra");
const REPO = path.resolve(INFRA, "..");
// compiled tests run from OUT_DIR/tests: find the source tree from the working directory (infra/)
const root = fs.existsSync(path.join(process.cwd(), "tables.json")) ? path.resolve(process.cwd(), "..") : REPO;
const specs = loadTableSpecs();

test("the stand-in creates exactly the tables of tables.json", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const standin = require(path.join(root, "tests", "aws", "standin", "tables.js"));
    const names: Record<string, string> = standin.tableNames("test");
    assert.deepEqual({ ...names }, { connections: "http-tunnel-connections-test", pending: "http-tunnel-pending-requests-test" });
    const defs = standin.tableDefs(names);
    assert.deepEqual(defs.map((d: any) => d.create), Object.entries(specs).map(([k, s]) =>
        ({ TableName: names[k], ...s.createTable })));
    assert.deepEqual(defs.map((d: any) => d.ttl), Object.values(specs).map((s) => s.timeToLive));
    assert.deepEqual(standin.tableEnv(names), { CONNECTIONS_TABLE_NAME: names.connections,
        PENDING_REQUESTS_TABLE_NAME: names.pending });
});

test("the Lambda's C code uses these environment variables, keys, index and TTL attribute", () => {
    const src = (f: string) => fs.readFileSync(path.join(root, "lambda", f), "utf8");
    const config = src("config.c");
    const store = src("store.c") + src("cleanup.c");
    for (const s of Object.values(specs)) {
        assert.ok(config.includes(`"${s.environmentVariable}"`), `lambda/config.c reads ${s.environmentVariable}`);
        const hash = s.createTable.KeySchema.find((k) => k.KeyType === "HASH")!.AttributeName;
        assert.ok(store.includes(`"${hash}"`), `lambda/store.c keys items by ${hash}`);
        assert.ok(store.includes(`"${s.timeToLive.AttributeName}"`), `lambda/store.c writes ${s.timeToLive.AttributeName}`);
        for (const g of s.createTable.GlobalSecondaryIndexes ?? []) {
            assert.ok(store.includes(`"${g.IndexName}"`), `lambda/store.c queries ${g.IndexName}`);
            for (const k of g.KeySchema) assert.ok(store.includes(`"${k.AttributeName}"`));
        }
    }
});

test("tables.json is checked: a bad entry is refused", () => {
    const bad = JSON.parse(JSON.stringify({ tables: specs }));
    bad.tables.connections.indexActions = { "no-such-index": ["dynamodb:Query"] };
    assert.throws(() => loadTableSpecs(bad), /connections: no index no-such-index/);
    const bad2 = JSON.parse(JSON.stringify({ tables: specs }));
    bad2.tables.pending.lambdaActions = ["dynamodb:*"];
    assert.throws(() => loadTableSpecs(bad2), /"dynamodb:\*" is not a DynamoDB action/);
});
