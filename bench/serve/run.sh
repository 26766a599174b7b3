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
#
# Layout (LAYOUT): the load generator runs on this machine too, and where
# it runs decides much of the tail latency.
#   - split (default, with taskset and 2+ CPUs): the server is pinned to
#     its own CPUs (CPU 0 on a 2-CPU machine, CPUs 0-1 on a larger one) and
#     the load generator to the others. Neither waits for the other's time
#     slice, so latencies are the server's. On a 2-CPU machine the server
#     has one core: half of what the goal allows it.
#   - shared: both float over all CPUs, as they would by default. A
#     request then often waits a scheduler tick (4 ms at HZ=250) behind
#     the other program, which shows in p99.
# Environment: LAYOUT, ROUNDS (closed-loop runs per setting, default 1;
# with more, a median line follows; then how many met the goal), DURATION (default 8s), RATES
# (default "10000 20000"; empty: no open loop), CONNS (closed-loop
# connections, default "8 16 64"; empty: no closed loop), SERVE_ENV (e.g.
# GOMAXPROCS=1, for the server only).
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
DURATION=${DURATION:-8s}
RATES=${RATES-10000 20000} # RATES="" skips the open loop
CONNS=${CONNS-8 16 64}    # CONNS="" skips the closed loop
SERVE_ENV=${SERVE_ENV:-}
ROUNDS=${ROUNDS:-1}
LAYOUT=${LAYOUT:-split}

ncpu=$(nproc)
span() { if [ "$1" = "$2" ]; then echo "$1"; else echo "$1-$2"; fi; } # CPUs $1..$2 for taskset
server_pin=() # command prefixes; empty in the shared layout
gen_pin=()
server_cores=$ncpu
gen_threads=1
where="server and load generator share all CPUs"
case $LAYOUT in
split)
	if ! command -v taskset >/dev/null || [ "$ncpu" -lt 2 ]; then
		echo "bench-serve: LAYOUT=split needs taskset (util-linux) and 2+ CPUs; running LAYOUT=shared" >&2
		LAYOUT=shared
	else
		server_cores=$((ncpu >= 4 ? 2 : 1))
		server_cpus=$(span 0 $((server_cores - 1)))
		gen_cpus=$(span "$server_cores" $((ncpu - 1)))
		server_pin=(taskset -c "$server_cpus")
		gen_pin=(taskset -c "$gen_cpus")
		gen_threads=$((ncpu - server_cores > 4 ? 4 : ncpu - server_cores))
		where="server on CPU $server_cpus, load generator on CPU $gen_cpus"
	fi
	;;
shared) ;;
*)
	echo "bench-serve: LAYOUT must be split or shared, not $LAYOUT" >&2
	exit 2
	;;
esac

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

# SERVE_ENV is split on purpose: it holds NAME=value words for env.
# shellcheck disable=SC2086
"${server_pin[@]}" env $SERVE_ENV "$d/churnops" serve --state "$d/demo/state" --addr 127.0.0.1:18000 --access-log=false 2>"$d/serve.log" &
pids+=($!)
# shellcheck disable=SC2086
"${server_pin[@]}" env $SERVE_ENV "$d/loadgen" -baseline 127.0.0.1:18001 2>"$d/baseline.log" &
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
# (closed-loop) load, the server's cores divided by it bound what it could
# answer with those cores to itself; at a lower rate a request costs more
# (fewer requests per wake-up), so no bound is printed there.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu() {
	local n
	n=$(grep -o -m1 'requests *[0-9]*' <<<"$3" | grep -o '[0-9]*$' || true)
	[ -n "$n" ] && [ "$n" -gt 0 ] || return 0
	awk -v t=$(($(ticks "$1") - $2)) -v hz="$(getconf CLK_TCK)" -v n="$n" -v bound="${4:-}" -v cores="$server_cores" 'BEGIN {
		us = t * 1e6 / hz / n
		printf "server CPU %.0f µs/request", us
		if (bound) printf " (%d core%s / that = %.0fk req/s at most)", cores, (cores > 1 ? "s" : ""), cores * 1e3 / us
		printf "\n" }'
}

# figures OUTPUT: "req/s p99-in-ms" of a closed-loop run (wrk or bench/serve).
figures() {
	awk '/req\/s/ && !rate { for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) { v = $(i - 1); gsub(/[(]/, "", v); rate = v } }
		/^latency p99 / { p99 = $3 }
		/^latency +p50/ { for (i = 1; i <= NF; i++) if ($i == "p99") { v = $(i + 1)
			if (v ~ /µs$/) p99 = v / 1000; else if (v ~ /ms$/) p99 = v + 0; else p99 = v * 1000 } }
		END { print rate + 0, p99 + 0 }' <<<"$1"
}

# summary FILE: the median req/s and p99 of the "req/s p99" lines in FILE
# (with more than one), and how many runs met issue #6's goal for
# single-user predictions: GOAL_RPS req/s or more with p99 under GOAL_P99_MS.
GOAL_RPS=20000
GOAL_P99_MS=5
summary() {
	local n m r p met
	n=$(wc -l <"$1")
	m=$(((n + 1) / 2))
	if [ "$n" -gt 1 ]; then
		r=$(cut -d' ' -f1 "$1" | sort -g | sed -n "${m}p")
		p=$(cut -d' ' -f2 "$1" | sort -g | sed -n "${m}p")
		printf "median of %d runs: %.0f req/s, p99 %.3f ms\n" "$n" "$r" "$p"
	fi
	met=$(awk -v rps="$GOAL_RPS" -v p99="$GOAL_P99_MS" '$1 >= rps && $2 < p99 { k++ } END { print k + 0 }' "$1")
	echo "goal (>= $GOAL_RPS req/s, p99 < $GOAL_P99_MS ms): met in $met of $n run(s)"
}

echo "# machine: $ncpu CPUs; layout $LAYOUT: $where; server env: ${SERVE_ENV:-default}; $DURATION per run"
for target in "churnops serve=18000=${pids[0]}" "baseline (net/http, fixed answer)=18001=${pids[1]}"; do
	name=${target%%=*}
	rest=${target#*=}
	url=http://127.0.0.1:${rest%=*}/predict
	pid=${rest#*=}
	echo
	echo "## $name"
	for c in $CONNS; do
		: >"$d/runs"
		for round in $(seq "$ROUNDS"); do
			t0=$(ticks "$pid")
			label=""
			[ "$ROUNDS" -gt 1 ] && label=" (run $round of $ROUNDS)"
			if command -v wrk >/dev/null; then
				echo "== closed loop, wrk, $c connections$label"
				out=$(USERS=$users "${gen_pin[@]}" wrk -t"$((c < gen_threads ? c : gen_threads))" -c"$c" -d"$DURATION" -s bench/serve/predict.lua "$url" | tail -5)
			else
				echo "== closed loop, bench/serve, $c connections$label (apt-get install wrk for a lighter generator)"
				out=$("${gen_pin[@]}" "$d/loadgen" -url "$url" -duration "$DURATION" -concurrency "$c" -users-file "$users" | tail -4)
			fi
			echo "$out"
			cpu "$pid" "$t0" "$out" bound
			figures "$out" >>"$d/runs"
		done
		summary "$d/runs"
	done
	for r in $RATES; do
		echo "== open loop, bench/serve, $r req/s due"
		t0=$(ticks "$pid")
		out=$("${gen_pin[@]}" "$d/loadgen" -url "$url" -duration "$DURATION" -rate "$r" -concurrency 64 -users-file "$users" | tail -n +3 || true)
		echo "$out"
		cpu "$pid" "$t0" "$out"
	done
done
