#!/usr/bin/env bash
# teardown.sh — delete a deployed churnops stack and everything in its data
# bucket (datasets, models, reports: every object version).
#
#   infra/teardown.sh --stack churnops-dev --region eu-west-1 [--yes]
#
# CloudFormation cannot delete a bucket that still holds objects, and the
# data bucket is versioned, so the bucket is emptied first — every version
# and delete marker — then `sam delete` removes the stack and the code SAM
# uploaded for it. Without --yes it asks for the stack name as confirmation.
# Resources the template marks DeletionPolicy: Retain survive, by design.
# Needs the AWS CLI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
die() {
	echo "teardown.sh: $*" >&2
	exit 1
}

STACK="${CHURNOPS_STACK:-churnops}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
YES=no
while (($#)); do
	case "$1" in
	--stack | -s) STACK="${2:?--stack needs a value}"; shift 2 ;;
	--region | -r) REGION="${2:?--region needs a value}"; shift 2 ;;
	--yes | -y) YES=yes; shift ;;
	-h | --help) usage ;;
	*) echo "teardown.sh: unknown argument $1" >&2; usage ;;
	esac
done
command -v aws >/dev/null 2>&1 || die "the AWS CLI is required (https://aws.amazon.com/cli/)"

env_args=(--stack "$STACK")
[[ -z "$REGION" ]] || env_args+=(--region "$REGION")
exports="$("$ROOT/infra/env.sh" "${env_args[@]}")" || exit 1
eval "$exports"
REGION="$AWS_REGION"

if [[ "$YES" != yes ]]; then
	[[ -t 0 ]] || die "not a terminal: pass --yes to delete stack $STACK without a prompt"
	read -r -p "Delete stack $STACK in $REGION and every object in s3://$CHURNOPS_BUCKET? Type the stack name: " answer
	[[ "$answer" == "$STACK" ]] || die "not confirmed; nothing deleted"
fi

echo "teardown.sh: emptying s3://$CHURNOPS_BUCKET (all versions)" >&2
# shellcheck disable=SC2016 # backquotes are a JMESPath literal, not a command
query='{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}, Quiet: `true`}'
while :; do
	batch="$(aws s3api list-object-versions --region "$REGION" --bucket "$CHURNOPS_BUCKET" \
		--max-items 1000 --query "$query" --output json)"
	[[ "$batch" == *'"Key"'* ]] || break # no versions or markers left
	aws s3api delete-objects --region "$REGION" --bucket "$CHURNOPS_BUCKET" --delete "$batch" >/dev/null
done

echo "teardown.sh: sam delete $STACK" >&2
"$ROOT/scripts/sam.sh" delete --stack-name "$STACK" --region "$REGION" --no-prompts
