#!/usr/bin/env bats
# The whole chain through `make pipeline`, against the suite's real Postgres
# + pgvector and MLflow server: the JSON line, what MLflow holds, the served
# answer, and that pgvector's scores are the trained model's own dot products.
load helpers

setup_file() {
	fresh_db e2e_pipeline
	export MODEL_NAME=e2e_$RANDOM$RANDOM EXPERIMENT=e2e-$RANDOM$RANDOM
	export LENSFLOW_HOME=$BATS_FILE_TMPDIR/home LENSFLOW_DATA_URL=$DATA
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || { echo "no MLflow: scripts/services up" >&2; return 1; }
	make -s --no-print-directory -C "$REPO" pipeline BIN="$BIN" >"$BATS_FILE_TMPDIR/out1" 2>"$BATS_FILE_TMPDIR/err1"
	make -s --no-print-directory -C "$REPO" pipeline BIN="$BIN" >"$BATS_FILE_TMPDIR/out2" 2>"$BATS_FILE_TMPDIR/err2"
}

json() { jq -r "$1" "$2"; }

@test "make pipeline prints exactly one JSON line on stdout" {
	run wc -l <"$BATS_FILE_TMPDIR/out1"
	assert_output 1
	run jq -e . "$BATS_FILE_TMPDIR/out1"
	assert_success
	cmp "$BATS_FILE_TMPDIR/out2" "$LENSFLOW_HOME/pipeline.json"
}

@test "the first run registers version 1 and promotes it; quality at the Python package's level" {
	f=$BATS_FILE_TMPDIR/out1
	assert_equal "$(json .model_name "$f")" "$MODEL_NAME"
	assert_equal "$(json .model_version "$f")" 1
	assert_equal "$(json .promoted "$f")" true
	assert_equal "$(json .protocol "$f")" ms-stratified-75-25-seed42
	run jq -e '.metrics["ndcg@10"] >= 0.48 and .metrics["precision@10"] > 0.4
		and .metrics.rmse > 0.5 and .metrics.rmse < 1.0 and .metrics["coverage@10"] > 0' "$f"
	assert_success
	run jq -e '.baseline["ndcg@10"] > 0.235 and .baseline["ndcg@10"] < 0.25' "$f"
	assert_success
	run jq -e '[.timings_s[]] | length == 6 and all(. > 0)' "$f"
	assert_success
}

@test "the same seed again gives version 2, not worse, so it is promoted too" {
	f=$BATS_FILE_TMPDIR/out2
	assert_equal "$(json .model_version "$f")" 2
	assert_equal "$(json .promoted "$f")" true
	assert_equal "$(json '.metrics["ndcg@10"]' "$f")" "$(json '.metrics["ndcg@10"]' "$BATS_FILE_TMPDIR/out1")"
}

@test "MLflow holds the runs, their artifacts and version 2 as champion" {
	api=$MLFLOW_TRACKING_URI/api/2.0/mlflow
	run curl -sf "$api/registered-models/alias?name=$MODEL_NAME&alias=champion"
	assert_success
	assert_equal "$(echo "$output" | jq -r .model_version.version)" 2
	run_id=$(echo "$output" | jq -r .model_version.run_id)
	run curl -sf "$api/runs/get?run_id=$run_id"
	assert_success
	echo "$output" | jq -e '.run.data.metrics | map(.key) | index("ndcg_at_10") != null'
	echo "$output" | jq -e '.run.data.params | map(.key) | index("dim") != null'
	echo "$output" | jq -e '.run.data.tags | map(select(.key == "dataset_sha256")) | .[0].value | length == 64'
	run curl -sf "$api/artifacts/list?run_id=$run_id&path=model"
	assert_success
	assert_output --partial model.lfe
}

@test "the served set is version 2 and its tables hold every user and movie of train" {
	run_dir=$(ls -d "$LENSFLOW_HOME"/runs/* | tail -1)
	assert_equal "$(sql "SELECT version FROM serving WHERE model_name = '$MODEL_NAME'")" 2
	assert_equal "$(sql "SELECT count(*) FROM lf_${MODEL_NAME}_v2_users")" 943
	# movies seen only in test have no vector: the model cannot rank them
	assert_equal "$(sql "SELECT count(*) FROM lf_${MODEL_NAME}_v2_items")" \
		"$(cut -f2 "$run_dir/train.tsv" | sort -u | wc -l)"
	assert_equal "$(sql "SELECT count(*) FROM movies")" 1682
}

@test "pgvector's top-10 and scores equal the model's own dot products (sampled users, 1e-4)" {
	run_dir=$(ls -d "$LENSFLOW_HOME"/runs/* | tail -1)
	model=$run_dir/model.lfe
	for user in 1 17 255 600 943; do
		# ml-serve's own statement ("known user"), from lib/store
		"$TEST_TOOLS/store-query" user_recs "$MODEL_NAME" 2 10 "$user" >"$BATS_TEST_TMPDIR/db.tsv"
		# the model's own ranking: dot products over the .lfe, rated movies removed
		"$TEST_TOOLS/lfe-topk" "$model" "$user" 10 "$run_dir/ratings.tsv" >"$BATS_TEST_TMPDIR/model.tsv"
		paste "$BATS_TEST_TMPDIR/db.tsv" "$BATS_TEST_TMPDIR/model.tsv" | awk -F'\t' '
			NF != 4 || $1 != $3 { print "rank " NR ": db " $1 " model " $3; bad = 1 }
			{ d = $2 - $4; if (d < 0) d = -d; if (d > 1e-4) { print "score " NR ": " $2 " vs " $4; bad = 1 } }
			END { if (NR != 10) { print NR " rows"; bad = 1 } exit bad }'
	done
}
