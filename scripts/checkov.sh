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

log() { echo "checkov.sh: $*" >&2; }

# installed succeeds when the venv holds checkov at the pinned version. It
# reads the package metadata only: importing checkov takes seconds.
installed() {
	[[ -x "$VENV/bin/checkov" && -x "$VENV/bin/python" ]] &&
		"$VENV/bin/python" -c '
import importlib.metadata as m, sys
sys.exit(m.version("checkov") != sys.argv[1])
' "$CHECKOV_VERSION" 2>/dev/null
}

install() {
	installed && return 0
	mkdir -p "$VENV"
	exec 9>"$VENV/.install.lock"
	if command -v flock >/dev/null 2>&1; then
		flock 9
	fi
	installed && return 0
	log "installing checkov==$CHECKOV_VERSION into $VENV (first run only, a few minutes)"
	[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
		"checkov==$CHECKOV_VERSION"
	installed || {
		log "checkov==$CHECKOV_VERSION is not importable from $VENV after install"
		return 1
	}
}

install
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
