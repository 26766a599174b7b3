#!/usr/bin/env bash
# ministack.sh — run MiniStack, the Docker-free AWS emulator the integration
# tests use, on 127.0.0.1 in the background.
#
#   scripts/ministack.sh install  create the venv and install the pinned packages (no start)
#   scripts/ministack.sh start    install (pinned, into a venv) if needed, start, wait until healthy
#   scripts/ministack.sh stop     stop the server started by `start` (and its Lambda processes)
#   scripts/ministack.sh status   exit 0 if it answers its health check, 1 otherwise
#   scripts/ministack.sh env      print the exports that point the AWS SDKs at it
#
# Every command is idempotent: `start` on a healthy server and `stop` on a
# stopped one succeed without doing anything.
#
# Why these settings:
#   - BIND_HOST=127.0.0.1: MiniStack binds 0.0.0.0 by default; the emulator
#     must only be reachable from this machine.
#   - AWS_ENDPOINT_URL is exported into the server's environment because
#     MiniStack runs provided.al2023 `bootstrap` binaries as host processes and
#     overrides their AWS_ENDPOINT_URL with its own; that is how a Lambda's SDK
#     calls land back on the emulator instead of on AWS.
#   - Lambda bootstraps run natively on the host (no Docker, no emulation), so
#     they must be built for the host's GOARCH (amd64 here), not the arm64 the
#     SAM template deploys to AWS.
#
#   - AUTH=true (MINISTACK_AUTH, default true): MiniStack then verifies SigV4
#     signatures and evaluates IAM policies, so the suite's calls to AWS_IAM
#     routes are judged as API Gateway judges them (an IAM user granted one
#     route is refused the others). The suite's own calls use the root
#     credentials below, which every policy allows.
#
# Environment knobs: MINISTACK_PORT (4566), MINISTACK_VENV (.venv-ministack
# under the repo root), MINISTACK_START_TIMEOUT in seconds (60),
# MINISTACK_LOG_LEVEL (INFO), MINISTACK_AUTH (true), AWS_REGION (us-east-1),
# PYTHON (python3).
set -euo pipefail

MINISTACK_VERSION=1.5.33
# aws-sam-translator lets MiniStack's CloudFormation apply the
# AWS::Serverless-2016-10-31 transform (sam deploy, create-stack of template.yaml).
# botocore is pinned to the version ministack itself pins, or pip moves it
# for the translator's boto3.
PACKAGES=(
	"ministack==$MINISTACK_VERSION"
	"aws-sam-translator==1.115.0"
	"botocore==1.43.106"
)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${MINISTACK_PORT:-4566}"
HOST=127.0.0.1
VENV="${MINISTACK_VENV:-$ROOT/.venv-ministack}"
PYTHON="${PYTHON:-python3}"
PIDFILE="$VENV/ministack-$PORT.pid"
LOGFILE="$VENV/ministack-$PORT.log"
TIMEOUT="${MINISTACK_START_TIMEOUT:-60}"
URL="http://$HOST:$PORT"

log() { echo "ministack: $*" >&2; }

healthy() {
	curl -fsS -m 2 "$URL/_ministack/health" >/dev/null 2>&1
}

# pid prints the PID from the PID file if that process is still alive.
pid() {
	[[ -f "$PIDFILE" ]] || return 1
	local p
	p="$(cat "$PIDFILE")"
	[[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && echo "$p"
}

# shellcheck source=scripts/pinned-venv.sh
source "$ROOT/scripts/pinned-venv.sh"

install() { pinned_venv "$VENV" ministack "${PACKAGES[@]}"; }

start() {
	if healthy; then
		if p="$(pid)"; then
			log "already running (pid $p) at $URL"
			return 0
		fi
		# Another session's server (or a colleague's): the tests only need
		# an endpoint, so use it; `stop` will leave it alone.
		log "already served at $URL by a process this script did not start; using it"
		return 0
	fi
	if p="$(pid)"; then
		log "pid $p exists but is not healthy; stopping it first"
		stop
	fi
	install
	mkdir -p "$(dirname "$PIDFILE")"
	log "starting on $URL (log: $LOGFILE)"
	# setsid: its own process group, so `stop` also ends the bootstrap
	# processes it spawned.
	#
	# env -i: MiniStack hands its whole environment to every bootstrap it
	# runs, so a clean one keeps the caller's variables (a real AWS_PROFILE,
	# CHURNOPS_* settings) from leaking into functions and hiding a missing
	# Environment entry in the template or the test's CreateFunction.
	local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
	(
		cd "$VENV"
		exec env -i PATH="$PATH" HOME="${HOME:-/tmp}" TMPDIR="${TMPDIR:-/tmp}" LANG=C.UTF-8 \
			BIND_HOST="$HOST" GATEWAY_PORT="$PORT" LOG_LEVEL="${MINISTACK_LOG_LEVEL:-INFO}" \
			AUTH="${MINISTACK_AUTH:-true}" \
			AWS_ENDPOINT_URL="$URL" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
			AWS_REGION="$region" AWS_DEFAULT_REGION="$region" MINISTACK_REGION="$region" \
			setsid "$VENV/bin/ministack" </dev/null >"$LOGFILE" 2>&1
	) &
	echo $! >"$PIDFILE"
	local deadline=$((SECONDS + TIMEOUT))
	while ! healthy; do
		if ! pid >/dev/null; then
			log "exited during start-up; last log lines:"
			tail -n 20 "$LOGFILE" >&2 || true
			rm -f "$PIDFILE"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "not healthy after ${TIMEOUT}s; stopping it. Last log lines:"
			tail -n 20 "$LOGFILE" >&2 || true
			stop
			return 1
		fi
		sleep 0.2
	done
	log "healthy (pid $(cat "$PIDFILE")) at $URL"
}

stop() {
	local p
	if ! p="$(pid)"; then
		rm -f "$PIDFILE"
		log "not running"
		return 0
	fi
	log "stopping pid $p"
	# The server leads its own process group (setsid): signal the group.
	kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$p" 2>/dev/null; then
		log "still alive after 10s; sending KILL"
		kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
}

status() {
	if healthy; then
		log "healthy at $URL (pid $(pid || echo '?'))"
		return 0
	fi
	if p="$(pid)"; then
		log "pid $p is running but not healthy at $URL"
	else
		log "not running"
	fi
	return 1
}

env_exports() {
	cat <<EOF
export AWS_ENDPOINT_URL=$URL
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=${AWS_REGION:-us-east-1}
EOF
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
status) status ;;
env) env_exports ;;
*)
	echo "usage: $0 install|start|stop|status|env" >&2
	exit 2
	;;
esac
