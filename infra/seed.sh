#!/usr/bin/env bash
# seed.sh — ingest month directories (the lab's layout: users.csv,
# subscriptions.csv, …) into a deployed stack: each becomes
# datasets/as_of=DATE/ in the bucket and its features are materialized into
# the online features table, by `churnops ingest --backend aws`.
#
#   infra/seed.sh MONTH_DIR AS_OF [MONTH_DIR AS_OF ...]
#   infra/seed.sh --data ROOT --first-as-of 2024-01-31
#       every ROOT/month_* in name order, with consecutive month-end dates
#       (2024-01-31, 2024-02-29, 2024-03-31, …)
#
# Options: --stack NAME (default $CHURNOPS_STACK or churnops), --region REGION.
#
# Where the data goes: if CHURNOPS_BUCKET, CHURNOPS_REGISTRY_TABLE and
# CHURNOPS_FEATURES_TABLE are all set they are used as they are (no AWS CLI
# needed); otherwise they are read from the stack's outputs with the AWS CLI
# (infra/env.sh). Re-running is safe: ingesting the same data again is a
# no-op, and different data for a stored date is refused.
#
# CHURNOPS_BIN names a churnops binary to use; by default one is built from
# this checkout into a temporary directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
	sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
die() {
	echo "seed.sh: $*" >&2
	exit 1
}

STACK="${CHURNOPS_STACK:-churnops}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
DATA=""
FIRST=""
pairs=()
while (($#)); do
	case "$1" in
	--stack | -s) STACK="${2:?--stack needs a value}"; shift 2 ;;
	--region | -r) REGION="${2:?--region needs a value}"; shift 2 ;;
	--data) DATA="${2:?--data needs a value}"; shift 2 ;;
	--first-as-of) FIRST="${2:?--first-as-of needs a value}"; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "seed.sh: unknown option $1" >&2; usage ;;
	*)
		(($# >= 2)) || die "month directory $1 has no AS_OF date after it"
		pairs+=("$1" "$2")
		shift 2
		;;
	esac
done

is_date() { [[ "$1" =~ ^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$ ]]; }

# month_end Y M prints the last day of month M of year Y as YYYY-MM-DD
# (pure bash: GNU and BSD date disagree on date arithmetic).
month_end() {
	local y=$1 m=$((10#$2)) d
	case $m in
	1 | 3 | 5 | 7 | 8 | 10 | 12) d=31 ;;
	4 | 6 | 9 | 11) d=30 ;;
	2) if ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))); then d=29; else d=28; fi ;;
	esac
	printf '%04d-%02d-%02d' "$y" "$m" "$d"
}

if [[ -n "$DATA" || -n "$FIRST" ]]; then
	[[ -n "$DATA" && -n "$FIRST" ]] || die "--data and --first-as-of go together"
	((${#pairs[@]} == 0)) || die "give either --data/--first-as-of or MONTH_DIR AS_OF pairs, not both"
	is_date "$FIRST" || die "--first-as-of $FIRST is not YYYY-MM-DD"
	[[ "$FIRST" == "$(month_end "${FIRST:0:4}" "${FIRST:5:2}")" ]] ||
		die "--first-as-of $FIRST is not the last day of its month"
	y=$((10#${FIRST:0:4})) m=$((10#${FIRST:5:2}))
	shopt -s nullglob
	dirs=("$DATA"/month_*/)
	shopt -u nullglob
	((${#dirs[@]} > 0)) || die "no month_* directories under $DATA"
	for dir in "${dirs[@]}"; do
		pairs+=("${dir%/}" "$(month_end "$y" "$m")")
		if ((m == 12)); then
			m=1 y=$((y + 1))
		else
			m=$((m + 1))
		fi
	done
fi
((${#pairs[@]} > 0)) || usage

for ((i = 0; i < ${#pairs[@]}; i += 2)); do
	[[ -d "${pairs[i]}" ]] || die "${pairs[i]} is not a directory"
	is_date "${pairs[i + 1]}" || die "as_of ${pairs[i + 1]} (for ${pairs[i]}) is not YYYY-MM-DD"
done

if [[ -z "${CHURNOPS_BUCKET:-}" || -z "${CHURNOPS_REGISTRY_TABLE:-}" || -z "${CHURNOPS_FEATURES_TABLE:-}" ]]; then
	command -v aws >/dev/null 2>&1 ||
		die "set CHURNOPS_BUCKET, CHURNOPS_REGISTRY_TABLE and CHURNOPS_FEATURES_TABLE, or install the AWS CLI to read them from stack $STACK"
	env_args=(--stack "$STACK")
	[[ -z "$REGION" ]] || env_args+=(--region "$REGION")
	exports="$("$ROOT/infra/env.sh" "${env_args[@]}")" || exit 1
	eval "$exports"
fi
[[ -n "${AWS_REGION:-${AWS_DEFAULT_REGION:-}}" || -n "$REGION" ]] || die "no region: pass --region or set AWS_REGION"
[[ -z "$REGION" ]] || export AWS_REGION="$REGION"
export CHURNOPS_BUCKET CHURNOPS_REGISTRY_TABLE CHURNOPS_FEATURES_TABLE

BIN="${CHURNOPS_BIN:-}"
if [[ -z "$BIN" ]]; then
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	echo "seed.sh: building churnops" >&2
	(cd "$ROOT" && go build -o "$tmp/churnops" ./cmd/churnops)
	BIN="$tmp/churnops"
fi

echo "seed.sh: bucket $CHURNOPS_BUCKET, features table $CHURNOPS_FEATURES_TABLE" >&2
for ((i = 0; i < ${#pairs[@]}; i += 2)); do
	echo "seed.sh: ingest ${pairs[i]} as of ${pairs[i + 1]}" >&2
	"$BIN" ingest --backend aws --data "${pairs[i]}" --as-of "${pairs[i + 1]}"
done
