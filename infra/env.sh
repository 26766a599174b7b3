#!/usr/bin/env bash
# env.sh — print the exports that point `churnops --backend aws` (and the
# other infra/ scripts) at a deployed churnops stack, from its CloudFormation
# outputs:
#
#   eval "$(infra/env.sh)"                 # stack $CHURNOPS_STACK, default "churnops"
#   eval "$(infra/env.sh --stack NAME --region eu-west-1)"
#
# Prints CHURNOPS_BACKEND=aws, CHURNOPS_BUCKET, CHURNOPS_REGISTRY_TABLE,
# CHURNOPS_FEATURES_TABLE, CHURNOPS_STATE_MACHINE_ARN, CHURNOPS_PREDICT_URL
# AWS_REGION and AWS_DEFAULT_REGION (the one AWS CLI v1 reads). Needs the
# AWS CLI (v1 or v2) and credentials allowed to call
# cloudformation:DescribeStacks. AWS_ENDPOINT_URL, when set, is honoured
# by the CLI, so this works against an emulator too (MiniStack, LocalStack);
# CHURNOPS_PREDICT_URL then points at the emulator's execute-api route.
set -euo pipefail

usage() {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

STACK="${CHURNOPS_STACK:-churnops}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
while (($#)); do
	case "$1" in
	--stack | -s) STACK="${2:?--stack needs a value}"; shift 2 ;;
	--region | -r) REGION="${2:?--region needs a value}"; shift 2 ;;
	-h | --help) usage ;;
	*) echo "env.sh: unknown argument $1" >&2; usage ;;
	esac
done

if ! command -v aws >/dev/null 2>&1; then
	echo "env.sh: the AWS CLI is not installed; install it (https://aws.amazon.com/cli/) or set CHURNOPS_BUCKET, CHURNOPS_REGISTRY_TABLE, CHURNOPS_FEATURES_TABLE and CHURNOPS_STATE_MACHINE_ARN yourself" >&2
	exit 1
fi

region_args=()
if [[ -n "$REGION" ]]; then
	region_args=(--region "$REGION")
else
	REGION="$(aws configure get region 2>/dev/null || true)"
	if [[ -z "$REGION" ]]; then
		echo "env.sh: no region: pass --region or set AWS_REGION" >&2
		exit 1
	fi
	region_args=(--region "$REGION")
fi

# One call; tab-separated "key value" lines.
outputs="$(aws cloudformation describe-stacks "${region_args[@]}" --stack-name "$STACK" \
	--query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output text)" || {
	echo "env.sh: cannot describe stack $STACK in $REGION (deployed? see infra/README.md)" >&2
	exit 1
}

output() {
	local v
	v="$(awk -F'\t' -v k="$1" '$1 == k { print $2 }' <<<"$outputs")"
	if [[ -z "$v" ]]; then
		echo "env.sh: stack $STACK has no output $1" >&2
		exit 1
	fi
	printf '%s' "$v"
}

bucket="$(output DataBucketName)"
registry="$(output RegistryTableName)"
features="$(output FeaturesTableName)"
sm="$(output StateMachineArn)"
url="$(output PredictUrl)"
# On an emulator the API is not at execute-api.amazonaws.com: MiniStack and
# LocalStack both serve it at $AWS_ENDPOINT_URL/_aws/execute-api/ID/STAGE/PATH.
if [[ -n "${AWS_ENDPOINT_URL:-}" && "$url" =~ ^https://([^.]+)\.execute-api\.[^/]+/(.*)$ ]]; then
	url="${AWS_ENDPOINT_URL%/}/_aws/execute-api/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
fi

printf 'export CHURNOPS_BACKEND=aws\n'
printf 'export CHURNOPS_BUCKET=%q\n' "$bucket"
printf 'export CHURNOPS_REGISTRY_TABLE=%q\n' "$registry"
printf 'export CHURNOPS_FEATURES_TABLE=%q\n' "$features"
printf 'export CHURNOPS_STATE_MACHINE_ARN=%q\n' "$sm"
printf 'export CHURNOPS_PREDICT_URL=%q\n' "$url"
printf 'export AWS_REGION=%q AWS_DEFAULT_REGION=%q\n' "$REGION" "$REGION"
