#!/usr/bin/env bash
# sam.sh — run a pinned AWS SAM CLI from a private venv, installing it first
# if needed, so every machine (laptop, CI) validates, builds and deploys with
# the same SAM and the same cfn-lint.
#
#   scripts/sam.sh validate --lint       lint template.yaml (offline)
#   scripts/sam.sh build                 build the five bootstraps (Makefile build-<LogicalId>)
#   scripts/sam.sh deploy --guided       see infra/README.md
#   scripts/sam.sh --install-only        create/refresh the venv and exit
#
# The venv (.venv-sam/ under the repo root, git-ignored) is reused when it
# already holds SAM_CLI_VERSION; otherwise the pinned version is installed
# into it. Concurrent first runs serialize on a lock file.
#
# Like `sam` itself, it works on ./template.yaml: run it from the repo root
# (relative paths such as `-e events/drift.json` stay the caller's).
#
# Environment knobs: SAM_VENV (.venv-sam under the repo root), PYTHON
# (python3; SAM CLI needs Python >= 3.9). AWS_DEFAULT_REGION defaults to
# us-east-1 when neither it nor AWS_REGION is set: `sam validate` needs a
# region even though linting never calls AWS. Telemetry is off unless
# SAM_CLI_TELEMETRY is already set.
set -euo pipefail

SAM_CLI_VERSION=1.170.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SAM_VENV:-$ROOT/.venv-sam}"
PYTHON="${PYTHON:-python3}"

# shellcheck source=scripts/pinned-venv.sh
source "$ROOT/scripts/pinned-venv.sh"

pinned_venv "$VENV" sam.sh "aws-sam-cli==$SAM_CLI_VERSION"
if [[ "${1:-}" == "--install-only" ]]; then
	exit 0
fi

if [[ -z "${AWS_DEFAULT_REGION:-}" && -z "${AWS_REGION:-}" ]]; then
	export AWS_DEFAULT_REGION=us-east-1
fi
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"

exec "$VENV/bin/sam" "$@"
