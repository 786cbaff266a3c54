#!/usr/bin/env bash
# test/bench/living.sh — issue 25's numbers, in one run on this machine:
#   - POST /feedback: events/s in batches of 1,000 and single-event requests/s (wrk, feedback.lua;
#     every 202 is a committed transaction), and the rows the table gained;
#   - /recommendations saturated (wrk -t2 -c8) with impressions recorded and with
#     --impressions-queue 0, alternated off/on/off/on in the same run;
#   - the online gate's A/A false-positive rate and A/B power (gate-sim, many seeds).
# Writes test/bench/results/living.json (the `living` part of test/bench/run: `make bench`,
# `make bench-living`; test/bench/render puts its rows in results/README.md) and living.md.
# Needs the services of $LENSFLOW_HOME (scripts/services up) and $BUILD/bench/gate-sim;
# BENCH_SECONDS (10) per wrk run; BENCH_QUICK=1 marks the results as a quick run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${BIN:-$REPO/bin}
HB=$REPO/${BUILD:-build/release}/bench
DATA=${LENSFLOW_DATA_URL:-$REPO/../shared/data/ml-100k}
SECS=${BENCH_SECONDS:-10}
OUT=${BENCH_RESULTS:-$HERE/results}/living.md
JSON=${BENCH_RESULTS:-$HERE/results}/living.json
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s.%N)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
home=${LENSFLOW_HOME:-$REPO/.lensflow/test}
set -a
# shellcheck disable=SC1091
. "$home/services.env"
set +a
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
"$PG_BIN/psql" -q -X "$LENSFLOW_PG_ADMIN_URL" -c 'DROP DATABASE IF EXISTS bench_living WITH (FORCE)' \
	-c 'CREATE DATABASE bench_living' >/dev/null
export DATABASE_URL=$LENSFLOW_PG_URL_BASE/bench_living
"$BIN/ml-fetch" --source "$DATA" ratings >"$work/ratings.tsv" 2>/dev/null
"$BIN/ml-fetch" --source "$DATA" movies >"$work/movies.tsv" 2>/dev/null
"$BIN/ml-train" -q >"$work/model.lfe" <"$work/ratings.tsv"
"$BIN/ml-pgload" -q --catalogue --movies "$work/movies.tsv" --ratings "$work/ratings.tsv" >/dev/null
"$BIN/ml-pgload" -q --load 1 --switch <"$work/model.lfe" >/dev/null
export LENSFLOW_FEEDBACK_TOKEN=bench-$RANDOM$RANDOM
port=$((20000 + RANDOM % 10000))

serve() { # serve ARGS...: ml-serve on $port until stop
	MLFLOW_TRACKING_URI='' "$BIN/ml-serve" --listen "127.0.0.1:$port" --threads 4 "$@" \
		2>>"$work/serve.err" &
	pid=$!
	for _ in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
		sleep 0.1
	done
	echo "ml-serve did not start" >&2
	exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" || true; }
rows() { "$PG_BIN/psql" -X -A -t "$DATABASE_URL" -c 'SELECT count(*) FROM feedback'; }
wrk_json() { grep '^{' | tail -n 1; }

serve
r0=$(rows)
batch=$(BENCH_EVENTS=1000 wrk -t2 -c4 -d"${SECS}s" -s "$HERE/feedback.lua" "http://127.0.0.1:$port" | wrk_json)
r1=$(rows)
single=$(BENCH_EVENTS=1 wrk -t2 -c8 -d"${SECS}s" -s "$HERE/feedback.lua" "http://127.0.0.1:$port" | wrk_json)
r2=$(rows)
stop

declare -a on off
for round in 1 2; do
	for mode in off on; do
		if [ "$mode" = off ]; then serve --impressions-queue 0; else serve; fi
		BENCH_PATH='/recommendations/{id}?k=10' BENCH_IDS=943 wrk -t2 -c8 -d2s \
			-s "$HERE/wrk.lua" "http://127.0.0.1:$port" >/dev/null # warm
		j=$(BENCH_PATH='/recommendations/{id}?k=10' BENCH_IDS=943 wrk -t2 -c8 -d"${SECS}s" \
			-s "$HERE/wrk.lua" "http://127.0.0.1:$port" | wrk_json)
		dropped=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "lensflow_impressions_dropped_total" { print $2 }')
		stop
		if [ "$mode" = on ]; then on+=("$(jq -r .rps <<<"$j") $dropped"); else off+=("$(jq -r .rps <<<"$j")"); fi
		jq -c --arg name "/recommendations saturated, impressions $mode, round $round" \
			--arg d "$dropped" '{name: $name} + . + (if $d == "" then {} else {impressions_dropped: ($d | tonumber)} end)' \
			<<<"$j" >>"$work/figures.jsonl"
	done
done
gate=$("$HB/gate-sim" --trials 20000 --n 1000 --p0 0.2 --lift 0.15
	"$HB/gate-sim" --trials 20000 --n 5000 --p0 0.2 --lift 0.15 | tail -n 2
	"$HB/gate-sim" --trials 20000 --n 1000 --p0 0.05 --lift 0.3 | tail -n 2)

# living.json: as test/bench/lib.sh's finish_section writes a part's results
jq -c --arg name "/feedback, batches of 1,000 (wrk -t2 -c4)" --argjson rows "$((r1 - r0))" \
	'{name: $name} + . + {events_per_s: (.rps * 1000), rows_gained: $rows}' <<<"$batch" >>"$work/figures.jsonl"
jq -c --arg name "/feedback, one event a request (wrk -t2 -c8)" --argjson rows "$((r2 - r1))" \
	'{name: $name} + . + {rows_gained: $rows}' <<<"$single" >>"$work/figures.jsonl"
awk -F'\t' 'NR > 1 && $1 != "kind" {
	printf "{\"name\": \"online gate: %s, n %s a arm, p0 %s, p1 %s\", \"kind\": \"%s\", \"trials\": %s, \"n\": %s, \"p0\": %s, \"p1\": %s, \"alpha\": %s, \"passes\": %s, \"pass_rate\": %s, \"se\": %s}\n",
		$1, $3, $4, $5, $1, $2, $3, $4, $5, $6, $7, $8, $9 }' <<<"$gate" >>"$work/figures.jsonl"
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$REPO" diff --quiet HEAD -- tools lib sql 2>/dev/null || commit="$commit+dirty"
jq -s --arg started "$started" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" \
	--argjson wall "$(echo "$(date +%s.%N) - $t0" | bc)" --argjson quick "${BENCH_QUICK:-0}" \
	--arg cpu "$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)" --argjson nproc "$(nproc)" \
	--argjson mem "$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)" \
	--arg kernel "$(uname -r)" --arg load "$load0" --argjson secs "$SECS" \
	'{section: "living", commit: $commit, started_utc: $started, finished_utc: $finished,
	  wall_s: ($wall * 100 | round / 100), quick: ($quick == 1), seconds_per_run: $secs,
	  machine: {nproc: $nproc, cpu_model: $cpu, memory_gib: $mem, kernel: $kernel, loadavg_at_start: $load},
	  figures: .}' "$work/figures.jsonl" >"$JSON.tmp"
mv "$JSON.tmp" "$JSON"

{
	echo "# Living data (issue 25): $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$REPO" rev-parse --short HEAD), $(nproc) CPUs, load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
	echo
	echo "ml-serve --threads 4 on ML-100k, wrk on the same machine, ${SECS} s a run. Every 202 of"
	echo "POST /feedback is a committed transaction."
	echo
	echo "| measure | target | measured |"
	echo "| --- | --- | --- |"
	printf '| /feedback, batches of 1,000 (wrk -t2 -c4) | >= 20,000 events/s | %.0f events/s (%s req/s, p99 %s ms, %s non-2xx; the table gained %s rows) |\n' \
		"$(jq -r '.rps * 1000' <<<"$batch")" "$(jq -r .rps <<<"$batch")" "$(jq -r .p99_ms <<<"$batch")" \
		"$(jq -r .non2xx <<<"$batch")" "$((r1 - r0))"
	printf '| /feedback, one event a request (wrk -t2 -c8) | >= 1,500 req/s | %s req/s (p99 %s ms, %s non-2xx; %s rows) |\n' \
		"$(jq -r .rps <<<"$single")" "$(jq -r .p99_ms <<<"$single")" "$(jq -r .non2xx <<<"$single")" "$((r2 - r1))"
	for i in 0 1; do
		read -r rps_on dropped <<<"${on[$i]}"
		printf '| /recommendations saturated, round %d: impressions on / off | on >= 95 %% of off | %s / %s req/s = %.1f %% (%s dropped) |\n' \
			"$((i + 1))" "$rps_on" "${off[$i]}" "$(echo "100 * $rps_on / ${off[$i]}" | bc -l)" "$dropped"
	done
	echo
	echo "The online gate (lib/online_gate.h: one-sided two-proportion z-test with continuity"
	echo "correction, alpha 0.05), on simulated experiments (test/bench/gate-sim, 20,000 seeds each):"
	echo "aa = the same hit rate in both arms (its pass rate is the false-positive rate, target <= 5 %),"
	echo "ab = the challenger's hit rate p1 = p0 x (1 + lift) (its pass rate is the power)."
	echo
	echo '```'
	echo "$gate"
	echo '```'
} >"$OUT"
cat "$OUT"
