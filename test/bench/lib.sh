# test/bench/lib.sh — helpers of test/bench/run (sourced): results, /proc CPU,
# ml-serve start/stop, the load generators (wrk, loadgen, pgbench) as JSON.
# Every measurement is one JSON object; fig() appends it, with its name and
# UTC time, to the section's figures; finish_section() writes
# results/<section>.json with the machine and the commit.

CLK_TCK=$(getconf CLK_TCK)

utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }
say() { printf 'bench: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

machine_json() {
	local model mem
	model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	[ -n "$model" ] || model=$(lscpu 2>/dev/null | awk -F': *' '/Model name/ {print $2; exit}')
	mem=$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
	jq -nc --arg cpu "$model" --argjson nproc "$(nproc)" --argjson mem "$mem" \
		--arg kernel "$(uname -r)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		'{nproc: $nproc, cpu_model: $cpu, memory_gib: $mem, kernel: $kernel, loadavg_at_start: $load}'
}

commit_id() {
	local c
	c=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$REPO" diff --quiet HEAD -- tools lib sql 2>/dev/null || c="$c+dirty"
	echo "$c"
}

# start_section NAME: a fresh list of figures for results/NAME.json
start_section() {
	SECTION=$1
	SECTION_START=$(utc)
	SECTION_T0=$(date +%s.%N)
	SECTION_MACHINE=$(machine_json)
	: >"$WORK/$SECTION.jsonl"
	say "== $SECTION =="
}

# fig NAME JSON [NOTE]: one figure
fig() {
	local note=${3:-}
	jq -c --arg name "$1" --arg at "$(utc)" --arg note "$note" \
		'{name: $name, at: $at} + . + (if $note == "" then {} else {note: $note} end)' \
		<<<"$2" >>"$WORK/$SECTION.jsonl"
	say "$1: $(jq -c . <<<"$2" | cut -c1-220)"
}

finish_section() {
	local wall out=$RESULTS/$SECTION.json
	wall=$(echo "$(date +%s.%N) - $SECTION_T0" | bc)
	mkdir -p "$RESULTS"
	jq -s --arg section "$SECTION" --arg started "$SECTION_START" --arg finished "$(utc)" \
		--arg commit "$(commit_id)" --argjson machine "$SECTION_MACHINE" \
		--argjson wall "$wall" --argjson quick "${BENCH_QUICK:-0}" \
		'{section: $section, commit: $commit, started_utc: $started, finished_utc: $finished,
		  wall_s: ($wall * 100 | round / 100), quick: ($quick == 1), machine: $machine,
		  figures: .}' "$WORK/$SECTION.jsonl" >"$out.tmp"
	mv "$out.tmp" "$out"
	say "wrote $out ($wall s)"
}

# ---- CPU time from /proc (clock ticks) ----------------------------------------
# utime+stime of one process; with "all", its waited-for children's too.
ticks_of() {
	[ -r "/proc/$1/stat" ] || {
		echo 0
		return
	}
	awk -v all="${2:-}" '{ sub(/^.*\) /, ""); t = $12 + $13; if (all == "all") t += $14 + $15; print t }' \
		"/proc/$1/stat"
}

# Every Postgres process of the bench's server: the postmaster (with the exited
# backends it waited for) and its live children.
pg_ticks() {
	local pm t c
	pm=$(head -1 "$LENSFLOW_HOME/pg/data/postmaster.pid")
	t=$(ticks_of "$pm" all)
	for c in $(pgrep -P "$pm"); do
		t=$((t + $(ticks_of "$c")))
	done
	echo "$t"
}

# µs of CPU per request from two tick counts and a request count
us_per() { jq -n --argjson d "$1" --argjson n "$2" --argjson hz "$CLK_TCK" \
	'if $n > 0 then ($d / $hz * 1e6 / $n * 10 | round / 10) else null end'; }

# ---- ml-serve -------------------------------------------------------------------
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
			echo "$p"
			return
		}
	done
	die "no free port"
}

# await_200 URL PID TRIES PAUSE: 0 once URL answers 200; 1 when PID has exited or
# TRIES checks PAUSE seconds apart found no 200
await_200() {
	for _ in $(seq "$3"); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep "$4"
	done
	return 1
}

# serve_start MODEL [DB_URL] [ml-serve options…]: starts ml-serve, waits for /readyz
serve_start() {
	local model=$1 db=${2:-$DATABASE_URL}
	shift 2 || shift $#
	SERVE_PORT=$(free_port)
	SERVE_ADDR=127.0.0.1:$SERVE_PORT
	"$BIN/ml-serve" --listen "$SERVE_ADDR" --model-name "$model" --db "$db" "$@" \
		>"$WORK/ml-serve.log" 2>&1 &
	SERVE_PID=$!
	await_200 "http://$SERVE_ADDR/readyz" "$SERVE_PID" 150 0.2 && return 0
	cat "$WORK/ml-serve.log" >&2
	die "ml-serve did not become ready"
}

serve_stop() {
	[ -n "${SERVE_PID:-}" ] || return 0
	kill "$SERVE_PID" 2>/dev/null || true
	wait "$SERVE_PID" 2>/dev/null || true
	SERVE_PID=
}

# requests ml-serve has answered (its own counter, every route)
served() {
	curl -s "http://$SERVE_ADDR/metrics" |
		awk '/^lensflow_http_requests_total/ {n += $NF} END {printf "%d\n", n}'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# ml-serve's own request-duration histogram (/metrics), summed over routes: "le count"
# lines, le in seconds, +Inf last. Counts may be written as reals ("123.0": the
# Python service's prometheus_client), and le need not be the last label.
server_buckets() {
	curl -s "http://$SERVE_ADDR/metrics" | sed -n \
		's/^lensflow_http_request_duration_seconds_bucket{.*le="\([^"]*\)".*} \([0-9][0-9.e+]*\)$/\1 \2/p' |
		awk '{c[$1] += $2; if (!($1 in o)) {o[$1] = n++; k[n - 1] = $1}}
			END {for (i = 0; i < n; i++) print k[i], c[k[i]]}'
}

# server_quantiles BEFORE AFTER: JSON {server_p50_le_ms, server_p99_le_ms}: the upper
# bound of the histogram bucket that holds ml-serve's own p50 / p99 over the run
# (time from the request read to the answer written; the client's figures add
# the wait before ml-serve reads the request and the loopback both ways)
server_quantiles() {
	awk 'FNR == NR {b[$1] = $2; next}
		{le[++n] = $1; d[n] = $2 - ($1 in b ? b[$1] : 0)}
		END {
			t = n ? d[n] : 0; p50 = p99 = "null"
			for (i = 1; i <= n && t > 0; i++) {
				v = le[i] == "+Inf" ? "null" : le[i] * 1000
				if (p50 == "null" && d[i] >= 0.5 * t) p50 = v
				if (p99 == "null" && d[i] >= 0.99 * t) p99 = v
			}
			printf "{\"server_p50_le_ms\": %s, \"server_p99_le_ms\": %s}\n", p50, p99 }' \
		<(echo "$1") <(echo "$2")
}

# under_load CMD…: runs a load command (its last stdout line is JSON) and adds
# ml-serve's and Postgres's CPU µs per request, ml-serve's own p50/p99 and its
# RSS at the end. Requests are counted by ml-serve's histogram (the +Inf bucket,
# every route: what served() reads), less the first scrape of /metrics.
under_load() {
	local a0 p0 a1 p1 out rss b0 b1
	b0=$(server_buckets)
	a0=$(ticks_of "$SERVE_PID")
	p0=$(pg_ticks)
	out=$("$@" | grep '^{' | tail -1)
	a1=$(ticks_of "$SERVE_PID")
	p1=$(pg_ticks)
	rss=$(rss_kb "$SERVE_PID")
	b1=$(server_buckets)
	local n=$(($(awk '$1 == "+Inf" {n = $2} END {print n + 0}' <<<"$b1") - \
		$(awk '$1 == "+Inf" {n = $2} END {print n + 0}' <<<"$b0") - 1))
	jq -c --argjson api "$(us_per $((a1 - a0)) $n)" --argjson pg "$(us_per $((p1 - p0)) $n)" \
		--argjson rss "$rss" --argjson n "$n" --argjson sq "$(server_quantiles "$b0" "$b1")" \
		'. + {served: $n, api_cpu_us_per_req: $api, pg_cpu_us_per_req: $pg,
		      serve_rss_mb: ($rss / 1024 * 10 | round / 10)} + $sq' <<<"$out"
}

# ---- load generators -----------------------------------------------------------
# wrk_run PATH IDS THREADS CONNS SECONDS: closed loop, JSON from test/bench/wrk.lua
wrk_run() {
	BENCH_PATH=$1 BENCH_IDS=$2 wrk -t"$3" -c"$4" -d"$5"s -s "$HERE/wrk.lua" "http://$SERVE_ADDR" |
		grep '^{' | jq -c --argjson t "$3" --argjson c "$4" '. + {tool: "wrk", threads: $t, conns: $c}'
}

# loadgen_run PATH IDS CONNS RATE SECONDS [LOADGEN OPTION…] (RATE 0: closed loop)
loadgen_run() {
	"$HB/loadgen" --addr "$SERVE_ADDR" --path "$1" --ids "$2" --conns "$3" --rate "$4" \
		--duration "$5" --warmup 1 "${@:6}" | jq -c '. + {tool: "loadgen"}'
}

# pgbench_run SCRIPT CLIENTS SECONDS [PGOPTIONS] [RATE]: the database floor; JSON
# with tps, latency percentiles from pgbench's per-transaction log, Postgres CPU
# µs/query and pgbench's own CPU µs/query (the client side of the same round trip).
# RATE > 0: open loop, pgbench -R (Poisson arrivals); a transaction's logged time
# then runs from its scheduled start, so waiting for a free client counts.
pgbench_run() {
	local script=$1 c=$2 secs=$3 opts=${4:-} rate=${5:-0} j=1 p0 p1 out tps lat cl
	local -a throttle=()
	[ "$c" -gt 1 ] && j=2
	[ "$rate" -gt 0 ] && throttle=(-R "$rate")
	rm -f "$WORK"/pgblog*
	p0=$(pg_ticks)
	# `times` in the subshell: the user and system time of its child, pgbench
	out=$(cd "$WORK" && {
		PGOPTIONS="$opts" "$PG_BIN/pgbench" -n -M prepared -c "$c" -j "$j" "${throttle[@]}" \
			-T "$secs" -f "$script" --log --log-prefix=pgblog "$DATABASE_URL" >pgbench.out 2>&1 &&
			times >pgbench.times
	} && cat pgbench.out) || die "pgbench failed: $(cat "$WORK/pgbench.out")"
	sleep 0.3 # the backends' exit: the postmaster must have reaped them (cutime)
	p1=$(pg_ticks)
	tps=$(awk '/^tps = / {print $3; exit}' <<<"$out")
	lat=$(cat "$WORK"/pgblog* | awk '{print $3}' | sort -n |
		awk '{v[NR] = $1} END {
			printf "{\"queries\": %d, \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"mean_ms\": %.4f}",
			NR, v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000, 0 }')
	local n
	n=$(jq .queries <<<"$lat")
	# times' second line: "0m0.150s 0m0.670s" (children's user, system)
	cl=$(awk 'NR == 2 {
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%.6f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$WORK/pgbench.times")
	jq -c --argjson tps "$tps" --argjson c "$c" --argjson pg "$(us_per $((p1 - p0)) "$n")" \
		--arg opts "$opts" --argjson rate "$rate" --argjson cl "$cl" \
		'. + {tool: "pgbench -M prepared", clients: $c, rps: ($tps * 10 | round / 10),
		      pg_cpu_us_per_req: $pg,
		      client_cpu_us_per_req: (if .queries > 0 then ($cl * 1e6 / .queries * 10 | round / 10) else null end),
		      pgoptions: $opts}
		 + (if $rate > 0 then {rate_target: $rate, arrivals: "poisson"} else {} end)
		 | del(.mean_ms)' <<<"$lat"
}

# pgloop_run SQL_FILE THREADS SECONDS [PGOPTIONS]: floor (c) in ml-serve's own shape
# (test/bench/pgloop: a thread per libpq connection, blocking, prepared, binary
# rows; SQL_FILE with $1 for the user), with Postgres CPU µs/query added
pgloop_run() {
	local p0 p1 out
	p0=$(pg_ticks)
	out=$(PGOPTIONS="${4:-}" "$HB/pgloop" --sql "$1" --threads "$2" --duration "$3" \
		--users 943) || die "pgloop failed"
	sleep 0.3 # the backends' exit (cutime)
	p1=$(pg_ticks)
	jq -c --argjson pg "$(us_per $((p1 - p0)) "$(jq .queries <<<"$out")")" --arg opts "${4:-}" \
		'. + {tool: "test/bench/pgloop", pg_cpu_us_per_req: $pg, pgoptions: $opts}' <<<"$out"
}

# minserve_start SQL_FILE: floor (e), test/bench/minserve (civetweb + libpq as
# ml-serve uses them, none of ml-serve's own work) on a free port: MIN_ADDR, MIN_PID
minserve_start() {
	local port
	port=$(free_port)
	MIN_ADDR=127.0.0.1:$port
	"$HB/minserve" --sql "$1" --listen "$MIN_ADDR" --threads 8 >"$WORK/minserve.log" 2>&1 &
	MIN_PID=$!
	await_200 "http://$MIN_ADDR/healthz" "$MIN_PID" 50 0.1 && return 0
	die "minserve did not start: $(cat "$WORK/minserve.log")"
}

minserve_stop() {
	[ -n "${MIN_PID:-}" ] || return 0
	kill "$MIN_PID" 2>/dev/null || true
	wait "$MIN_PID" 2>/dev/null || true
	MIN_PID=
}

# minserve_load CMD…: a load command against minserve (SERVE_ADDR pointed at it);
# its JSON with minserve's and Postgres's CPU µs per request, counted by the load
# generator (wrk's requests, loadgen's completed): minserve keeps no counter
minserve_load() {
	local a0 a1 p0 p1 out n
	a0=$(ticks_of "$MIN_PID")
	p0=$(pg_ticks)
	out=$(SERVE_ADDR=$MIN_ADDR "$@" | grep '^{' | tail -1)
	a1=$(ticks_of "$MIN_PID")
	p1=$(pg_ticks)
	n=$(jq '.requests // .completed' <<<"$out")
	jq -c --argjson api "$(us_per $((a1 - a0)) "$n")" --argjson pg "$(us_per $((p1 - p0)) "$n")" \
		'. + {api_cpu_us_per_req: $api, pg_cpu_us_per_req: $pg,
		      server: "test/bench/minserve"}' <<<"$out"
}

# psql on the bench database
sql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

# the serving SQL of ml-serve (tools/ml-serve/db.c) for a user given as EXPR
# served_sql MODEL K [PARAM]: ml-serve's own known-user statement (lib/store, through
# test/tools/store-query) for the model's serving set, the user id as PARAM (default
# pgbench's :uid): the database floors run exactly what ml-serve runs
served_sql() {
	local v
	v=$(sql "SELECT version FROM serving WHERE model_name = '$1'")
	[ -n "$v" ] || die "no serving set of model $1"
	"$STORE_QUERY" --print user_recs "$1" "$v" "$2" | sed "s/\$1/${3:-:uid}/g"
}

# the plain scan in SQL, for recall's LATERAL over many users (scale.sh)
user_recs_sql() { # USERS_TABLE ITEMS_TABLE USER_EXPR K
	printf '%s' "SELECT t.movie_id, -t.d FROM (SELECT embedding FROM $1 WHERE user_id = $3) q,"
	printf '%s' " LATERAL (SELECT v.movie_id, v.embedding <#> q.embedding AS d FROM $2 v"
	printf '%s' " WHERE v.movie_id NOT IN (SELECT r.movie_id FROM ratings r WHERE r.user_id = $3)"
	printf '%s\n' " ORDER BY d LIMIT $4) t ORDER BY t.d"
}

# tables of the serving set of a model: "users items"
set_tables() {
	sql "SELECT e.users_table, e.items_table FROM embedding_sets e JOIN serving s
	     ON s.model_name = e.model_name AND s.version = e.version WHERE e.model_name = '$1'" |
		tr '|' ' '
}

# recall K TRUTH GOT: recall@K of "user TAB movie" lists (GOT against TRUTH)
recall() {
	awk -F'\t' -v k="$1" 'NR == FNR {t[$1 FS $2] = 1; users[$1] = 1; next}
		($1 FS $2) in t {hit++} END {n = 0; for (u in users) n++;
		printf "%.4f\n", n ? hit / (n * k) : 0}' "$2" "$3"
}

# sql_topk USERS_TABLE ITEMS_TABLE USERS_FILE K [PGOPTIONS]: "user TAB movie" by the serving SQL
sql_topk() {
	local ids
	ids=$(paste -sd, "$3")
	PGOPTIONS="${5:-}" "$PG_BIN/psql" -X -q -At -F $'\t' -v ON_ERROR_STOP=1 "$DATABASE_URL" -c \
		"SELECT u.uid, t.movie_id FROM unnest('{$ids}'::int[]) u(uid),
		 LATERAL ($(user_recs_sql "$1" "$2" u.uid "$4")) t"
}

# recs_script MAX_USER: a pgbench script (SQL on stdin) with :uid uniform in 1..MAX_USER
recs_script() {
	printf '\\set uid random(1, %d)\n' "$1"
	cat
}

# the bench database's URL through the server's Unix socket (empty when it has none):
# postmaster.pid line 4 is the port, line 5 the socket directory
unix_url() {
	local pidf=$LENSFLOW_HOME/pg/data/postmaster.pid dir port db
	dir=$(sed -n 5p "$pidf")
	port=$(sed -n 4p "$pidf")
	[ -n "$dir" ] && [ -S "$dir/.s.PGSQL.$port" ] || return 0
	db=${DATABASE_URL##*/}
	db=${db%%\?*}
	echo "postgresql://lensflow@/$db?host=$(jq -rn --arg s "$dir" '$s | @uri')&port=$port"
}
