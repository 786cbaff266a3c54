# test/bench/scale.sh — synthetic catalogues (sourced by test/bench/run):
# N movies × 200k users of dim 64 from test/bench/synth, loaded by ml-pgload
# with HNSW (statement times from the server's log), recall@10 against the
# exact top-10 (topk), the HNSW settings pgvector offers for the rated-movie
# filter, the floors and ml-serve.

pg_log() {
	local f=$LENSFLOW_HOME/logs/postgres.log
	[ -s "$f" ] || f=$LENSFLOW_HOME/pg/postgres.log
	echo "$f"
}

# statement durations logged since byte OFFSET of the server's log, as JSON seconds
load_steps() {
	tail -c +"$(($1 + 1))" "$(pg_log)" | grep -o 'duration: [0-9.]* ms .*' |
		awk '{ms = $2; s = $0; k = ""
		      if (s ~ /COPY .*_users"/) k = "copy_users"
		      else if (s ~ /COPY .*_items"/) k = "copy_items"
		      else if (s ~ /COPY .*_dirs"/) k = "copy_dirs"
		      else if (s ~ /PRIMARY KEY/) k = "primary_keys"
		      else if (s ~ /CREATE INDEX ON .*_items"/) k = "hnsw_items"
		      else if (s ~ /CREATE INDEX ON .*_dirs"/) k = "hnsw_dirs"
		      else if (s ~ /ANALYZE/) k = "analyze"
		      else if (s ~ /COMMIT/) k = "commit"
		      if (k != "") t[k] += ms }
		      END {printf "{"; sep = ""
		           for (k in t) {printf "%s\"%s_s\": %.3f", sep, k, t[k] / 1000; sep = ", "}
		           print "}"}'
}

# scale_one N LABEL [DIM]: one synthetic catalogue of N movies at DIM (64) dimensions
scale_one() {
	local n=$1 dim=${3:-64} name lfe v off t0 users items steps
	name=synth$(tr -cd 'a-z0-9' <<<"$2")
	lfe=$WORK/$name.lfe
	t0=$(date +%s.%N)
	"$HB/synth" --users 200000 --items "$n" --dim "$dim" >"$lfe"
	say "synth $n: $(secs_since "$t0") s"
	v=$(sql "SELECT coalesce(max(version), 0) + 1 FROM embedding_sets WHERE model_name = '$name'")
	off=$(stat -c %s "$(pg_log)")
	# Above 100k movies ml-pgload's HNSW build outgrows its maintenance_work_mem (256MB: at
	# 500k the build slowed to ~250 tuples/s after ~320k), so the big set is loaded without
	# index and its movie index is built here with 1GB (the directions index is left out).
	local index=hnsw
	[ "$n" -gt 100000 ] && index=none
	PGOPTIONS="-c log_min_duration_statement=0" /usr/bin/time -f '%e %M' -o "$WORK/time.out" \
		"$BIN/ml-pgload" --model-name "$name" --load "$v" --index "$index" <"$lfe" >/dev/null
	sleep 0.5
	steps=$(load_steps "$off")
	fig "$2: ml-pgload --index $index (200k users, $n movies, dim $dim)" "$(jq -c \
		--argjson w "$(cut -d' ' -f1 "$WORK/time.out")" \
		--argjson kb "$(cut -d' ' -f2 "$WORK/time.out")" --argjson n "$n" --argjson d "$dim" \
		'{movies: $n, users: 200000, dim: $d, wall_s: $w,
		  hnsw_build_s: (((.hnsw_items_s // 0) + (.hnsw_dirs_s // 0)) * 1000 | round / 1000),
		  peak_rss_mb: ($kb / 1024 * 10 | round / 10), steps: .}' <<<"$steps")"
	"$BIN/ml-pgload" --model-name "$name" --switch "$v" >/dev/null
	"$BIN/ml-pgload" --model-name "$name" --prune --keep 1 >/dev/null 2>&1 || true
	read -r users items <<<"$(set_tables "$name")"
	if [ "$index" = none ]; then
		t0=$(date +%s.%N)
		sql "SET maintenance_work_mem = '1GB'; CREATE INDEX ON $items USING hnsw
		     (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64); ANALYZE $items" >/dev/null
		fig "$2: HNSW on the movies in SQL, maintenance_work_mem 1GB (m=16, ef_construction=64)" \
			"$(jq -nc --argjson s "$(secs_since "$t0")" --argjson n "$n" \
				'{movies: $n, hnsw_build_s: $s, wall_s: $s}')"
	fi

	serve_measure "$2" "$users" "$items" "$lfe" "$WORK/ratings.tsv" 943 "$name" "$n"
	rm -f "$lfe"
}

# serve_measure LABEL USERS_TABLE ITEMS_TABLE LFE RATINGS MAX_USER MODEL [MOVIES]: the
# serving of a loaded set (its tables, the .lfe it came from and the ratings the database
# holds, users 1..MAX_USER): recall@10 of the serving SQL against the exact top-10 (topk)
# with the HNSW settings pgvector offers for the rated-movie filter and ml-serve's with
# each ef_search of BENCH_EF_SEARCH, the floors, and ml-serve itself (unloaded, saturated)
serve_measure() {
	local label=$1 users=$2 items=$3 lfe=$4 ratings=$5 maxu=$6 name=$7 n=${8:-0}
	seq 1 "$maxu" | shuf -n "$N_RECALL" --random-source=<(yes) >"$WORK/users.txt"
	"$HB/topk" --model "$lfe" --ratings "$ratings" --users "$WORK/users.txt" >"$WORK/truth.tsv"
	user_recs_sql "$users" "$items" :uid 10 | recs_script "$maxu" >"$WORK/scale.sql"
	local opts lab ef labels=("default (ef_search 40)|" "ef_search 100|-c hnsw.ef_search=100"
		"iterative_scan relaxed_order|-c hnsw.iterative_scan=relaxed_order"
		"ef_search 100 + iterative relaxed_order|-c hnsw.ef_search=100 -c hnsw.iterative_scan=relaxed_order"
		"ef_search 100 + iterative strict_order (ml-serve's settings)|-c hnsw.ef_search=100 -c hnsw.iterative_scan=strict_order")
	for ef in ${BENCH_EF_SEARCH:-}; do
		[ "$ef" = 100 ] || labels+=("ef_search $ef + iterative strict_order|-c hnsw.ef_search=$ef -c hnsw.iterative_scan=strict_order")
	done
	for lab in "${labels[@]}"; do
		opts=${lab#*|}
		sql_topk "$users" "$items" "$WORK/users.txt" 10 "$opts" >"$WORK/got.tsv"
		fig "$label: serving SQL, ${lab%|*}" "$(pgbench_run "$WORK/scale.sql" 1 "$D_UNL" "$opts" |
			jq -c --argjson r "$(recall 10 "$WORK/truth.tsv" "$WORK/got.tsv")" \
				--argjson u "$N_RECALL" --argjson short "$(short_lists 10 "$WORK/got.tsv")" \
				'. + {recall_at_10: $r, recall_users: $u, users_short_of_k: $short}')"
	done
	fig "$label: (c) serving SQL, 8 clients" "$(pgbench_run "$WORK/scale.sql" 8 "$D_SAT")"
	[ "$n" -gt 100000 ] && shared_buffers_lever "$label" "$items"
	fig "$label: (b) compute floor: exact OpenBLAS top-10, 1 thread" \
		"$("$HB/topk" --model "$lfe" --ratings "$ratings" --bench \
			--queries $((30000000 / $(sql "SELECT count(*) FROM $items") + 10)))"
	serve_start "$name"
	fig "$label: /recommendations (HNSW), unloaded" \
		"$(loadgen_run '/recommendations/{id}?k=10' "$maxu" 1 0 "$D_UNL")"
	fig "$label: /recommendations (HNSW), saturated" \
		"$(under_load wrk_run '/recommendations/{id}?k=10' "$maxu" 2 8 "$D_SAT")"
	serve_stop
}

# short_lists K GOT: how many users of GOT ("user TAB movie") have fewer than K movies; the
# sampled users with none at all are counted from $WORK/users.txt
short_lists() {
	awk -F'\t' -v k="$1" 'NR == FNR {c[$1]++; next} (c[$1] + 0) < k {s++} END {print s + 0}' \
		"$2" "$WORK/users.txt"
}

# A lever: pg-embedded's shared_buffers (128MB) against an HNSW index larger than it
# (ALTER SYSTEM in the bench's own server, restarted, then reset and restarted again).
shared_buffers_lever() {
	local idx
	idx=$(sql "SELECT pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index
	           WHERE indrelid = '$2'::regclass")
	sql "ALTER SYSTEM SET shared_buffers = '1GB'" >/dev/null
	scripts/pg-embedded down >&2 && scripts/pg-embedded up >&2
	pgbench_run "$WORK/scale.sql" 1 "$D_UNL" >/dev/null # warms the buffers
	fig "$1: lever: serving SQL, 1 client, shared_buffers 1GB (indexes $idx)" \
		"$(pgbench_run "$WORK/scale.sql" 1 "$D_UNL" | jq -c '. + {shared_buffers: "1GB"}')"
	fig "$1: lever: serving SQL, 8 clients, shared_buffers 1GB" \
		"$(pgbench_run "$WORK/scale.sql" 8 "$D_SAT" | jq -c '. + {shared_buffers: "1GB"}')"
	sql "ALTER SYSTEM RESET shared_buffers" >/dev/null
	scripts/pg-embedded down >&2 && scripts/pg-embedded up >&2
}

# section_scale_set: the serving of a set already loaded (a pipeline's model, for
# instance `make pipeline DATASET=ml-25m`) → results/scale-set.json. BENCH_SET_MODEL (the
# model name in the serving table, default lensflow), BENCH_SET_LFE (the .lfe loaded),
# BENCH_SET_RATINGS (the ratings TSV the database's catalogue holds: the rated movies
# excluded), BENCH_SET_LABEL; BENCH_RECALL_USERS users sampled for recall (N_RECALL).
section_scale_set() {
	start_section scale-set
	local name=${BENCH_SET_MODEL:-lensflow} users items maxu
	[ -s "${BENCH_SET_LFE:-}" ] && [ -s "${BENCH_SET_RATINGS:-}" ] ||
		die "catalogue-set needs BENCH_SET_LFE and BENCH_SET_RATINGS"
	read -r users items <<<"$(set_tables "$name")"
	[ -n "$items" ] || die "no serving set of $name in $DATABASE_URL"
	maxu=$(sql "SELECT max(user_id) FROM $users")
	fig "${BENCH_SET_LABEL:-$name}: the set" "$(sql "SELECT json_build_object('model', e.model_name,
		'version', e.version, 'dim', e.dim, 'users', e.n_users, 'movies', e.n_items,
		'index', e.index_kind, 'ratings_in_db', (SELECT count(*) FROM ratings))
		FROM embedding_sets e JOIN serving s USING (model_name, version) WHERE e.model_name = '$name'")"
	serve_measure "${BENCH_SET_LABEL:-$name}" "$users" "$items" "$BENCH_SET_LFE" \
		"$BENCH_SET_RATINGS" "$maxu" "$name"
	finish_section
}

section_scale() {
	start_section scale
	[ -s "$WORK/ratings.tsv" ] || "$BIN/ml-fetch" ratings >"$WORK/ratings.tsv"
	local n
	for n in ${BENCH_SCALE:-60000 500000}; do
		scale_one "$n" "$((n / 1000))k"
	done
	# the 60k catalogue at the width of the pipeline's compact form (ml-train --serve-dim
	# 32, issue 28): its HNSW build time and recall beside the 64-dim rows
	[ -z "${BENCH_SCALE_COMPACT-32}" ] || scale_one 60000 "60k at dim ${BENCH_SCALE_COMPACT:-32}" \
		"${BENCH_SCALE_COMPACT:-32}"
	finish_section
}
