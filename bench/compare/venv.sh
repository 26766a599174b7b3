#!/usr/bin/env bash
# bench/compare/venv.sh: the Python peers of `make bench-compare`, pinned, in
# their own venv under the repository (.venv-bench, git-ignored). They are
# benchmark baselines only: nothing churnops builds or runs imports them.
# Prints the venv's python on stdout once every pinned package is there.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.venv-bench}"
PYTHON="${PYTHON:-python3}"
PACKAGES=(
	numpy==2.2.6
	scikit-learn==1.7.2
	xgboost-cpu==3.0.5
	lightgbm==4.6.0
)
# shellcheck source=scripts/pinned-venv.sh
source "$ROOT/scripts/pinned-venv.sh"
pinned_venv "$VENV" bench-compare "${PACKAGES[@]}"
echo "$VENV/bin/python"
