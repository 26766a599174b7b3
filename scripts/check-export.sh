#!/usr/bin/env bash
# check-export.sh — cross-check `churnops model export --format xgboost-json`
# against XGBoost itself on the lab's months (make check-export).
#
# It builds the CLI, ingests month_000 (2024-01-31) and month_001
# (2024-02-29) into a temporary state, runs the state machine once with
# --threshold 1 (the run bootstraps month_000's model to Production and,
# with no retrain, leaves it there), exports the Production model, writes
# churnops' probabilities and contributions for every customer of both
# months (`churnops model explain`), and has scripts/check_export.py load
# the export with xgboost.Booster and compare, on every customer:
# probabilities and pred_contribs must equal churnops' to 1e-6.
#
# XGBoost is test tooling, never a runtime dependency: it is installed,
# pinned, into its own venv (.venv-xgboost under the repo root, or
# XGBCHECK_VENV). When the lab's months (../shared) are absent the check is
# skipped with a notice, unless CHURNOPS_REQUIRE_SAMPLES=1 (CI), where that
# is a failure. Environment: STREAMFLOW_DATA (../shared/data/streamflow),
# PYTHON (python3), KEEP=1 keeps the temporary directory.
set -euo pipefail

# Pinned: the newest xgboost-cpu for Python 3.11 (3.3+ need 3.12), with
# the pandas and numpy it was checked with.
PACKAGES=(
	"xgboost-cpu==3.2.0"
	"pandas==3.1.1"
	"numpy==2.4.6"
	"scipy==1.17.1"
)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${STREAMFLOW_DATA:-$ROOT/../shared/data/streamflow}"
VENV="${XGBCHECK_VENV:-$ROOT/.venv-xgboost}"
PYTHON="${PYTHON:-python3}"
t0=$SECONDS

if [[ ! -d "$DATA/month_000" || ! -d "$DATA/month_001" ]]; then
	if [[ "${CHURNOPS_REQUIRE_SAMPLES:-0}" == 1 ]]; then
		echo "check-export: the lab's months are not at $DATA (CHURNOPS_REQUIRE_SAMPLES=1)" >&2
		exit 1
	fi
	echo "check-export: SKIP: the lab's months are not at $DATA"
	exit 0
fi

# shellcheck source=scripts/pinned-venv.sh
source "$ROOT/scripts/pinned-venv.sh"
if ! pinned_venv_has "$VENV" "${PACKAGES[@]}"; then
	echo "== check-export: install ${PACKAGES[*]} into $VENV"
	pinned_venv "$VENV" check-export "${PACKAGES[@]}"
	echo "   [$((SECONDS - t0))s]"
fi

work="$(mktemp -d)"
if [[ "${KEEP:-0}" == 1 ]]; then
	echo "check-export: keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi
echo "== check-export: build the CLI, ingest month_000 and month_001, run the state machine"
go build -o "$work/churnops" "$ROOT/cmd/churnops"
co() { "$work/churnops" "$@" --state "$work/state" --quiet; }
co ingest --data "$DATA/month_000" --as-of 2024-01-31 >/dev/null
co ingest --data "$DATA/month_001" --as-of 2024-02-29 >/dev/null
co run --reference-as-of 2024-01-31 --current-as-of 2024-02-29 --threshold 1 | grep -E '^\[(BOOTSTRAP|DECISION)\]'
co model export --version production --format xgboost-json --out "$work/model.json"
co model explain --version production --data "$DATA/month_000" --as-of 2024-01-31 --out "$work/month_000.csv"
co model explain --version production --data "$DATA/month_001" --as-of 2024-02-29 --out "$work/month_001.csv"
echo "   [$((SECONDS - t0))s]"
echo "== check-export: XGBoost on every customer of both months"
"$VENV/bin/python" "$ROOT/scripts/check_export.py" "$work/model.json" \
	"$DATA/month_000" "$work/month_000.csv" "$DATA/month_001" "$work/month_001.csv"
echo "== check-export passed [$((SECONDS - t0))s]"
