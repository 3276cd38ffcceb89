#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make deploy-infra | preview-infra | destroy-infra`: runs the Pulumi CLI on infra/ for stack
# $STACK (dev). Says what is missing (the Pulumi CLI, a Pulumi login, AWS credentials, a region)
# instead of failing inside Pulumi. Extra arguments for pulumi: PULUMI_ARGS (e.g. --yes).
# The program itself checks the Lambda zip (build/lambda/bootstrap[-arm64].zip: `make lambda`).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
op=${1:-}
case $op in
    up | preview | destroy) ;;
    *) echo "usage: $0 up|preview|destroy" >&2; exit 2 ;;
esac
PULUMI=${PULUMI:-pulumi}
STACK=${STACK:-dev}
export LAMBDA_ZIP_DIR=${LAMBDA_ZIP_DIR:-$here/build/lambda}

if ! command -v "$PULUMI" >/dev/null 2>&1; then
    cat >&2 <<'MSG'
infra: the Pulumi CLI is not installed (it is not a Debian or npm package).
  Install it:   curl -fsSL https://get.pulumi.com | sh     (then open a new shell, or add ~/.pulumi/bin to PATH)
  Keep state locally (no account):  pulumi login --local
  See docs/serverless.md "Deploying on AWS".
MSG
    exit 1
fi

have_aws_credentials() {
    [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ] && return 0
    [ -n "${AWS_PROFILE:-}" ] && return 0
    [ -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ] && return 0
    [ -n "${AWS_CONTAINER_CREDENTIALS_FULL_URI:-}${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI:-}" ] && return 0
    [ -s "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ] && return 0
    [ -s "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ] && return 0
    [ "${INFRA_INSTANCE_CREDENTIALS:-}" = 1 ] && return 0 # EC2 instance profile: nothing to see locally
    return 1
}
if ! have_aws_credentials; then
    cat >&2 <<'MSG'
infra: no AWS credentials found (AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials or ~/.aws/config).
  Create an access key for an IAM user allowed to manage Lambda, API Gateway, DynamoDB, IAM roles,
  CloudWatch, SNS, EventBridge, Budgets (and ACM / Route 53 for custom domains), then:
      aws configure            or   export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
  On EC2 with an instance profile: INFRA_INSTANCE_CREDENTIALS=1 make deploy-infra
MSG
    exit 1
fi

if [ ! -d "$here/infra/node_modules/@pulumi/aws" ]; then
    echo "infra: npm ci in infra/" >&2
    (cd "$here/infra" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$here/infra"
if ! "$PULUMI" whoami >/dev/null 2>&1; then
    cat >&2 <<'MSG'
infra: the Pulumi CLI is not logged in to a state backend.
  Local state, no account:  pulumi login --local      (or: pulumi login  for Pulumi Cloud)
MSG
    exit 1
fi
"$PULUMI" stack select --create "$STACK" >/dev/null
if [ -z "${AWS_REGION:-}${AWS_DEFAULT_REGION:-}" ] && ! "$PULUMI" config get aws:region --stack "$STACK" >/dev/null 2>&1; then
    echo "infra: no AWS region: run   cd infra && pulumi config set aws:region us-east-1   (or export AWS_REGION)" >&2
    exit 1
fi
# shellcheck disable=SC2086 # PULUMI_ARGS is a list of arguments
exec "$PULUMI" "$op" --stack "$STACK" ${PULUMI_ARGS:-}
