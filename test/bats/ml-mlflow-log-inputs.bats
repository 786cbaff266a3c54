#!/usr/bin/env bats
# ml-mlflow-log with several releases in one tracking server: MLflow's own
# conventions, read back from the real MLflow through its REST API (curl + jq):
# the dataset as a run input (runs/log-inputs: name, digest, source, schema,
# profile, context), the standard mlflow.source.* tags, and the run's start
# time at the start of training (--started).

bats_require_minimum_version 1.5.0

setup_file() {
	load helpers
	mlflow_or_start
	export TAG_PREFIX="bats-inputs-$(date +%s)-$$"
}

teardown_file() {
	mlflow_stop_if_started
}

setup() {
	load helpers
	NAME="$TAG_PREFIX-$BATS_TEST_NUMBER"
	printf 'ndcg@10\t0.4\n' >"$TMP/metrics.tsv"
	SHA=$(printf 'the ratings\n' | sha256sum | cut -d' ' -f1)
}

mlog() { "$BIN/ml-mlflow-log" --experiment "$NAME" --no-register "$@" <"$TMP/metrics.tsv"; }

# the run as MLflow has it: runs/get → $TMP/run.json
get_run() {
	local id
	id=$(awk '$1 == "run_id" { print $2 }' "$TMP/run.tsv")
	[ -n "$id" ]
	curl -sf "$MLFLOW_TRACKING_URI/api/2.0/mlflow/runs/get?run_id=$id" >"$TMP/run.json"
}

tag() { jq -r --arg k "$1" '.run.data.tags[] | select(.key == $k) | .value' "$TMP/run.json"; }

@test "the dataset is the run's input, the source tags are MLflow's, the start is --started" {
	mlog --dataset-name ml-25m --dataset-sha256 "$SHA" --dataset-rows 25000095 \
		--dataset-source https://files.grouplens.org/datasets/movielens/ml-25m.zip \
		--started 1700000000.25 --source-name "make pipeline" --git-commit 0123abc >"$TMP/run.tsv"
	get_run
	run jq -r '.run.inputs.dataset_inputs | length' "$TMP/run.json"
	assert_output 1
	run jq -r '.run.inputs.dataset_inputs[0].dataset | [.name, .digest, .source_type, .source, .profile] | @tsv' "$TMP/run.json"
	assert_output "$(printf 'ml-25m\t%s\thttp\t{"url":"https://files.grouplens.org/datasets/movielens/ml-25m.zip"}\t{"num_rows": 25000095}' "${SHA:0:32}")"
	run jq -r '.run.inputs.dataset_inputs[0].dataset.schema | fromjson | .mlflow_colspec | map(.name + ":" + .type) | join(",")' "$TMP/run.json"
	assert_output "user_id:integer,movie_id:integer,rating:float,timestamp:long"
	run jq -r '.run.inputs.dataset_inputs[0].tags[] | select(.key == "mlflow.data.context") | .value' "$TMP/run.json"
	assert_output training
	[ "$(tag mlflow.source.name)" = "make pipeline" ]
	[ "$(tag mlflow.source.type)" = LOCAL ]
	[ "$(tag mlflow.source.git.commit)" = 0123abc ]
	[ "$(jq -r .run.info.start_time "$TMP/run.json")" = 1700000000250 ]
	# the run lasted from the training's start to its logging, not a few milliseconds
	[ "$(jq -r '.run.info.end_time - .run.info.start_time > 1000000' "$TMP/run.json")" = true ]
}

@test "runs of two releases in one experiment are told apart by their dataset" {
	mlog --dataset-name ml-1m --dataset-sha256 "$SHA" --dataset-source /data/ml-1m >"$TMP/run.tsv"
	local one
	one=$(awk '$1 == "run_id" { print $2 }' "$TMP/run.tsv")
	get_run
	run jq -r '.run.inputs.dataset_inputs[0].dataset | [.source_type, .source] | @tsv' "$TMP/run.json"
	assert_output $'local\t{"uri":"/data/ml-1m"}'
	mlog --dataset-name ml-10m --dataset-sha256 "$SHA" >"$TMP/run.tsv"
	exp=$(awk '$1 == "experiment_id" { print $2 }' "$TMP/run.tsv")
	curl -sf -X POST -H 'Content-Type: application/json' \
		-d "{\"experiment_ids\": [\"$exp\"], \"filter\": \"dataset.name = 'ml-1m'\"}" \
		"$MLFLOW_TRACKING_URI/api/2.0/mlflow/runs/search" >"$TMP/found.json"
	run jq -r '[.runs[].info.run_id] | join(" ")' "$TMP/found.json"
	assert_output "$one"
}

@test "without --started the run starts now; without --source-name the source is ml-mlflow-log" {
	before=$(($(date +%s) * 1000))
	mlog >"$TMP/run.tsv"
	get_run
	start=$(jq -r .run.info.start_time "$TMP/run.json")
	[ "$start" -ge "$before" ]
	[ "$(tag mlflow.source.name)" = ml-mlflow-log ]
	[ "$(tag mlflow.source.type)" = LOCAL ]
	run jq -r '.run.inputs.dataset_inputs // [] | length' "$TMP/run.json"
	assert_output 0
}

@test "bad --started, --dataset-name without a digest, bad --dataset-rows: exit 64, no run" {
	run -64 mlog --started tomorrow
	assert_output --partial "--started 'tomorrow'"
	run -64 mlog --started $(($(date +%s) + 3600))
	run -64 mlog --dataset-name ml-1m
	assert_output --partial "--dataset-name needs --dataset-sha256"
	run -64 mlog --dataset-name ml-1m --dataset-sha256 "$SHA" --dataset-rows many
	curl -sf "$MLFLOW_TRACKING_URI/api/2.0/mlflow/experiments/get-by-name?experiment_name=$NAME" \
		>"$TMP/exp.json" || true
	# nothing was created: no experiment, or one without runs
	if [ -s "$TMP/exp.json" ]; then
		exp=$(jq -r .experiment.experiment_id "$TMP/exp.json")
		curl -sf -X POST -H 'Content-Type: application/json' -d "{\"experiment_ids\": [\"$exp\"]}" \
			"$MLFLOW_TRACKING_URI/api/2.0/mlflow/runs/search" | jq -e '(.runs // []) | length == 0'
	fi
}
