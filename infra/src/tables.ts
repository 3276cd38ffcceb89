// SPDX-License-Identifier: MIT
// tables.ts - the DynamoDB tables, from infra/tables.json (the one definition the local stand-in
// in tests/aws/standin creates too). Key schema, GSIs, TTL and billing mode are translated from
// DynamoDB's CreateTable names to the aws.dynamodb.Table arguments; nothing is added here.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import tablesJson from "../tables.json";

/** One entry of tables.json (see its $comment). */
export interface TableSpec {
    nameSuffix: string;
    environmentVariable: string;
    createTable: {
        AttributeDefinitions: { AttributeName: string; AttributeType: "S" | "N" | "B" }[];
        KeySchema: { AttributeName: string; KeyType: "HASH" | "RANGE" }[];
        GlobalSecondaryIndexes?: {
            IndexName: string;
            KeySchema: { AttributeName: string; KeyType: "HASH" | "RANGE" }[];
            Projection: { ProjectionType: "ALL" | "KEYS_ONLY" | "INCLUDE"; NonKeyAttributes?: string[] };
        }[];
        BillingMode: "PAY_PER_REQUEST";
    };
    timeToLive: { AttributeName: string; Enabled: boolean };
    lambdaActions: string[];
    indexActions: Record<string, string[]>;
}

/** tables.json, checked: one HASH key per table, index actions name real indexes, actions are DynamoDB's. */
export function loadTableSpecs(doc: unknown = tablesJson): Record<string, TableSpec> {
    const specs = (doc as { tables: Record<string, TableSpec> }).tables;
    for (const [key, t] of Object.entries(specs)) {
        const hash = t.createTable.KeySchema.filter((k) => k.KeyType === "HASH");
        if (hash.length !== 1) throw new Error(`tables.json: ${key} needs exactly one HASH key`);
        const gsis = t.createTable.GlobalSecondaryIndexes ?? [];
        for (const name of Object.keys(t.indexActions)) {
            if (!gsis.some((g) => g.IndexName === name)) throw new Error(`tables.json: ${key}: no index ${name}`);
        }
        for (const a of [...t.lambdaActions, ...Object.values(t.indexActions).flat()]) {
            if (!/^dynamodb:[A-Za-z]+$/.test(a)) throw new Error(`tables.json: ${key}: "${a}" is not a DynamoDB action`);
        }
    }
    return specs;
}

/** `<project>-<nameSuffix>-<environment>`, as the stand-in names them for environment "test". */
export function tableName(project: string, spec: TableSpec, environment: string): string {
    return `${project}-${spec.nameSuffix}-${environment}`;
}

export interface DeployedTable {
    key: string;
    spec: TableSpec;
    table: aws.dynamodb.Table;
}

export function createTables(project: string, environment: string, tags: Record<string, string>,
    specs = loadTableSpecs()): DeployedTable[] {
    return Object.entries(specs).map(([key, spec]) => {
        const ct = spec.createTable;
        const keyOf = (ks: { AttributeName: string; KeyType: string }[], type: string) =>
            ks.find((k) => k.KeyType === type)?.AttributeName;
        const table = new aws.dynamodb.Table(`table-${key}`, {
            name: tableName(project, spec, environment),
            billingMode: ct.BillingMode,
            attributes: ct.AttributeDefinitions.map((a) => ({ name: a.AttributeName, type: a.AttributeType })),
            hashKey: keyOf(ct.KeySchema, "HASH"),
            rangeKey: keyOf(ct.KeySchema, "RANGE"),
            globalSecondaryIndexes: (ct.GlobalSecondaryIndexes ?? []).map((g) => ({
                name: g.IndexName,
                keySchemas: g.KeySchema.map((k) => ({ attributeName: k.AttributeName, keyType: k.KeyType })),
                projectionType: g.Projection.ProjectionType,
                nonKeyAttributes: g.Projection.NonKeyAttributes,
            })),
            ttl: { attributeName: spec.timeToLive.AttributeName, enabled: spec.timeToLive.Enabled },
            pointInTimeRecovery: { enabled: false }, // only short-lived items (TTL 2 min .. 24 h)
            tags,
        });
        return { key, spec, table };
    });
}

/** The Lambda's environment variables naming the tables (CONNECTIONS_TABLE_NAME, ...). */
export function tableEnvironment(tables: DeployedTable[]): Record<string, pulumi.Output<string>> {
    return Object.fromEntries(tables.map((t) => [t.spec.environmentVariable, t.table.name]));
}
