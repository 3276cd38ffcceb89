// SPDX-License-Identifier: MIT
// domains.ts - optional custom domains (enableCustomDomain): the base domain and, with subdomain
// routing, its wildcard, both mapped to the HTTP API's $default stage; the WebSocket domain mapped
// to the WebSocket API's stage (agents connect to wss://<websocketDomainName>, no stage path).
// All REGIONAL, TLS 1.2, one ACM certificate (given, or created and DNS-validated in the Route 53
// zone), and Route 53 alias records when hostedZoneId is set.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { TunnelConfig } from "./config";

export interface CustomDomains {
    certificateArn: pulumi.Output<string>;
    certificate?: aws.acm.Certificate;
    domains: { host: string; kind: "base" | "wildcard" | "websocket"; domain: aws.apigatewayv2.DomainName;
        mapping: aws.apigatewayv2.ApiMapping; record?: aws.route53.Record }[];
}

/** true when a certificate for *.<domain> covers host (one label under domain). */
export function wildcardCovers(domain: string, host: string): boolean {
    return host.endsWith(`.${domain}`) && !host.slice(0, -(domain.length + 1)).includes(".");
}

/** The names the certificate must carry: the base domain, its wildcard (which also covers
 * ws.<domain>), and the WebSocket domain when the wildcard does not cover it. */
export function certificateNames(cfg: TunnelConfig): string[] {
    const base = cfg.domainName as string;
    const ws = cfg.websocketDomainName as string;
    return [base, `*.${base}`, ...(wildcardCovers(base, ws) ? [] : [ws])];
}

function certificate(cfg: TunnelConfig, tags: Record<string, string>) {
    if (cfg.certificateArn) return { arn: pulumi.output(cfg.certificateArn), cert: undefined };
    const names = certificateNames(cfg);
    const cert = new aws.acm.Certificate("certificate", {
        domainName: names[0],
        subjectAlternativeNames: names.slice(1),
        validationMethod: "DNS",
        tags,
    });
    // A name and its wildcard share one validation record: one record per distinct name left.
    const distinct = names.filter((n) => !n.startsWith("*."));
    const records = distinct.map((name, i) => {
        const opt = cert.domainValidationOptions.apply((opts) => {
            const o = opts.find((x) => x.domainName === name);
            if (!o) throw new Error(`ACM gave no validation record for ${name}`);
            return o;
        });
        return new aws.route53.Record(`certificate-validation-${i}`, {
            zoneId: cfg.hostedZoneId as string,
            name: opt.resourceRecordName,
            type: opt.resourceRecordType,
            records: [opt.resourceRecordValue],
            ttl: 300,
            allowOverwrite: true,
        });
    });
    const validation = new aws.acm.CertificateValidation("certificate-validation", {
        certificateArn: cert.arn,
        validationRecordFqdns: records.map((r) => r.fqdn),
    });
    return { arn: validation.certificateArn, cert };
}

export function customDomains(cfg: TunnelConfig, httpApiId: pulumi.Input<string>, httpStage: aws.apigatewayv2.Stage,
    wsApiId: pulumi.Input<string>, wsStage: aws.apigatewayv2.Stage, tags: Record<string, string>): CustomDomains {
    const { arn, cert } = certificate(cfg, tags);
    const base = cfg.domainName as string;
    const wanted: { host: string; kind: "base" | "wildcard" | "websocket" }[] = [
        { host: base, kind: "base" },
        ...(cfg.subdomainRouting ? [{ host: `*.${base}`, kind: "wildcard" as const }] : []),
        { host: cfg.websocketDomainName as string, kind: "websocket" },
    ];
    const domains = wanted.map(({ host, kind }) => {
        const domain = new aws.apigatewayv2.DomainName(`domain-${kind}`, {
            domainName: host,
            domainNameConfiguration: { certificateArn: arn, endpointType: "REGIONAL", securityPolicy: "TLS_1_2" },
            tags,
        });
        const ws = kind === "websocket";
        const mapping = new aws.apigatewayv2.ApiMapping(`mapping-${kind}`, {
            apiId: ws ? wsApiId : httpApiId,
            domainName: domain.domainName,
            stage: ws ? wsStage.name : httpStage.name,
        });
        const record = cfg.hostedZoneId
            ? new aws.route53.Record(`dns-${kind}`, {
                zoneId: cfg.hostedZoneId,
                name: host,
                type: "A",
                aliases: [{
                    name: domain.domainNameConfiguration.targetDomainName,
                    zoneId: domain.domainNameConfiguration.hostedZoneId,
                    evaluateTargetHealth: false,
                }],
            })
            : undefined;
        return { host, kind, domain, mapping, record };
    });
    if (!cfg.hostedZoneId) {
        pulumi.log.warn("hostedZoneId is not set: create the DNS records yourself (see the domainTargets output)");
    }
    return { certificateArn: arn, certificate: cert, domains };
}
