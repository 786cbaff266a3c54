#!/usr/bin/env bats
# The compact serving form (issue 28): ml-train --serve-dim R writes users and
# items at R dimensions (the best rank-R approximation of the model's user x
# movie scores) with the full-width movies and the map of a full-width user
# into the R dimensions; ml-pgload stores both beside the set, ml-serve answers
# known users from the compact vectors (the model ml-eval scores) and folds a
# new user in at the full width, then maps it.

load helpers
load foldin

setup_file() {
	fresh_db lensflow_test_compact
	export COMPACT_DB_URL=$DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	"$BIN/ml-split" --test "$d/test.tsv" <"$d/ratings.tsv" >"$d/train.tsv" 2>/dev/null
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/train.tsv" >/dev/null
	local blend=(--model blend --ease-dim 64 --ials-dim 16 --epochs 8)
	"$BIN/ml-train" -q "${blend[@]}" <"$d/train.tsv" >"$d/blend.lfe"
	"$BIN/ml-train" -q "${blend[@]}" --serve-dim 24 <"$d/train.tsv" >"$d/cblend.lfe"
	"$BIN/ml-train" -q --model ease --ease-dim 64 --serve-dim 16 <"$d/train.tsv" >"$d/cease.lfe"
	"$BIN/ml-pgload" -q --model-name cblend --load 1 --switch <"$d/cblend.lfe" >/dev/null
	"$BIN/ml-pgload" -q --model-name cease --load 1 --switch <"$d/cease.lfe" >/dev/null
	local m port
	for m in cblend cease; do
		port=$(free_port)
		echo "$port" >"$d/$m.port"
		MLFLOW_TRACKING_URI='' "$BIN/ml-serve" --listen "127.0.0.1:$port" --model-name "$m" \
			--threads 2 >"$d/$m.out" 2>"$d/$m.err" 3>&- &
		echo $! >"$d/$m.pid"
	done
	for m in cblend cease; do
		port=$(cat "$d/$m.port")
		for _ in $(seq 200); do
			[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/readyz")" = 200 ] &&
				break
			sleep 0.1
		done
	done
}

teardown_file() {
	local m
	for m in cblend cease; do
		[ -f "$BATS_FILE_TMPDIR/$m.pid" ] && kill "$(cat "$BATS_FILE_TMPDIR/$m.pid")" 2>/dev/null
	done
	return 0
}

setup() {
	export DATABASE_URL=$COMPACT_DB_URL
}

ndcg() {
	"$BIN/ml-eval" --train "$BATS_FILE_TMPDIR/train.tsv" --test "$BATS_FILE_TMPDIR/test.tsv" \
		<"$1" | awk '$1 == "ndcg@10" {print $2}'
}

@test "ml-train --serve-dim: the compact form keeps the ranking's quality (ml-eval)" {
	local full compact
	full=$(ndcg "$BATS_FILE_TMPDIR/blend.lfe")
	compact=$(ndcg "$BATS_FILE_TMPDIR/cblend.lfe")
	echo "NDCG@10: full width $full, 24 dims $compact" >&3
	awk -v f="$full" -v c="$compact" 'BEGIN {exit !(c > 0.3 && c >= f - 0.01)}'
	# the rating head is not touched: the same RMSE
	run "$BIN/ml-eval" --train "$BATS_FILE_TMPDIR/train.tsv" --test "$BATS_FILE_TMPDIR/test.tsv" \
		<"$BATS_FILE_TMPDIR/blend.lfe"
	local rmse=${lines[*]}
	run "$BIN/ml-eval" --train "$BATS_FILE_TMPDIR/train.tsv" --test "$BATS_FILE_TMPDIR/test.tsv" \
		<"$BATS_FILE_TMPDIR/cblend.lfe"
	assert_equal "$(grep -o 'rmse[^ ]*' <<<"${lines[*]}")" "$(grep -o 'rmse[^ ]*' <<<"$rmse")"
}

@test "ml-train --serve-dim must be below the model's width" {
	run "$BIN/ml-train" -q --model ease --ease-dim 16 --serve-dim 16 \
		<"$BATS_FILE_TMPDIR/train.tsv"
	assert_failure 64
	assert_output --partial "not below the model's width 16"
}

@test "ml-pgload keeps the compact form's full-width movies and map; --prune drops them" {
	run sql "SELECT dim, foldin->'compact'->>'full_dim', foldin->'compact'->>'fold_table'
		FROM embedding_sets WHERE model_name = 'cblend'"
	assert_output "24|$((64 + 16 + 81))|lf_cblend_v1_fold"
	run sql "SELECT count(*), min(vector_dims(embedding)) FROM lf_cblend_v1_fold"
	assert_output "$(sql "SELECT count(*) FROM lf_cblend_v1_items")|161"
	run sql "SELECT count(*), min(vector_dims(m)), min(k), max(k) FROM lf_cblend_v1_map"
	assert_output "161|24|0|160"
	# directions stay those of the full-width movies (without the bias)
	run sql "SELECT min(vector_dims(direction)) FROM lf_cblend_v1_dirs"
	assert_output 160
	"$BIN/ml-pgload" -q --model-name cblend --load 2 <"$BATS_FILE_TMPDIR/cblend.lfe"
	"$BIN/ml-pgload" -q --model-name cblend --load 3 <"$BATS_FILE_TMPDIR/cblend.lfe"
	"$BIN/ml-pgload" --model-name cblend --switch 3 >/dev/null
	run "$BIN/ml-pgload" --model-name cblend --prune --keep 1
	assert_success
	run sql "SELECT string_agg(tablename, ' ' ORDER BY tablename) FROM pg_tables
		WHERE tablename ~ '^lf_cblend_v[0-9]+_(fold|map)$'"
	assert_output "lf_cblend_v1_fold lf_cblend_v1_map lf_cblend_v3_fold lf_cblend_v3_map"
	"$BIN/ml-pgload" --model-name cblend --switch 1 >/dev/null
}

@test "compact form: the served answer is the evaluated model's top-k, ids and scores" {
	[ -x "$TEST_TOOLS/lfe-topk" ] || fail "lfe-topk is not built ($TEST_TOOLS)"
	local url user d=$BATS_TEST_TMPDIR
	url=http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/cblend.port")
	for user in 1 7 200 943; do
		curl -sf "$url/recommendations/$user?k=10" |
			jq -r '.items[] | "\(.movie_id)\t\(.score)"' >"$d/api.tsv"
		"$TEST_TOOLS/lfe-topk" "$BATS_FILE_TMPDIR/cblend.lfe" "$user" 10 \
			"$BATS_FILE_TMPDIR/train.tsv" >"$d/model.tsv"
		assert_equal "$(cut -f1 "$d/api.tsv")" "$(cut -f1 "$d/model.tsv")"
		run paste "$d/api.tsv" "$d/model.tsv"
		awk -F'\t' '{d = $2 - $4; if (d < 0) d = -d; if (d > 1e-5 * (1 + ($4 < 0 ? -$4 : $4))) bad = 1}
			END {exit bad}' <<<"$output"
	done
}

@test "compact EASE: a new user with a training user's movies gets that user's answer, scores and all" {
	foldin_gives_known_answer cease
}

@test "compact blend: a new user with a training user's movies gets nearly that user's top 10" {
	foldin_near_known_answer cblend
}

@test "ml-pgload --vector-type halfvec: halfvec columns and HNSW opclass; ml-serve answers the halfvec model's top-k and folds in" {
	[ -x "$TEST_TOOLS/lfe-topk" ] && [ -x "$TEST_TOOLS/lfe-half" ] || fail "test tools not built"
	local d=$BATS_TEST_TMPDIR f=$BATS_FILE_TMPDIR port url user
	"$BIN/ml-pgload" -q --model-name chalf --load 1 --vector-type halfvec --index hnsw --switch \
		<"$f/cblend.lfe" >/dev/null
	run sql "SELECT string_agg(format_type(atttypid, atttypmod), ' ' ORDER BY attrelid::regclass::text)
		FROM pg_attribute WHERE attrelid::regclass::text IN
		('lf_chalf_v1_users', 'lf_chalf_v1_items', 'lf_chalf_v1_dirs') AND attnum = 2"
	assert_output "halfvec(160) halfvec(24) halfvec(24)"
	run sql "SELECT count(*) FROM pg_indexes WHERE tablename IN ('lf_chalf_v1_items', 'lf_chalf_v1_dirs')
		AND indexdef LIKE '%hnsw%halfvec_ip_ops%'"
	assert_output 2
	run "$BIN/ml-pgload" --model-name chalf --load 2 --vector-type float8 <"$f/cblend.lfe"
	assert_failure 64
	"$TEST_TOOLS/lfe-half" <"$f/cblend.lfe" >"$d/half.lfe"
	port=$(free_port)
	url=http://127.0.0.1:$port
	MLFLOW_TRACKING_URI='' "$BIN/ml-serve" --listen "127.0.0.1:$port" --model-name chalf \
		--threads 2 >"$d/out" 2>"$d/err" 3>&- &
	local pid=$!
	for _ in $(seq 200); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && break
		sleep 0.1
	done
	for user in 1 200 943; do
		curl -sf "$url/recommendations/$user?k=10" |
			jq -r '.items[] | "\(.movie_id)\t\(.score)"' >"$d/api.tsv"
		"$TEST_TOOLS/lfe-topk" "$d/half.lfe" "$user" 10 "$f/train.tsv" >"$d/model.tsv"
		assert_equal "$(cut -f1 "$d/api.tsv")" "$(cut -f1 "$d/model.tsv")"
	done
	run curl -sf -X POST -H 'Content-Type: application/json' \
		--data-binary '{"ratings": [{"movie_id": 50, "rating": 5}], "k": 5}' "$url/recommendations"
	kill "$pid"
	assert_success
	jq -e '.items | length == 5' <<<"$output"
}
