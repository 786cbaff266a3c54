# test/bench/sections.sh — the ML-100k parts of test/bench/run (sourced):
# pipeline (stages, ml-train, peak RSS of every tool), serve (floors and
# /recommendations, exact and HNSW), profile (perf), ingest, python.

secs_since() { echo "$(date +%s.%N) - $1" | bc | awk '{printf "%.3f\n", $1}'; }

# rss_run NAME CMD…: /usr/bin/time's wall and peak RSS of one tool run (stdin/stdout as given)
rss_run() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$@"
	read -r wall kb <"$WORK/time.out"
	fig "peak RSS: $name" "$(jq -nc --argjson w "$wall" --argjson kb "$kb" \
		'{wall_s: $w, peak_rss_mb: ($kb / 1024 * 10 | round / 10)}')"
}

section_pipeline() {
	start_section pipeline
	local t0 out run
	# the first run of a fresh home fetches and caches the data; the second is the figure
	t0=$(date +%s.%N)
	out=$(make -s --no-print-directory -C "$REPO" pipeline 2>"$WORK/pipeline1.err")
	fig "make pipeline, first run of this home (services up)" \
		"$(jq -c --argjson w "$(secs_since "$t0")" '{wall_s: $w, timings_s}' <<<"$out")"
	t0=$(date +%s.%N)
	out=$(make -s --no-print-directory -C "$REPO" pipeline 2>"$WORK/pipeline2.err")
	fig "make pipeline, services already up" \
		"$(jq -c --argjson w "$(secs_since "$t0")" \
			'{wall_s: $w, sum_of_stages_s: ([.timings_s[]] | add * 1000 | round / 1000),
			  timings_s, ndcg_at_10: .metrics["ndcg@10"], model_version}' <<<"$out")"
	run=$(ls -d "$LENSFLOW_HOME"/runs/*/ | tail -1)

	# ml-train with the pipeline's model (the Makefile's TRAIN_FLAGS) on the pipeline's
	# split, three times; quality of the model
	local walls=() i tf
	read -ra tf <<<"${TRAIN_FLAGS-}"
	for i in 1 2 3; do
		/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$BIN/ml-train" "${tf[@]}" <"$run/train.tsv" \
			>"$WORK/model.lfe" 2>/dev/null
		walls+=("$(cut -d' ' -f1 "$WORK/time.out")")
	done
	local ndcg
	ndcg=$("$BIN/ml-eval" --train "$run/train.tsv" --test "$run/test.tsv" <"$WORK/model.lfe" |
		awk '$1 == "ndcg@10" {print $2}')
	fig "ml-train, pipeline's model, ML-100k" "$(printf '%s\n' "${walls[@]}" | jq -sc \
		--argjson ndcg "$ndcg" --argjson kb "$(cut -d' ' -f2 "$WORK/time.out")" \
		--arg flags "${TRAIN_FLAGS-}" \
		'{runs_s: ., median_s: (sort | .[1]), ndcg_at_10: $ndcg, flags: $flags,
		  peak_rss_mb: ($kb / 1024 * 10 | round / 10)}')"

	# a lever: BLAS threading (ml-train's --threads; 2 is its default)
	/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$BIN/ml-train" "${tf[@]}" --threads 1 \
		<"$run/train.tsv" \
		>/dev/null 2>&1
	fig "lever: ml-train --threads 1" "$(jq -nc --argjson w "$(cut -d' ' -f1 "$WORK/time.out")" \
		'{wall_s: $w}')"

	# peak RSS of every tool on ML-100k (ml-serve's is measured under load in serve)
	rss_run ml-fetch "$BIN/ml-fetch" ratings >"$WORK/ratings.tsv" 2>/dev/null
	rss_run ml-split "$BIN/ml-split" --test "$WORK/test.tsv" <"$WORK/ratings.tsv" \
		>"$WORK/train.tsv"
	rss_run ml-train "$BIN/ml-train" "${tf[@]}" <"$WORK/train.tsv" >"$WORK/model.lfe" 2>/dev/null
	rss_run ml-eval "$BIN/ml-eval" --train "$WORK/train.tsv" --test "$WORK/test.tsv" \
		<"$WORK/model.lfe" >"$WORK/metrics.tsv"
	rss_run ml-mlflow-log "$BIN/ml-mlflow-log" --experiment lensflow-bench --no-register \
		--model "$WORK/model.lfe" <"$WORK/metrics.tsv" >/dev/null
	local v
	v=$(sql "SELECT coalesce(max(version), 0) + 1 FROM embedding_sets WHERE model_name = 'benchrss'")
	rss_run ml-pgload "$BIN/ml-pgload" --model-name benchrss --load "$v" \
		<"$WORK/model.lfe" >/dev/null 2>&1
	"$BIN/ml-pgload" --model-name benchrss --prune --keep 1 >/dev/null 2>&1 || true
	finish_section
}

with_opts() { # DB_URL "-c a=b -c c=d" → the URL with libpq's options parameter
	local enc
	enc=$(jq -rn --arg s "$2" '$s | @uri')
	case $1 in *\?*) echo "$1&options=$enc" ;; *) echo "$1?options=$enc" ;; esac
}

# open_loop LABEL IDS PCT [LOADGEN OPTION…]: one open-loop figure of recs_suite at
# PCT % of the saturated rate SAT_RPS; NAME_TAIL is appended to the figure's name
open_loop() {
	local label=$1 ids=$2 pct=$3 r
	r=$(jq -n --argjson s "$SAT_RPS" --argjson p "$pct" '$s * $p / 100 | floor')
	fig "/recommendations ($label), open loop at $pct % of saturation${NAME_TAIL:-}" \
		"$(under_load loadgen_run '/recommendations/{id}?k=10' "$ids" 16 "$r" "$D_OPEN" "${@:4}" |
			jq -c --argjson p "$pct" '. + {percent_of_saturation: $p}')"
}

# the /recommendations figures of one ml-serve (label: exact or hnsw)
recs_suite() {
	local label=$1 ids=$2 path='/recommendations/{id}?k=10' sat pct
	fig "/recommendations ($label), unloaded" "$(loadgen_run "$path" "$ids" 1 0 "$D_UNL")"
	sat=$(under_load wrk_run "$path" "$ids" 2 8 "$D_SAT")
	fig "/recommendations ($label), saturated" "$sat"
	SAT_RPS=$(jq .rps <<<"$sat")
	for pct in 50 80 95; do
		open_loop "$label" "$ids" "$pct"
	done
	# the same with Poisson arrivals, as floor (c)'s open-loop rows (pgbench -R) have them
	[ "$label" = exact ] || return 0
	for pct in 50 80; do
		NAME_TAIL=', Poisson arrivals' open_loop "$label" "$ids" "$pct" --poisson
	done
}

section_serve() {
	start_section serve
	local users items run
	read -r users items <<<"$(set_tables lensflow)"
	[ -n "$items" ] || die "no serving set of model lensflow: run the pipeline part first"
	run=$(ls -d "$LENSFLOW_HOME"/runs/*/ | tail -1)
	served_sql lensflow 10 | recs_script 943 >"$WORK/recs.sql"

	serve_start lensflow
	fig "(a) HTTP floor: GET /healthz, unloaded" "$(loadgen_run /healthz 0 1 0 "$D_UNL")"
	fig "(a) HTTP floor: GET /healthz, saturated" "$(under_load wrk_run /healthz 0 2 8 "$D_SAT")"
	fig "(b) compute floor: OpenBLAS top-10, 1 thread" \
		"$("$HB/topk" --model "$run/model.lfe" --ratings "$run/ratings.tsv" --bench --queries 20000)"
	fig "(b) compute floor: OpenBLAS top-10, 2 threads" \
		"$("$HB/topk" --model "$run/model.lfe" --ratings "$run/ratings.tsv" --bench \
			--queries 20000 --threads 2)"
	fig "(c) database floor: serving SQL (exact), 1 client" "$(pgbench_run "$WORK/recs.sql" 1 "$D_UNL")"
	local floor8 frate pct
	floor8=$(pgbench_run "$WORK/recs.sql" 8 "$D_SAT")
	fig "(c) database floor: serving SQL (exact), 8 clients" "$floor8"
	# the database floor's own tail under an open loop: what p99 at 80 % can be at best
	for pct in 50 80; do
		frate=$(jq --argjson p "$pct" '.rps * $p / 100 | floor' <<<"$floor8")
		fig "(c) database floor: serving SQL (exact), 8 clients, open loop at $pct % of its saturation" \
			"$(pgbench_run "$WORK/recs.sql" 8 "$D_OPEN" "" "$frate" |
				jq -c --argjson p "$pct" '. + {percent_of_saturation: $p}')"
	done
	# floor (c) in ml-serve's shape: a thread per connection, blocking libpq, binary rows
	served_sql lensflow 10 '$1' >"$WORK/recs1.sql"
	fig "(c) database floor: libpq loop as ml-serve runs the SQL (exact), 1 connection" \
		"$(pgloop_run "$WORK/recs1.sql" 1 "$D_UNL")"
	fig "(c) database floor: libpq loop as ml-serve runs the SQL (exact), 8 connections" \
		"$(pgloop_run "$WORK/recs1.sql" 8 "$D_SAT")"
	# (e) the architecture's floor: civetweb + libpq as ml-serve uses them, nothing else
	serve_stop
	minserve_start "$WORK/recs1.sql"
	fig "(e) architecture floor: civetweb + libpq, no ml-serve code (exact), unloaded" \
		"$(minserve_load loadgen_run '/r/{id}' 943 1 0 "$D_UNL")"
	fig "(e) architecture floor: civetweb + libpq, no ml-serve code (exact), saturated" \
		"$(minserve_load wrk_run '/r/{id}' 943 2 8 "$D_SAT")"
	fig "(e) architecture floor: civetweb + libpq, GET /healthz, saturated" \
		"$(minserve_load wrk_run /healthz 0 2 8 "$D_SAT")"
	minserve_stop
	serve_start lensflow
	# (d) the machine's own floor for tails: how late a sleeping thread wakes, idle
	fig "(d) machine floor: lateness of a 200 µs sleep, idle" "$("$HB/jitter" --samples 20000)"
	fig "(c) database floor: serving SQL (HNSW), 1 client" \
		"$(pgbench_run "$WORK/recs.sql" 1 "$D_UNL" "-c enable_seqscan=off")"
	fig "(c) database floor: serving SQL (HNSW), 8 clients" \
		"$(pgbench_run "$WORK/recs.sql" 8 "$D_SAT" "-c enable_seqscan=off")"
	recs_suite exact 943
	fig "ml-serve RSS after the exact runs" \
		"$(jq -nc --argjson r "$(rss_kb "$SERVE_PID")" --argjson h "$(hwm_kb "$SERVE_PID")" \
			'{rss_mb: ($r / 1024 * 10 | round / 10), peak_rss_mb: ($h / 1024 * 10 | round / 10)}')"
	serve_stop

	# HNSW: the planner scans 1,682 movies exactly; forced with enable_seqscan=off in
	# ml-serve's connections (libpq options in the URL), same set, same SQL
	serve_start lensflow "$(with_opts "$DATABASE_URL" "-c enable_seqscan=off")"
	recs_suite hnsw 943
	serve_stop

	# recall@10 against the model's own dot products (topk), 1..943 sampled
	seq 1 943 | shuf -n "$N_RECALL" --random-source=<(yes) >"$WORK/users.txt"
	"$HB/topk" --model "$run/model.lfe" --ratings "$run/ratings.tsv" --users "$WORK/users.txt" \
		>"$WORK/truth.tsv"
	sql_topk "$users" "$items" "$WORK/users.txt" 10 >"$WORK/exact.tsv"
	sql_topk "$users" "$items" "$WORK/users.txt" 10 "-c enable_seqscan=off" >"$WORK/hnsw.tsv"
	sql_topk "$users" "$items" "$WORK/users.txt" 10 \
		"-c enable_seqscan=off -c hnsw.iterative_scan=relaxed_order" >"$WORK/hnsw_it.tsv"
	sql_topk "$users" "$items" "$WORK/users.txt" 10 \
		"-c enable_seqscan=off -c hnsw.ef_search=100 -c hnsw.iterative_scan=relaxed_order" \
		>"$WORK/hnsw_it100.tsv"
	fig "recall@10 against the model's dot products (ML-100k)" "$(jq -nc \
		--argjson e "$(recall 10 "$WORK/truth.tsv" "$WORK/exact.tsv")" \
		--argjson h "$(recall 10 "$WORK/truth.tsv" "$WORK/hnsw.tsv")" \
		--argjson i "$(recall 10 "$WORK/truth.tsv" "$WORK/hnsw_it.tsv")" \
		--argjson i100 "$(recall 10 "$WORK/truth.tsv" "$WORK/hnsw_it100.tsv")" --argjson n "$N_RECALL" \
		'{users: $n, exact_scan: $e, hnsw_default_ef_search: $h, hnsw_iterative_relaxed: $i,
		  hnsw_ef100_iterative_relaxed: $i100}')"

	# a lever: Postgres over its Unix socket instead of TCP on 127.0.0.1 (connection handling)
	local sock
	sock=$(unix_url)
	if [ -n "$sock" ]; then
		fig "lever: (c) database floor over the Unix socket (exact), 8 clients" \
			"$(DATABASE_URL=$sock pgbench_run "$WORK/recs.sql" 8 "$D_SAT")"
		serve_start lensflow "$sock"
		fig "lever: /recommendations (exact) over the Unix socket, unloaded" \
			"$(loadgen_run '/recommendations/{id}?k=10' 943 1 0 "$D_UNL")"
		fig "lever: /recommendations (exact) over the Unix socket, saturated" \
			"$(under_load wrk_run '/recommendations/{id}?k=10' 943 2 8 "$D_SAT")"
		serve_stop
	fi

	# a lever: the served model's width. The pipeline serves the blend (401 dims); the
	# Python service served a 64-dim softmax MF. The softmax MF of ml-train (81 dims) on
	# the same split, loaded as model "smf": its database floor and ml-serve on it.
	"$BIN/ml-train" -q --model softmax-mf <"$run/train.tsv" >"$WORK/smf.lfe"
	local su si sv
	sv=$(sql "SELECT coalesce(max(version), 0) + 1 FROM embedding_sets WHERE model_name = 'smf'")
	"$BIN/ml-pgload" -q --model-name smf --load "$sv" --switch <"$WORK/smf.lfe" >/dev/null
	"$BIN/ml-pgload" -q --model-name smf --prune --keep 1 >/dev/null
	read -r su si <<<"$(set_tables smf)"
	served_sql smf 10 | recs_script 943 >"$WORK/recs_smf.sql"
	fig "lever: (c) database floor, softmax MF (81 dims), 8 clients" \
		"$(pgbench_run "$WORK/recs_smf.sql" 8 "$D_SAT")"
	serve_start smf
	fig "lever: /recommendations, softmax MF (81 dims), saturated" \
		"$(under_load wrk_run '/recommendations/{id}?k=10' 943 2 8 "$D_SAT")"
	serve_stop

	foldin_flood
	todays_form "$run"
	halfvec_rows "$run"
	# a lever: worker threads (each one a database connection), saturated
	local th
	for th in 2 4 8; do
		serve_start lensflow "$DATABASE_URL" --threads "$th"
		fig "lever: ml-serve --threads $th, saturated (exact)" \
			"$(under_load wrk_run '/recommendations/{id}?k=10' 943 2 8 "$D_UNL" |
				jq -c --argjson t "$th" '. + {serve_threads: $t}')"
		serve_stop
	done
	finish_section
}

# The fold-in flood of issue 28: 32 clients POSTing 500-rating new users (closed
# loop: a refused client asks again at once) beside a steady known-user load
# (open loop, FLOOD_RATE req/s on 4 connections, latency from each due time),
# with the fold-in bulkhead off (--foldin-concurrency 0) and on (its default);
# the known-user load alone first, against the same ml-serve. Then the host's
# floor for the known users: the same flood sent to a second ml-serve (bulkhead
# on, same database), so that the known users' ml-serve shares nothing with it
# but the 2 cores and Postgres.
FLOOD_RATE=200
flood_stop() {
	[ -n "${FLOOD_PID:-}" ] || return 0
	kill "$FLOOD_PID" 2>/dev/null || true
	wait "$FLOOD_PID" 2>/dev/null || true
	FLOOD_PID=
}
foldin_flood() {
	local body=$WORK/foldin500.json mode fpid path='/recommendations/{id}?k=10' rej
	local flood_addr beside
	jq -nc '{k: 10, ratings: [range(1; 501) | {movie_id: ., rating: 4}]}' >"$body"
	for mode in off on apart; do
		beside="beside 32 clients POSTing 500 ratings (bulkhead $mode)"
		if [ "$mode" = off ]; then
			serve_start lensflow "$DATABASE_URL" --foldin-concurrency 0
		else
			serve_start lensflow
		fi
		flood_addr=$SERVE_ADDR FLOOD_PID=
		if [ "$mode" = apart ]; then
			beside="beside 32 clients POSTing 500 ratings to a second ml-serve (the host's floor)"
			flood_addr=127.0.0.1:$(free_port)
			"$BIN/ml-serve" --listen "$flood_addr" --model-name lensflow --db "$DATABASE_URL" \
				>"$WORK/ml-serve-flood.log" 2>&1 &
			FLOOD_PID=$!
			await_200 "http://$flood_addr/readyz" "$FLOOD_PID" 150 0.2 ||
				die "the second ml-serve did not become ready"
		fi
		fig "fold-in flood: known users at $FLOOD_RATE req/s alone (bulkhead $mode)" \
			"$(loadgen_run "$path" 943 4 "$FLOOD_RATE" "$D_SAT")"
		"$HB/loadgen" --addr "$flood_addr" --path /recommendations --body "$body" --conns 32 \
			--rate 0 --duration "$((D_SAT + 2))" --warmup 1 >"$WORK/flood.json" &
		fpid=$!
		sleep 1.5
		fig "fold-in flood: known users at $FLOOD_RATE req/s $beside" \
			"$(under_load loadgen_run "$path" 943 4 "$FLOOD_RATE" "$D_SAT")"
		wait "$fpid" || die "the flood's loadgen failed"
		rej=$(curl -s "http://$flood_addr/metrics" |
			awk '$1 == "lensflow_foldin_rejected_total" {print $2}')
		fig "fold-in flood: the 32 clients POSTing 500 ratings (bulkhead $mode)" \
			"$(jq -c --argjson r "${rej:-0}" '. + {tool: "loadgen", foldin_rejected_total: $r}' \
				"$WORK/flood.json")"
		flood_stop
		serve_stop
	done
}

# Issue 28's levers: today's form beside the served one. The pipeline serves the blend
# in its compact form (ml-train --serve-dim 32) with ml-pgload's --index auto (norm:
# the exact scan reading only the movies whose norm can reach the k-th score). Beside
# it, with the same figures (floor (c), unloaded, saturated, 80 % Poisson): the same
# set with every movie scanned (--index none, model "compactscan"), and today's form,
# the same blend at its full width (401 dims, trained on the same split) scanned
# whole, as it was served before (model "blend401").
# compact_rows LABEL MODEL: the figures of one form
compact_rows() {
	local label=$1 model=$2 sat r
	served_sql "$model" 10 | recs_script 943 >"$WORK/recs_$model.sql"
	fig "form: (c) database floor, $label, 8 clients" \
		"$(pgbench_run "$WORK/recs_$model.sql" 8 "$D_SAT")"
	serve_start "$model"
	fig "form: /recommendations, $label, unloaded" \
		"$(loadgen_run '/recommendations/{id}?k=10' 943 1 0 "$D_UNL")"
	sat=$(under_load wrk_run '/recommendations/{id}?k=10' 943 2 8 "$D_SAT")
	fig "form: /recommendations, $label, saturated" "$sat"
	r=$(jq '.rps * 0.8 | floor' <<<"$sat")
	fig "form: /recommendations, $label, open loop at 80 % of saturation, Poisson arrivals" \
		"$(under_load loadgen_run '/recommendations/{id}?k=10' 943 16 "$r" "$D_OPEN" --poisson |
			jq -c '. + {percent_of_saturation: 80}')"
	serve_stop
}

# load_lever MODEL LFE: the .lfe as the serving set of MODEL, every movie scanned
load_lever() {
	local v
	v=$(sql "SELECT coalesce(max(version), 0) + 1 FROM embedding_sets WHERE model_name = '$1'")
	"$BIN/ml-pgload" -q --model-name "$1" --load "$v" --index none --switch <"$2" >/dev/null
	"$BIN/ml-pgload" -q --model-name "$1" --prune --keep 1 >/dev/null
}

todays_form() {
	local run=$1
	[ -s "$run/train.tsv" ] || die "no run directory with train.tsv: run the pipeline part first"
	"$BIN/ml-train" -q --model blend <"$run/train.tsv" >"$WORK/blend401.lfe"
	load_lever blend401 "$WORK/blend401.lfe"
	load_lever compactscan "$run/model.lfe"
	compact_rows "served form" lensflow
	compact_rows "lever: served form, every movie scanned (--index none)" compactscan
	compact_rows "lever: today's form (401 dims)" blend401
	# the two forms' saturated runs once more, alternated twice: the host's speed
	# drifts within minutes, and the targets compare the two (render sums the rounds)
	local round m label
	for round in 1 2; do
		for m in lensflow blend401; do
			label="served form"
			[ "$m" = blend401 ] && label="today's form (401 dims)"
			serve_start "$m"
			fig "form: /recommendations, $label, saturated, alternated round $round" \
				"$(under_load wrk_run '/recommendations/{id}?k=10' 943 2 8 "$D_SAT")"
			serve_stop
		done
	done
}

# the rows of today's form and the served one alone (results/compact.json)
section_compact() {
	start_section compact
	todays_form "$(ls -d "$LENSFLOW_HOME"/runs/*/ | tail -1)"
	finish_section
}

# Issue 28: pgvector's vector (float4) against halfvec (float2) at 64, 128, 256 and
# 401 dimensions (the blend at --serve-dim 64/128/256 and at its full width): the
# serving SQL's floor (c) at 8 clients (its throughput and Postgres CPU per query)
# and NDCG@10 of what each serves (ml-eval; halfvec's through test/tools/lfe-half,
# the values rounded as halfvec rounds them). One run, the forms alternating.
halfvec_rows() {
	local run=$1 d sd t v nd
	[ -s "$run/test.tsv" ] || die "no run directory with test.tsv: run the pipeline part first"
	for d in 64 128 256 401; do
		sd=$d
		[ "$d" = 401 ] && sd=0
		"$BIN/ml-train" -q --model blend --serve-dim "$sd" <"$run/train.tsv" >"$WORK/hv.lfe"
		"$LFE_HALF" <"$WORK/hv.lfe" >"$WORK/hv_half.lfe"
		for t in vector halfvec; do
			v=$(sql "SELECT coalesce(max(version), 0) + 1 FROM embedding_sets WHERE model_name = 'hv$d$t'")
			"$BIN/ml-pgload" -q --model-name "hv$d$t" --load "$v" --vector-type "$t" --index none --switch \
				<"$WORK/hv.lfe" >/dev/null
			"$BIN/ml-pgload" -q --model-name "hv$d$t" --prune --keep 1 >/dev/null
			served_sql "hv$d$t" 10 | recs_script 943 >"$WORK/hv.sql"
			nd=$("$BIN/ml-eval" --train "$run/train.tsv" --test "$run/test.tsv" \
				<"$WORK/$([ "$t" = halfvec ] && echo hv_half || echo hv).lfe" |
				awk '$1 == "ndcg@10" {print $2}')
			fig "storage: $t, $d dims, (c) serving SQL, 8 clients" \
				"$(pgbench_run "$WORK/hv.sql" 8 "$D_SAT" |
					jq -c --argjson d "$d" --arg t "$t" --argjson n "$nd" \
						'. + {dims: $d, vector_type: $t, ndcg_at_10: $n}')"
		done
	done
}

section_halfvec() {
	start_section halfvec
	halfvec_rows "$(ls -d "$LENSFLOW_HOME"/runs/*/ | tail -1)"
	finish_section
}

# the flood rows alone, against the serving set of the pipeline part
section_foldin() {
	start_section foldin
	foldin_flood
	finish_section
}

section_profile() {
	start_section profile
	local wpid
	serve_start lensflow
	if command -v perf >/dev/null && perf record -q -o "$WORK/perf.probe" -- true >/dev/null 2>&1; then
		perf_profile
	else
		fig "perf profile" '{"status": "perf record does not work here"}'
	fi
	syscalls_per_request
	serve_stop
	finish_section
}

perf_profile() {
	local wpid
	BENCH_PATH='/recommendations/{id}?k=10' BENCH_IDS=943 wrk -t2 -c8 -d"$((D_SAT + 3))"s \
		-s "$HERE/wrk.lua" "http://$SERVE_ADDR" >/dev/null &
	wpid=$!
	sleep 1
	perf record -q -F 999 -g -p "$SERVE_PID" -o "$WORK/perf.serve" -- sleep "$D_SAT" \
		>/dev/null 2>&1
	wait "$wpid"
	# ml-serve's own time by symbol (self), and the whole machine by process under load
	fig "perf: ml-serve under wrk -t2 -c8, by symbol (self)" "$(perf report -i "$WORK/perf.serve" \
		--stdio --no-children --sort dso,symbol --percent-limit 0.7 -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ {p = $1; sub(/%/, "", p); $1 = ""; sub(/^ +/, ""); sub(/[ -]+$/, "");
			 print p "\t" $0}' | head -25 |
		jq -Rsc 'split("\n") | map(select(length > 0) | split("\t") |
			{percent: (.[0] | tonumber), entry: .[1]}) | {top: .}')"
	# inclusive (children), user-space functions: which calls the time is spent under
	fig "perf: ml-serve under wrk -t2 -c8, inclusive (children)" "$(perf report -i "$WORK/perf.serve" \
		--stdio --children --sort symbol --percent-limit 1 -g none 2>/dev/null |
		awk '/^ +[0-9.]+%/ {p = $1; sub(/%/, "", p); $1 = ""; $2 = ""; sub(/^ +/, "");
			 sub(/[ -]+$/, ""); if ($0 ~ /^\[\.\] [a-zA-Z_]/) print p "\t" $0}' | head -20 |
		jq -Rsc 'split("\n") | map(select(length > 0) | split("\t") |
			{percent: (.[0] | tonumber), entry: .[1]}) | {top: .}')"
	BENCH_PATH='/recommendations/{id}?k=10' BENCH_IDS=943 wrk -t2 -c8 -d"$((D_UNL + 3))"s \
		-s "$HERE/wrk.lua" "http://$SERVE_ADDR" >/dev/null &
	wpid=$!
	sleep 1
	perf record -q -a -F 499 -o "$WORK/perf.all" -- sleep "$D_UNL" >/dev/null 2>&1
	wait "$wpid"
	fig "perf: whole machine under wrk -t2 -c8, by process" "$(perf report -i "$WORK/perf.all" \
		--stdio --no-children --sort comm --percent-limit 0.5 2>/dev/null |
		awk '/^ +[0-9.]+%/ {p = $1; sub(/%/, "", p); print p "\t" $2}' |
		jq -Rsc 'split("\n") | map(select(length > 0) | split("\t") |
			{percent: (.[0] | tonumber), process: .[1]}) | {top: .}')"
}

# system calls per request (strace -c, one connection, closed loop)
syscalls_per_request() {
	if command -v strace >/dev/null; then
		local spid n0 n1
		n0=$(served)
		strace -f -c -o "$WORK/strace.out" -p "$SERVE_PID" 2>/dev/null &
		spid=$!
		sleep 0.5
		"$HB/loadgen" --addr "$SERVE_ADDR" --path '/recommendations/{id}?k=10' --ids 943 \
			--conns 1 --duration 2 --warmup 0 >/dev/null
		kill -INT "$spid"
		wait "$spid" 2>/dev/null || true
		n1=$(served)
		fig "system calls of ml-serve per /recommendations (strace -c)" "$(awk -v n=$((n1 - n0 - 1)) \
			'$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {printf "%s\t%.2f\n", $NF, $4 / n}' \
			"$WORK/strace.out" | sort -t$'\t' -k2 -rn | head -12 |
			jq -Rsc --argjson n $((n1 - n0 - 1)) 'split("\n") | map(select(length > 0) | split("\t") |
				{syscall: .[0], per_request: (.[1] | tonumber)}) | {requests: $n, top: .}')"
	fi
}

section_ingest() {
	start_section ingest
	local v walls=() i
	"$LFE_GEN" --users 1000000 --items 1000 --dim 64 >"$WORK/ingest.lfe"
	for i in 1 2 3; do
		v=$(sql "SELECT coalesce(max(version), 0) + 1 FROM embedding_sets WHERE model_name = 'ingest'")
		/usr/bin/time -f '%e %M' -o "$WORK/time.out" "$BIN/ml-pgload" --model-name ingest \
			--load "$v" --index none <"$WORK/ingest.lfe" >/dev/null 2>"$WORK/ingest.err"
		walls+=("$(cut -d' ' -f1 "$WORK/time.out")")
		"$BIN/ml-pgload" --model-name ingest --prune --keep 1 >/dev/null 2>&1 || true
	done
	fig "ml-pgload: 1M users + 1k items of dim 64 (no index), .lfe from a file" \
		"$(printf '%s\n' "${walls[@]}" | jq -sc --argjson kb "$(cut -d' ' -f2 "$WORK/time.out")" \
			'{vectors: 1002000, copied_rows: 1003000, runs_s: ., median_s: (sort | .[1]),
			  vectors_per_s: (1002000 / (sort | .[1]) | floor),
			  peak_rss_mb: ($kb / 1024 * 10 | round / 10)}')"
	finish_section
}

section_python() {
	start_section python
	if [ "${BENCH_PYTHON:-0}" != 1 ]; then
		fig "Python service of 118e941" '{"status": "not run: set BENCH_PYTHON=1 (make bench-python); its install (torch, …) takes minutes"}'
	else
		section_python_run
	fi
	finish_section
}
