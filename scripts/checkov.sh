#!/usr/bin/env bash
# checkov.sh — run a pinned checkov (the infrastructure-as-code scanner) from a
# private venv, installing it first if needed, so every machine scans
# template.yaml with the same checks.
#
#   scripts/checkov.sh                   scan template.yaml (what `make lint` runs)
#   scripts/checkov.sh -f other.yaml …   any checkov arguments
#   scripts/checkov.sh --install-only    create/refresh the venv and exit
#
# With no arguments it scans template.yaml as CloudFormation, compact output,
# and exits non-zero on any failed check. A check that does not apply is
# skipped in the template itself, next to the resource, with the reason
# (Metadata: checkov: skip: [{id, comment}]), never here: the reason then
# travels with the resource it excuses.
#
# The venv (.venv-checkov/ under the repo root, git-ignored) is reused when it
# already holds CHECKOV_VERSION; otherwise the pinned version is installed
# into it. Concurrent first runs serialize on a lock file.
#
# Environment knobs: CHECKOV_VENV (.venv-checkov under the repo root), PYTHON
# (python3; checkov 3 needs Python >= 3.9).
set -euo pipefail

CHECKOV_VERSION=3.3.30
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CHECKOV_VENV:-$ROOT/.venv-checkov}"
PYTHON="${PYTHON:-python3}"

# shellcheck source=scripts/pinned-venv.sh
source "$ROOT/scripts/pinned-venv.sh"

pinned_venv "$VENV" checkov.sh "checkov==$CHECKOV_VERSION"
if [[ "${1:-}" == "--install-only" ]]; then
	exit 0
fi

cd "$ROOT"
if [[ $# -eq 0 ]]; then
	# No network: checkov would otherwise try to fetch guidelines and
	# version news on every run (slow, and noisy offline).
	set -- -f template.yaml --framework cloudformation --compact --quiet \
		--skip-download
fi
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
exec "$VENV/bin/checkov" "$@"
