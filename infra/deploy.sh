#!/usr/bin/env bash
# deploy.sh — build the five Lambda bootstraps with SAM and deploy
# template.yaml as one CloudFormation stack.
#
#   infra/deploy.sh                          # stack "churnops" in $AWS_REGION
#   infra/deploy.sh --stack churnops-dev --region eu-west-1
#   infra/deploy.sh --guided                 # force the interactive prompts
#   infra/deploy.sh -- --parameter-overrides ScheduleState=ENABLED
#
# The first deployment of a stack runs `sam deploy --guided` when stdin is a
# terminal (SAM asks for the parameters and may save them in samconfig.toml);
# later ones, and every non-interactive run, pass everything as flags:
#
#   --stack-name NAME          CloudFormation stack (default $CHURNOPS_STACK or churnops)
#   --region REGION            default $AWS_REGION / $AWS_DEFAULT_REGION / the CLI profile's
#   --capabilities CAPABILITY_IAM
#                              the template creates IAM roles (one per function,
#                              the state machine's, the schedule's), all with
#                              generated names, so CAPABILITY_NAMED_IAM is not needed
#   --resolve-s3               SAM creates (once per account and region) and uses its
#                              managed bucket for the packaged code
#   --no-fail-on-empty-changeset
#                              re-running with nothing to change succeeds
#
# Anything after `--` goes to `sam deploy` unchanged (e.g. --parameter-overrides,
# --profile, --no-execute-changeset). The SAM CLI is the pinned one from
# scripts/sam.sh. The build uses --build-in-source: SAM would otherwise copy
# the whole repository (including git-ignored virtualenvs) once per function.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAM="$ROOT/scripts/sam.sh"

usage() {
	sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

STACK="${CHURNOPS_STACK:-churnops}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
GUIDED=auto
extra=()
while (($#)); do
	case "$1" in
	--stack | -s) STACK="${2:?--stack needs a value}"; shift 2 ;;
	--region | -r) REGION="${2:?--region needs a value}"; shift 2 ;;
	--guided) GUIDED=yes; shift ;;
	--no-guided) GUIDED=no; shift ;;
	-h | --help) usage ;;
	--) shift; extra=("$@"); break ;;
	*) echo "deploy.sh: unknown argument $1" >&2; usage ;;
	esac
done

if [[ -z "$REGION" ]] && command -v aws >/dev/null 2>&1; then
	REGION="$(aws configure get region 2>/dev/null || true)"
fi
if [[ -z "$REGION" ]]; then
	echo "deploy.sh: no region: pass --region or set AWS_REGION" >&2
	exit 1
fi

# First deployment? Only the AWS CLI can tell; without it, trust the flag.
if [[ "$GUIDED" == auto ]]; then
	GUIDED=no
	if [[ -t 0 ]] && command -v aws >/dev/null 2>&1 &&
		! aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" >/dev/null 2>&1; then
		GUIDED=yes
	fi
fi

cd "$ROOT"
echo "deploy.sh: sam build (stack $STACK, region $REGION)" >&2
"$SAM" build --build-in-source

common=(--stack-name "$STACK" --region "$REGION" --capabilities CAPABILITY_IAM --resolve-s3)
if [[ "$GUIDED" == yes ]]; then
	echo "deploy.sh: first deployment of $STACK: sam deploy --guided" >&2
	"$SAM" deploy --guided "${common[@]}" "${extra[@]+"${extra[@]}"}"
else
	"$SAM" deploy "${common[@]}" --no-fail-on-empty-changeset "${extra[@]+"${extra[@]}"}"
fi

cat >&2 <<EOF
deploy.sh: done. Next:
  eval "\$(infra/env.sh --stack $STACK --region $REGION)"
  infra/seed.sh --data DIR --first-as-of 2024-01-31      # or: infra/seed.sh MONTH_DIR AS_OF ...
  infra/start-execution.sh --wait
EOF
