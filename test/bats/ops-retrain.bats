#!/usr/bin/env bats
# scripts/retrain (what cron runs) through the real `make pipeline` against the suite's Postgres +
# pgvector and MLflow: the lock (two at once: one runs, the other exits 75; --wait queues), the
# per-run logs, the textfile metrics after a success, a gate failure and a failed run, and a
# promotion that a running ml-serve picks up without a restart and without a failed request.
# One to two minutes: eight real pipeline runs (small models), some of them concurrent.
load helpers

# Small and quick models. GOOD passes the gate against itself (same seed, same numbers);
# BAD is far worse, so the gate refuses it.
GOOD="--model softmax-mf --dim 16 --epochs 6 --rating-sweeps 20 --rating-burn-in 5"
BAD="--model softmax-mf --dim 1 --epochs 1 --rating-sweeps 20 --rating-burn-in 5"

setup_file() {
	# The pipeline must not start embedded services of its own in the test's LENSFLOW_HOME.
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || { echo "no MLflow: scripts/services up (make test does)" >&2; return 1; }
	fresh_db ops_retrain
	export MODEL_NAME=opsrt_$RANDOM$RANDOM EXPERIMENT=ops-retrain-$RANDOM$RANDOM
	export LENSFLOW_HOME=$BATS_FILE_TMPDIR/home LENSFLOW_DATA_URL=$DATA BIN
	export TRAIN_FLAGS=$GOOD
	export PROM=$LENSFLOW_HOME/metrics/retrain.prom LOCK=$LENSFLOW_HOME/retrain.lock
}

teardown_file() {
	[ -f "$BATS_FILE_TMPDIR/serve.pid" ] && kill "$(cat "$BATS_FILE_TMPDIR/serve.pid")" 2>/dev/null
	true
}

metric() { awk -v m="$1" '$1 == m { print $2 }' "$PROM"; }
logs() { find "$LENSFLOW_HOME/logs" -name 'retrain-*.log' 2>/dev/null | sort; }
champion() { "$BIN/ml-mlflow-log" --model-name "$MODEL_NAME" --champion; }
served() { "$BIN/ml-pgload" --model-name "$MODEL_NAME" --serving; }

@test "two retrains started at once: one runs, the other exits 75; nothing corrupted" {
	d=$BATS_TEST_TMPDIR
	"$REPO/scripts/retrain" >"$d/a.out" 2>"$d/a.err" 3>&- &
	a=$!
	"$REPO/scripts/retrain" >"$d/b.out" 2>"$d/b.err" 3>&- &
	b=$!
	rc_a=0 rc_b=0
	wait $a || rc_a=$?
	wait $b || rc_b=$?
	assert_equal "$(printf '%s\n' "$rc_a" "$rc_b" | sort -n | tr '\n' ' ')" "0 75 "
	if [ "$rc_a" = 0 ]; then win=a lose=b; else win=b lose=a; fi
	# the loser said why, printed nothing on stdout, wrote no log
	run cat "$d/$lose.err"
	assert_output --partial "another retrain is running"
	assert_output --partial "retrain.lock"
	[ ! -s "$d/$lose.out" ]
	assert_equal "$(logs | wc -l)" 1
	assert_equal "$(ls "$LENSFLOW_HOME/runs" | wc -l)" 1
	# the winner: one JSON line, version 1 promoted, equal to pipeline.json
	assert_equal "$(wc -l <"$d/$win.out")" 1
	cmp "$d/$win.out" "$LENSFLOW_HOME/pipeline.json"
	assert_equal "$(jq -r '.model_version, .promoted' "$d/$win.out" | tr '\n' ' ')" "1 true "
	assert_equal "$(champion)" 1
	assert_equal "$(served)" 1
	# exactly one version was registered: the loser never reached MLflow
	run "$BIN/ml-mlflow-log" --model-name "$MODEL_NAME" --version-info 2
	assert_failure 66
	# the lock is free again
	flock -n "$LOCK" true
}

@test "after a success: the textfile metrics pass promtool and say what happened" {
	run promtool check metrics <"$PROM"
	assert_success
	assert_equal "$(metric lensflow_retrain_last_exit_code)" 0
	assert_equal "$(metric lensflow_retrain_promoted)" 1
	assert_equal "$(metric lensflow_retrain_model_version)" 1
	assert_equal "$(metric lensflow_retrain_last_success_timestamp_seconds)" "$(metric lensflow_retrain_last_run_timestamp_seconds)"
	awk -v t="$(metric lensflow_retrain_last_run_timestamp_seconds)" -v now="$(date +%s)" \
		-v d="$(metric lensflow_retrain_duration_seconds)" 'BEGIN { exit !(now - t < 120 && t <= now + 1 && d > 0 && d < 120) }'
	# no temporary file left beside it (node-exporter would read only *.prom, but still)
	assert_equal "$(ls -A "$LENSFLOW_HOME/metrics")" retrain.prom
	run tail -n 1 "$(logs | tail -n 1)"
	assert_output --partial "exit 0"
	assert_output --partial "model version 1 passed the gate and is the champion"
}

@test "a promotion reaches a running ml-serve without a restart and without a failed request" {
	port=$((20000 + RANDOM % 12000))
	"$BIN/ml-serve" --listen "127.0.0.1:$port" --model-name "$MODEL_NAME" --threads 2 --poll 1 \
		>"$BATS_TEST_TMPDIR/serve.log" 2>&1 3>&- &
	pid=$!
	echo $pid >"$BATS_FILE_TMPDIR/serve.pid"
	api=http://127.0.0.1:$port
	for _ in $(seq 100); do curl -sf -o /dev/null "$api/readyz" && break; sleep 0.1; done
	assert_equal "$(curl -sf "$api/recommendations/1?k=3" | jq -r .model_version)" 1

	# Load during the retrain and the switch: status codes and served versions, bounded in time.
	stop=$BATS_TEST_TMPDIR/stop codes=$BATS_TEST_TMPDIR/codes
	(
		end=$((SECONDS + 60))
		while [ ! -e "$stop" ] && [ $SECONDS -lt $end ]; do
			curl -s --max-time 5 -o "$BATS_TEST_TMPDIR/body" -w '%{http_code} ' "$api/recommendations/$((1 + RANDOM % 943))?k=5" >>"$codes"
			jq -r .model_version "$BATS_TEST_TMPDIR/body" >>"$codes" 2>/dev/null || echo "-" >>"$codes"
		done
	) 3>&- &
	loader=$!

	run "$REPO/scripts/retrain"
	assert_success
	assert_equal "$(jq -r '.model_version, .promoted' <<<"$output" | tr '\n' ' ')" "2 true "
	assert_equal "$(champion)" 2
	# ml-serve polls every second: v2 within a few
	for _ in $(seq 50); do
		[ "$(curl -sf "$api/model" | jq -r .version)" = 2 ] && break
		sleep 0.2
	done
	sleep 1
	touch "$stop"
	wait $loader
	kill -0 $pid # the same process, never restarted
	# what LensflowStaleModel compares agrees: served and champion are both v2
	for _ in $(seq 50); do
		curl -sf "$api/metrics" >"$BATS_TEST_TMPDIR/metrics"
		[ "$(awk '$1 == "lensflow_registry_champion_version" || $1 == "lensflow_serving_model_version" { print $2 }' "$BATS_TEST_TMPDIR/metrics" | sort -u)" = 2 ] && break
		sleep 0.2
	done
	run awk '$1 == "lensflow_registry_champion_version" || $1 == "lensflow_serving_model_version" { print $1, $2 }' "$BATS_TEST_TMPDIR/metrics"
	assert_line "lensflow_registry_champion_version 2"
	assert_line "lensflow_serving_model_version 2"
	assert_equal "$(curl -sf "$api/recommendations/1?k=3" | jq -r .model_version)" 2
	# every request answered 200, first from v1, then from v2
	n=$(wc -l <"$codes")
	[ "$n" -ge 20 ] || fail "only $n requests during the retrain"
	run grep -v '^200 [12]$' "$codes"
	assert_output ""
	grep -q '^200 1$' "$codes"
	grep -q '^200 2$' "$codes"
	# and once v2 appeared, v1 never came back
	run awk '$2 == 2 { seen = 1 } seen && $2 == 1 { bad = 1 } END { exit bad }' "$codes"
	assert_success
	kill $pid
	wait $pid || true
	rm -f "$BATS_FILE_TMPDIR/serve.pid"
}

@test "a retrain that fails the gate leaves the champion and the served set, and says so in log and metric" {
	TRAIN_FLAGS=$BAD run "$REPO/scripts/retrain"
	assert_success
	assert_equal "$(jq -r '.model_version, .promoted' <<<"$output" | tr '\n' ' ')" "3 false "
	assert_equal "$(champion)" 2
	assert_equal "$(served)" 2
	assert_equal "$(metric lensflow_retrain_promoted)" 0
	assert_equal "$(metric lensflow_retrain_last_exit_code)" 0
	assert_equal "$(metric lensflow_retrain_model_version)" 3
	run tail -n 1 "$(logs | tail -n 1)"
	assert_output --partial "model version 3 did not pass the gate; the champion is unchanged"
}

@test "a failed retrain (dataset missing): nonzero exit, exit code metric set, last success unchanged" {
	before_success=$(metric lensflow_retrain_last_success_timestamp_seconds)
	before_run=$(metric lensflow_retrain_last_run_timestamp_seconds)
	n_logs=$(logs | wc -l)
	LENSFLOW_DATA_URL=$BATS_TEST_TMPDIR/no-such-dataset run "$REPO/scripts/retrain"
	# the failed step's own code (ml-fetch: 66, no such input), not make's 2
	assert_failure 66
	code=$status
	assert_output --partial "the pipeline failed with exit $code"
	assert_equal "$(metric lensflow_retrain_last_exit_code)" "$code"
	assert_equal "$(metric lensflow_retrain_last_success_timestamp_seconds)" "$before_success"
	awk -v a="$before_run" -v b="$(metric lensflow_retrain_last_run_timestamp_seconds)" 'BEGIN { exit !(b > a) }'
	assert_equal "$(metric lensflow_retrain_promoted)" 0
	# the run's log names the cause
	assert_equal "$(logs | wc -l)" $((n_logs + 1))
	run cat "$(logs | tail -n 1)"
	assert_output --partial "no-such-dataset"
	assert_output --partial "ml-fetch"
	# the champion and the served set did not move
	assert_equal "$(champion)" 2
	assert_equal "$(served)" 2
	run promtool check metrics <"$PROM"
	assert_success
}

@test "--wait queues behind a running retrain instead of exiting 75" {
	d=$BATS_TEST_TMPDIR
	n=$(logs | wc -l)
	v0=$( [ -f "$PROM" ] && metric lensflow_retrain_model_version || echo 0)
	TRAIN_FLAGS=$BAD "$REPO/scripts/retrain" >"$d/a.out" 2>"$d/a.err" 3>&- &
	a=$!
	# B starts once A holds the lock: A creates its log only then. (Probing with flock would take
	# the lock for a moment and could make A exit 75.)
	for _ in $(seq 200); do [ "$(logs | wc -l)" -gt "$n" ] && break; sleep 0.05; done
	TRAIN_FLAGS=$BAD run "$REPO/scripts/retrain" --wait
	assert_success
	assert_output --partial "waiting for it (--wait)"
	wait $a
	# both ran, one after the other: the next two versions
	assert_equal "$(printf '%s\n' "$(jq -r .model_version "$d/a.out")" "$(jq -r .model_version <<<"${lines[-2]}")" | sort -n | tr '\n' ' ')" "$((v0 + 1)) $((v0 + 2)) "
}

@test "logs: only the newest N are kept; bad options exit 64" {
	n=$(logs | wc -l)
	[ "$n" -ge 4 ]
	newest=$(logs | tail -n 1)
	LENSFLOW_DATA_URL=$BATS_TEST_TMPDIR/none run "$REPO/scripts/retrain" --keep-logs 2
	assert_failure
	assert_equal "$(logs | wc -l)" 2
	# the survivors are the two newest: the previous newest and this run's
	assert_equal "$(logs | head -n 1)" "$newest"
	for bad in "--keep-logs 0" "--keep-logs x" "--keep-logs" "--frobnicate"; do
		# shellcheck disable=SC2086
		run "$REPO/scripts/retrain" $bad
		assert_failure 64
		assert_output --partial "retrain: "
	done
	run "$REPO/scripts/retrain" --help
	assert_success
	assert_output --partial "usage: scripts/retrain"
}

@test "the Compose image's chain (compose/pipeline, as scripts/retrain runs it there) gives make pipeline's JSON" {
	last=$(cat "$LENSFLOW_HOME/pipeline.json")
	LENSFLOW_PIPELINE=$REPO/compose/pipeline LENSFLOW_BIN=$BIN run "$REPO/scripts/retrain"
	assert_success
	json=${lines[-2]}
	# the same keys, all the way down, as the last make pipeline run
	assert_equal "$(jq -c '[paths | map(tostring) | join(".")] | sort' <<<"$json")" \
		"$(jq -c '[paths | map(tostring) | join(".")] | sort' <<<"$last")"
	cmp <(echo "$json") "$LENSFLOW_HOME/pipeline.json"
	# GOOD again: the same numbers as the champion's, so it passes the gate and is served
	assert_equal "$(jq -r '.promoted' <<<"$json")" true
	v=$(jq -r .model_version <<<"$json")
	assert_equal "$(champion)" "$v"
	assert_equal "$(served)" "$v"
	assert_equal "$(metric lensflow_retrain_model_version)" "$v"
	# without its services it refuses at once instead of starting any
	run env -u DATABASE_URL LENSFLOW_BIN="$BIN" "$REPO/compose/pipeline"
	assert_failure 64
	assert_output --partial "DATABASE_URL is not set"
}
