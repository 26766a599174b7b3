#!/usr/bin/env bash
# Load test of `churnops serve` on demo data, loopback only, bounded time
# (make bench-serve). It runs the same loads against the real service and
# against the stand-in /predict of `bench/serve -baseline` (net/http with
# a fixed answer), so that the figures say how much of this machine's
# ceiling churnops uses:
#   - closed loop (wrk if installed, else bench/serve): the most each
#     answers, with latency per exchange;
#   - open loop (bench/serve -rate): RATES requests/s due on a schedule,
#     latency counted from when each was due.
# Environment: DURATION (default 8s), RATES (default "10000 20000"),
# CONNS (closed-loop connections, default "8 16 64"), SERVE_ENV (e.g.
# GOMAXPROCS=1, for the server only).
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
DURATION=${DURATION:-8s}
RATES=${RATES:-10000 20000}
CONNS=${CONNS:-8 16 64}
SERVE_ENV=${SERVE_ENV:-}

d=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$d"
}
trap cleanup EXIT

$GO build -o "$d/churnops" ./cmd/churnops
$GO build -o "$d/loadgen" ./bench/serve
"$d/churnops" demo --dir "$d/demo" --quiet >/dev/null
users=$d/demo/data/month_003/users.csv

env $SERVE_ENV "$d/churnops" serve --state "$d/demo/state" --addr 127.0.0.1:18000 --access-log=false 2>"$d/serve.log" &
pids+=($!)
env $SERVE_ENV "$d/loadgen" -baseline 127.0.0.1:18001 2>"$d/baseline.log" &
pids+=($!)
for port in 18000 18001; do # up once they answer (churnops: 404 for an unknown user)
	for _ in $(seq 50); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
			-d '{"user_id":"probe"}' "http://127.0.0.1:$port/predict" || true)
		[ "$code" != 000 ] && break
		sleep 0.2
	done
done

# cpu PID BEFORE OUTPUT [bound]: the server's CPU time (user + system,
# from /proc) per request answered during the run whose output is OUTPUT.
# It is steadier than req/s on a shared machine. Under a saturating
# (closed-loop) load, 2 cores divided by it bounds what the server could
# answer with both cores to itself; at a lower rate a request costs more
# (fewer requests per wake-up), so no bound is printed there.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu() {
	local n
	n=$(grep -o -m1 'requests *[0-9]*' <<<"$3" | grep -o '[0-9]*$' || true)
	[ -n "$n" ] && [ "$n" -gt 0 ] || return 0
	awk -v t=$(($(ticks "$1") - $2)) -v hz="$(getconf CLK_TCK)" -v n="$n" -v bound="${4:-}" 'BEGIN {
		us = t * 1e6 / hz / n
		printf "server CPU %.0f µs/request", us
		if (bound) printf " (2 cores / that = %.0fk req/s at most)", 2e3 / us
		printf "\n" }'
}

echo "# machine: $(nproc) cores; server env: ${SERVE_ENV:-default}; $DURATION per run"
for target in "churnops serve=18000=${pids[0]}" "baseline (net/http, fixed answer)=18001=${pids[1]}"; do
	name=${target%%=*}
	rest=${target#*=}
	url=http://127.0.0.1:${rest%=*}/predict
	pid=${rest#*=}
	echo
	echo "## $name"
	for c in $CONNS; do
		t0=$(ticks "$pid")
		if command -v wrk >/dev/null; then
			echo "== closed loop, wrk, $c connections"
			out=$(USERS=$users wrk -t1 -c"$c" -d"$DURATION" -s bench/serve/predict.lua "$url" | tail -5)
		else
			echo "== closed loop, bench/serve, $c connections (apt-get install wrk for a lighter generator)"
			out=$("$d/loadgen" -url "$url" -duration "$DURATION" -concurrency "$c" -users-file "$users" | tail -4)
		fi
		echo "$out"
		cpu "$pid" "$t0" "$out" bound
	done
	for r in $RATES; do
		echo "== open loop, bench/serve, $r req/s due"
		t0=$(ticks "$pid")
		out=$("$d/loadgen" -url "$url" -duration "$DURATION" -rate "$r" -concurrency 64 -users-file "$users" | tail -n +3 || true)
		echo "$out"
		cpu "$pid" "$t0" "$out"
	done
done
