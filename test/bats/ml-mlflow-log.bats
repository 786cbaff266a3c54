#!/usr/bin/env bats
# ml-mlflow-log against a real MLflow server: the suite's ($MLFLOW_TRACKING_URI from
# services.env) or, when there is none, one started for this file with
# scripts/mlflow-embedded and stopped at the end. Every check reads MLflow back through
# its REST API (curl + jq). Experiment and model names are unique per test so that runs
# of other files and tests never collide.

bats_require_minimum_version 1.5.0

setup_file() {
	load helpers
	mlflow_or_start
	export TAG_PREFIX="bats-$(date +%s)-$$"
	local gen=$REPO/${BUILD:-build/release}/test-tools/lfe-gen
	[ -x "$gen" ] || make -s -C "$REPO" "${BUILD:-build/release}/test-tools/lfe-gen" >&2
	"$gen" --users 5 --items 7 --dim 4 --seed 3 >"$BATS_FILE_TMPDIR/model.lfe"
}

teardown_file() {
	mlflow_stop_if_started
}

setup() {
	load helpers
	# a name of its own for each test: experiment and registered model
	NAME="$TAG_PREFIX-$BATS_TEST_NUMBER"
	MODEL=$BATS_FILE_TMPDIR/model.lfe
	printf 'ndcg@10\t0.4\nrmse\t0.95\n' >"$TMP/metrics.tsv"
	printf 'dim\t4\nepochs\t2\nmodel\tsoftmax-mf\n' >"$TMP/params.tsv"
	printf '1\ttrain/loss\t1.5\n2\ttrain/loss\t1.25\n1\tval/loss\t1.75\n' >"$TMP/losses.tsv"
}

mlog() { "$BIN/ml-mlflow-log" --experiment "$NAME" --model-name "$NAME" "$@"; }
api() { curl -fsS "$MLFLOW_TRACKING_URI/api/2.0/mlflow/$1"; }
api_post() {
	curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" \
		"$MLFLOW_TRACKING_URI/api/2.0/mlflow/$1"
}
field() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
run_get() { api "runs/get?run_id=$1"; }
# number of runs in this test's experiment (0 when it does not exist)
run_count() {
	local id
	id=$(curl -sS "$MLFLOW_TRACKING_URI/api/2.0/mlflow/experiments/get-by-name?experiment_name=$NAME" |
		jq -r '.experiment.experiment_id // empty')
	[ -n "$id" ] || { echo 0; return; }
	api_post runs/search "{\"experiment_ids\": [\"$id\"]}" | jq '.runs // [] | length'
}
version_count() {
	curl -sS "$MLFLOW_TRACKING_URI/api/2.0/mlflow/model-versions/search?filter=name%3D%27$NAME%27" |
		jq '.model_versions // [] | length'
}
# logs a run with ndcg@10 = $1 and prints its version
log_version() {
	printf 'ndcg@10\t%s\nrmse\t%s\n' "$1" "${2:-0.9}" |
		mlog --model "$MODEL" | awk -F'\t' '$1 == "model_version" { print $2 }'
}

@test "logs params, tags, stepped losses, metrics and artifacts; registers the version" {
	printf 'some notes\n' >"$TMP/notes.txt"
	LENSFLOW_GIT_COMMIT=0123abcd run --separate-stderr mlog --run-name first \
		--params "$TMP/params.tsv" --param epochs=3 --tag owner=bats --tag stage=test \
		--losses "$TMP/losses.tsv" --model "$MODEL" --artifact "$TMP/notes.txt" \
		--dataset-sha256 "$(printf 'ab%.0s' {1..32})" <"$TMP/metrics.tsv"
	assert_success
	[ -z "$stderr" ]
	run_id=$(field run_id "$output")
	exp_id=$(field experiment_id "$output")
	version=$(field model_version "$output")
	[[ $run_id =~ ^[0-9a-f]{32}$ ]]
	[[ $exp_id =~ ^[0-9]+$ ]]
	[ "$version" = 1 ]
	[ "$(wc -l <<<"$output")" -eq 3 ]

	run_get "$run_id" >"$TMP/run.json"
	[ "$(jq -r .run.info.status "$TMP/run.json")" = FINISHED ]
	[ "$(jq -r .run.info.run_name "$TMP/run.json")" = first ]
	[ "$(jq -r .run.info.experiment_id "$TMP/run.json")" = "$exp_id" ]
	# params: the file's, with --param overriding one
	[ "$(jq -c '[.run.data.params[] | [.key, .value]] | sort' "$TMP/run.json")" = \
		'[["dim","4"],["epochs","3"],["model","softmax-mf"]]' ]
	tag() { jq -r --arg k "$1" '.run.data.tags[] | select(.key == $k) | .value' "$TMP/run.json"; }
	[ "$(tag owner)" = bats ]
	[ "$(tag stage)" = test ]
	[ "$(tag git_commit)" = 0123abcd ]
	[ "$(tag mlflow.source.git.commit)" = 0123abcd ]
	[ "$(tag dataset_sha256)" = "$(printf 'ab%.0s' {1..32})" ]
	# final metrics, '@' written '_at_'
	[ "$(jq -c '[.run.data.metrics[] | select(.key == "ndcg_at_10" or .key == "rmse")
		| [.key, .value, .step]] | sort' "$TMP/run.json")" = '[["ndcg_at_10",0.4,0],["rmse",0.95,0]]' ]
	# losses: one value per step
	api "metrics/get-history?run_id=$run_id&metric_key=train/loss" >"$TMP/h.json"
	[ "$(jq -c '[.metrics[] | [.step, .value]] | sort' "$TMP/h.json")" = '[[1,1.5],[2,1.25]]' ]
	api "metrics/get-history?run_id=$run_id&metric_key=val/loss" >"$TMP/h.json"
	[ "$(jq -c '[.metrics[] | [.step, .value]]' "$TMP/h.json")" = '[[1,1.75]]' ]

	# artifacts come back byte for byte
	art=$MLFLOW_TRACKING_URI/api/2.0/mlflow-artifacts/artifacts/$exp_id/$run_id/artifacts
	curl -fsS -o "$TMP/back.lfe" "$art/model/model.lfe"
	cmp "$MODEL" "$TMP/back.lfe"
	curl -fsS -o "$TMP/back.tsv" "$art/metrics.tsv"
	cmp "$TMP/metrics.tsv" "$TMP/back.tsv"
	curl -fsS -o "$TMP/back.txt" "$art/notes.txt"
	cmp "$TMP/notes.txt" "$TMP/back.txt"

	# the version points at the run and its model folder
	api "model-versions/get?name=$NAME&version=1" >"$TMP/v.json"
	[ "$(jq -r .model_version.run_id "$TMP/v.json")" = "$run_id" ]
	[ "$(jq -r .model_version.source "$TMP/v.json")" = \
		"mlflow-artifacts:/$exp_id/$run_id/artifacts/model" ]

	# a second run lands in the same experiment as version 2
	run --separate-stderr mlog --model "$MODEL" <"$TMP/metrics.tsv"
	assert_success
	[ "$(field experiment_id "$output")" = "$exp_id" ]
	[ "$(field model_version "$output")" = 2 ]
}

@test "more params and metrics than one log-batch takes are split over several" {
	for i in $(seq 1 150); do printf 'p%d\t%d\n' "$i" "$i"; done >"$TMP/many-params.tsv"
	for i in $(seq 1 2500); do printf '%d\ttrain/loss\t%d.5\n' "$i" "$i"; done >"$TMP/many-losses.tsv"
	run --separate-stderr mlog -v --params "$TMP/many-params.tsv" --losses "$TMP/many-losses.tsv" \
		<"$TMP/metrics.tsv"
	assert_success
	run_id=$(field run_id "$output")
	# get-by-name, experiments/create, runs/create, 4 × log-batch (100 params | 50 params +
	# 950 metrics | 1000 | 552), PUT metrics.tsv, runs/update
	[[ $stderr == *"logged: 9 REST calls"* ]]
	[ "$(run_get "$run_id" | jq '.run.data.params | length')" -eq 150 ]
	[ "$(run_get "$run_id" | jq -r '.run.data.params[] | select(.key == "p150") | .value')" = 150 ]
	api "metrics/get-history?run_id=$run_id&metric_key=train/loss&max_results=5000" >"$TMP/h.json"
	[ "$(jq '.metrics | length' "$TMP/h.json")" -eq 2500 ]
	[ "$(jq '[.metrics[] | select(.step == 2500) | .value][0]' "$TMP/h.json")" = 2500.5 ]
}

@test "--version-info prints the version's run and its metrics" {
	v=$(log_version 0.375)
	run --separate-stderr mlog --version-info "$v"
	assert_success
	[ "$(field version "$output")" = "$v" ]
	[[ $(field run_id "$output") =~ ^[0-9a-f]{32}$ ]]
	[ "$(field ndcg_at_10 "$output")" = 0.375 ]
	run --separate-stderr mlog --version-info 99
	assert_failure 66
	[[ $stderr == *"has no version 99"* ]]
}

@test "--no-register logs the run but creates no version; no --model, no version either" {
	run --separate-stderr mlog --no-register --model "$MODEL" <"$TMP/metrics.tsv"
	assert_success
	[ -n "$(field run_id "$output")" ]
	[ -z "$(field model_version "$output")" ]
	run --separate-stderr mlog --git-commit unknown <"$TMP/metrics.tsv"
	assert_success
	[ -z "$(field model_version "$output")" ]
	[ "$(run_count)" -eq 2 ]
	# a commit that is not a hex id is kept as git_commit only
	run_get "$(field run_id "$output")" >"$TMP/run.json"
	[ "$(jq -r '.run.data.tags[] | select(.key == "git_commit") | .value' "$TMP/run.json")" = unknown ]
	[ -z "$(jq -r '.run.data.tags[] | select(.key == "mlflow.source.git.commit") | .value' "$TMP/run.json")" ]
	[ "$(version_count)" -eq 0 ]
}

@test "gate, promote, history and rollback move the champion and record every move" {
	run --separate-stderr mlog --champion
	assert_failure 66
	[[ $stderr == *"has no champion"* ]]

	v1=$(log_version 0.40)
	v2=$(log_version 0.45)
	v3=$(log_version 0.30)
	[ "$v1 $v2 $v3" = "1 2 3" ]

	run --separate-stderr mlog --gate 1
	assert_success
	[ "$output" = pass ]
	[[ $stderr == *"no champion yet"* ]]
	run --separate-stderr mlog --promote 1 --reason "first model"
	assert_success
	[ "$output" = 1 ]
	run --separate-stderr mlog --champion
	[ "$output" = 1 ]

	run --separate-stderr mlog --gate 2
	assert_success
	[ "$output" = pass ]
	[[ $stderr == *"v2 ndcg_at_10 0.4500 >= champion v1 0.4000"* ]]
	run --separate-stderr mlog --promote 2
	assert_success

	run --separate-stderr mlog --gate 3
	assert_success
	[ "$output" = fail ]
	[[ $stderr == *"v3 ndcg_at_10 0.3000 < champion v2 0.4500"* ]]
	# the same gate on rmse, where lower is better: v3's 0.9 is not worse than v2's 0.9
	run --separate-stderr mlog --gate 3 --metric rmse
	[ "$output" = pass ]

	# the alias, read back through MLflow
	api "registered-models/alias?name=$NAME&alias=champion" >"$TMP/a.json"
	[ "$(jq -r .model_version.version "$TMP/a.json")" = 2 ]
	api "model-versions/get?name=$NAME&version=2" >"$TMP/v.json"
	[[ $(jq -r '.model_version.tags[] | select(.key == "lensflow.promoted_at") | .value' \
		"$TMP/v.json") =~ ^20[0-9-]{8}T[0-9:]{8}Z$ ]]

	# promoting the champion again changes nothing and records nothing
	run --separate-stderr mlog --promote 2
	assert_success

	run --separate-stderr mlog --rollback
	assert_success
	[ "$output" = 1 ]
	run --separate-stderr mlog --champion
	[ "$output" = 1 ]

	run --separate-stderr mlog --history
	assert_success
	[ "$(wc -l <<<"$output")" -eq 3 ]
	# without --reason a promotion records how the versions compared
	[ "$(cut -f2- <<<"$output")" = "$(printf '\t1\tfirst model\n1\t2\tv2 ndcg_at_10 0.4500 >= champion v1 0.4000\n2\t1\trollback')" ]
	[[ $(head -1 <<<"$output" | cut -f1) =~ ^20[0-9-]{8}T[0-9:]{8}Z$ ]]
	# the same history in the registered model's tag, as JSON
	api "registered-models/get?name=$NAME" |
		jq -r '.registered_model.tags[] | select(.key == "lensflow.champion_history") | .value' |
		jq -e 'length == 3 and .[2].action == "rollback" and .[0].from == null' >/dev/null

	# nothing earlier than v1: exit 66, champion unchanged
	run --separate-stderr mlog --rollback
	assert_failure 66
	[[ $stderr == *"no earlier champion than v1"* ]]
	run --separate-stderr mlog --champion
	[ "$output" = 1 ]
}

@test "registry moves on unknown versions and bad arguments" {
	run --separate-stderr mlog --gate 1
	assert_failure 66
	[[ $stderr == *"has no version 1"* ]]
	run --separate-stderr mlog --promote 0
	assert_failure 64
	[[ $stderr == *"'0' is not a model version"* ]]
	run --separate-stderr mlog --promote 1 --gate 1
	assert_failure 64
	v=$(log_version 0.5)
	run --separate-stderr mlog --gate "$v" --metric nope
	assert_failure 65
	[[ $stderr == *"has no metric nope"* ]]
	run --separate-stderr mlog --history
	assert_success
	[ -z "$output" ]
	# a history someone broke by hand is reported, never overwritten
	api_post registered-models/set-tag "{\"name\": \"$NAME\", \"key\": \"lensflow.champion_history\", \"value\": \"junk\"}"
	run --separate-stderr mlog --history
	assert_failure 65
	[[ $stderr == *"lensflow.champion_history is not a JSON array"* ]]
	run --separate-stderr mlog --promote "$v"
	assert_failure 65
	[ "$(api "registered-models/get?name=$NAME" |
		jq -r '.registered_model.tags[] | select(.key == "lensflow.champion_history") | .value')" = junk ]
	run --separate-stderr mlog --champion
	assert_failure 66
}

@test "a metric another client logged as NaN never passes the gate" {
	v1=$(log_version 0.3)
	v2=$(log_version 0.3)
	mlog --promote "$v1" >/dev/null 2>&1
	run_id=$(api "model-versions/get?name=$NAME&version=$v2" | jq -r .model_version.run_id)
	api_post runs/log-metric "{\"run_id\": \"$run_id\", \"key\": \"ndcg_at_10\", \"value\": \"NaN\",
		\"timestamp\": 9999999999999, \"step\": 1}" >/dev/null
	run --separate-stderr mlog --gate "$v2"
	assert_success
	[ "$output" = fail ]
	[[ $stderr == *"v2 ndcg_at_10 is NaN"* ]]
	run --separate-stderr mlog --version-info "$v2"
	[ "$(field ndcg_at_10 "$output")" = nan ]
}

@test "MLflow unreachable: exit 69 naming the URL, nothing registered" {
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	before=$(version_count)
	run --separate-stderr mlog --tracking-uri "http://127.0.0.1:$port" --model "$MODEL" <"$TMP/metrics.tsv"
	assert_failure 69
	[ -z "$output" ]
	[[ $stderr == "ml-mlflow-log: cannot reach http://127.0.0.1:$port "* ]]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	run --separate-stderr mlog --tracking-uri "http://127.0.0.1:$port" --champion
	assert_failure 69
	[ "$(version_count)" -eq "$before" ]
}

@test "a refusal after the run exists: exit 65 with MLflow's words, run FAILED, no version" {
	# MLflow accepts ':' in experiment names but not in registered model names
	run --separate-stderr "$BIN/ml-mlflow-log" --experiment "$NAME" --model-name "$NAME:x" \
		--model "$MODEL" <"$TMP/metrics.tsv"
	assert_failure 65
	[ -z "$output" ]
	[[ $stderr == *"INVALID_PARAMETER_VALUE"*"Names cannot contain"* ]]
	[ "$(run_count)" -eq 1 ]
	id=$(api "experiments/get-by-name?experiment_name=$NAME" | jq -r .experiment.experiment_id)
	[ "$(api_post runs/search "{\"experiment_ids\": [\"$id\"]}" | jq -r '.runs[0].info.status')" = FAILED ]
	[ "$(curl -sS "$MLFLOW_TRACKING_URI/api/2.0/mlflow/model-versions/search" |
		jq --arg n "$NAME:x" '[.model_versions // [] | .[] | select(.name == $n)] | length')" -eq 0 ]
}

@test "bad local input fails before anything reaches MLflow" {
	head -c 100 "$MODEL" >"$TMP/cut.lfe"
	run --separate-stderr mlog --model "$TMP/cut.lfe" <"$TMP/metrics.tsv"
	assert_failure 65
	[[ $stderr == *"cut.lfe"* ]]
	cp "$MODEL" "$TMP/flip.lfe"
	printf '\x7f' | dd of="$TMP/flip.lfe" bs=1 seek=40 conv=notrunc status=none
	run --separate-stderr mlog --model "$TMP/flip.lfe" <"$TMP/metrics.tsv"
	assert_failure 65
	[[ $stderr == *"flip.lfe"* ]]
	run --separate-stderr mlog --model "$TMP/absent.lfe" <"$TMP/metrics.tsv"
	assert_failure 66
	[[ $stderr == *"absent.lfe"* ]]

	printf 'dim 4\n' >"$TMP/bad-params.tsv"
	run --separate-stderr mlog --params "$TMP/bad-params.tsv" <"$TMP/metrics.tsv"
	assert_failure 65
	[[ $stderr == *"bad-params.tsv:1: expected 2 tab-separated fields"* ]]
	printf '1\tloss\t1\nx\tloss\t2\n' >"$TMP/bad-losses.tsv"
	run --separate-stderr mlog --losses "$TMP/bad-losses.tsv" <"$TMP/metrics.tsv"
	assert_failure 65
	[[ $stderr == *"bad-losses.tsv:2: step is not an integer >= 0 ('x')" ]]
	run --separate-stderr mlog <<<"$(printf 'ndcg@10\tabc\n')"
	assert_failure 65
	[[ $stderr == *"stdin:1"* ]]
	run --separate-stderr mlog </dev/null
	assert_failure 65
	[[ $stderr == *"no metrics"* ]]
	run --separate-stderr mlog --artifact "$TMP" <"$TMP/metrics.tsv"
	assert_failure 65
	[[ $stderr == *"not a regular file"* ]]
	run --separate-stderr mlog --dataset-sha256 xyz <"$TMP/metrics.tsv"
	assert_failure 64
	[[ $stderr == *"--dataset-sha256: expected 64 hex digits"* ]]
	run --separate-stderr mlog --git-commit 'abc;rm' <"$TMP/metrics.tsv"
	assert_failure 64
	[[ $stderr == *"is not a commit id"* ]]
	run --separate-stderr mlog --tag novalue <"$TMP/metrics.tsv"
	assert_failure 64
	[[ $stderr == *"--tag 'novalue': expected KEY=VALUE"* ]]
	[ "$(run_count)" -eq 0 ]
}

@test "usage: no server address, unknown options, --help, --version" {
	run --separate-stderr env -u MLFLOW_TRACKING_URI "$BIN/ml-mlflow-log" --champion
	assert_failure 64
	[[ $stderr == *"set MLFLOW_TRACKING_URI or give --tracking-uri"* ]]
	run --separate-stderr "$BIN/ml-mlflow-log" --bogus
	assert_failure 64
	run --separate-stderr "$BIN/ml-mlflow-log" extra
	assert_failure 64
	run --separate-stderr "$BIN/ml-mlflow-log" --tracking-uri ftp://x --champion
	assert_failure 64
	# refused while parsing options: exits 64 with nothing leaked (LeakSanitizer
	# in the ASan build turned this into exit 23)
	run --separate-stderr "$BIN/ml-mlflow-log" --reason $'\xff' --rollback
	assert_failure 64
	[[ $stderr == *"--reason is not valid UTF-8"* ]]
	run --separate-stderr "$BIN/ml-mlflow-log" --help
	assert_success
	[[ $output == *"usage: ml-mlflow-log"* && $output == *"example:"* ]]
	run --separate-stderr "$BIN/ml-mlflow-log" --version
	assert_success
	[[ $output == "ml-mlflow-log lensflow "* ]]
}
