#!/usr/bin/env bats
# scripts/mlflow-embedded: one real MLflow server per $LENSFLOW_HOME, started once, found
# again, stopped with every process of its group; failures during start-up leave nothing
# running. About 20 s: the server is started twice.

bats_require_minimum_version 1.5.0

setup_file() {
	load helpers
	export LENSFLOW_HOME=$BATS_FILE_TMPDIR/home
	export SCRIPT=$REPO/scripts/mlflow-embedded
}

teardown_file() {
	"$SCRIPT" down 2>/dev/null || true
}

setup() { load helpers; }

group_alive() { pgrep -g "$1" >/dev/null; }

@test "up starts one server and writes its address; up again finds it" {
	run --separate-stderr "$SCRIPT" up
	assert_success
	port=$(cat "$LENSFLOW_HOME/mlflow/port")
	[ "$output" = "MLFLOW_TRACKING_URI=http://127.0.0.1:$port" ]
	[ "$(cat "$LENSFLOW_HOME/mlflow/mlflow.env")" = "$output" ]
	curl -fsS "http://127.0.0.1:$port/api/2.0/mlflow/experiments/search?max_results=1" >/dev/null
	pid=$(cat "$LENSFLOW_HOME/mlflow/mlflow.pid")
	# its own process group: the server and one uvicorn worker, no job runner
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
	[ "$(pgrep -g "$pid" | wc -l)" -eq 2 ]
	[ -f "$LENSFLOW_HOME/mlflow/mlflow.db" ]
	[ -s "$LENSFLOW_HOME/logs/mlflow.log" ]

	run --separate-stderr "$SCRIPT" up
	assert_success
	[ "$output" = "MLFLOW_TRACKING_URI=http://127.0.0.1:$port" ]
	[ "$(cat "$LENSFLOW_HOME/mlflow/mlflow.pid")" = "$pid" ]
	[ "$(pgrep -g "$pid" | wc -l)" -eq 2 ]

	run "$SCRIPT" status
	assert_success
	assert_output --partial "up on http://127.0.0.1:$port (pid $pid)"

	# a lost pid file: the server of this home is still found, not started twice
	rm "$LENSFLOW_HOME/mlflow/mlflow.pid"
	run --separate-stderr "$SCRIPT" up
	assert_success
	[ "$(cat "$LENSFLOW_HOME/mlflow/mlflow.pid")" = "$pid" ]
	run --separate-stderr "$SCRIPT" env
	assert_success
	[ "$output" = "MLFLOW_TRACKING_URI=http://127.0.0.1:$port" ]
}

@test "a kept port that another program holds: exit 69, nothing started" {
	port=$(cat "$LENSFLOW_HOME/mlflow/port") # held by the first test's server
	other=$BATS_TEST_TMPDIR/other
	mkdir -p "$other/mlflow"
	echo "$port" >"$other/mlflow/port"
	LENSFLOW_HOME=$other run --separate-stderr "$SCRIPT" up
	assert_failure 69
	[[ $stderr == *"port $port"*"is used by another program"* ]]
	[ ! -f "$other/mlflow/mlflow.pid" ]
}

@test "down stops the whole group; a stale pid file never kills a stranger" {
	pid=$(cat "$LENSFLOW_HOME/mlflow/mlflow.pid")
	run "$SCRIPT" down
	assert_success
	! group_alive "$pid"
	[ ! -f "$LENSFLOW_HOME/mlflow/mlflow.pid" ]
	run "$SCRIPT" status
	assert_failure 69
	run --separate-stderr "$SCRIPT" env
	assert_failure 69

	sleep 30 &
	stranger=$!
	echo "$stranger" >"$LENSFLOW_HOME/mlflow/mlflow.pid"
	run "$SCRIPT" down
	assert_success
	kill -0 "$stranger"
	kill "$stranger"
}

@test "two concurrent ups start one server, on the kept port" {
	port=$(cat "$LENSFLOW_HOME/mlflow/port")
	"$SCRIPT" up >"$BATS_TEST_TMPDIR/a" 2>/dev/null &
	a=$!
	"$SCRIPT" up >"$BATS_TEST_TMPDIR/b" 2>/dev/null &
	b=$!
	wait "$a"
	wait "$b"
	[ "$(cat "$BATS_TEST_TMPDIR/a")" = "MLFLOW_TRACKING_URI=http://127.0.0.1:$port" ]
	[ "$(cat "$BATS_TEST_TMPDIR/b")" = "MLFLOW_TRACKING_URI=http://127.0.0.1:$port" ]
	pid=$(cat "$LENSFLOW_HOME/mlflow/mlflow.pid")
	[ "$(pgrep -g "$pid" | wc -l)" -eq 2 ]
	[ "$(pgrep -f -- "--backend-store-uri sqlite:///$LENSFLOW_HOME/mlflow/mlflow.db" | wc -l)" -eq 1 ]
	"$SCRIPT" down
	! group_alive "$pid"
}

@test "start-up failures: exit 69 with the log's tail, nothing left running" {
	fake=$BATS_TEST_TMPDIR/venv
	mkdir -p "$fake/bin"
	printf '#!/bin/sh\necho "mlflow: cannot open the store" >&2\nexit 3\n' >"$fake/bin/mlflow"
	chmod +x "$fake/bin/mlflow"
	home=$BATS_TEST_TMPDIR/h1
	VENV=$fake LENSFLOW_HOME=$home run --separate-stderr "$SCRIPT" up
	assert_failure 69
	[[ $stderr == *"cannot open the store"* ]]
	[[ $stderr == *"exited during start-up"* ]]
	[ ! -f "$home/mlflow/mlflow.pid" ]

	# a server that does not answer in time is stopped with its group
	printf '#!/bin/sh\necho $$ >"%s"\nexec sleep 60\n' "$BATS_TEST_TMPDIR/fakepid" >"$fake/bin/mlflow"
	home=$BATS_TEST_TMPDIR/h2
	MLFLOW_START_TIMEOUT=1 VENV=$fake LENSFLOW_HOME=$home run --separate-stderr "$SCRIPT" up
	assert_failure 69
	[[ $stderr == *"did not answer within 1 s"* ]]
	fakepid=$(cat "$BATS_TEST_TMPDIR/fakepid")
	! kill -0 "$fakepid" 2>/dev/null
	[ ! -f "$home/mlflow/mlflow.pid" ]

	# interrupted while waiting: what it started is stopped too
	rm -f "$BATS_TEST_TMPDIR/fakepid"
	home=$BATS_TEST_TMPDIR/h3
	MLFLOW_START_TIMEOUT=60 VENV=$fake LENSFLOW_HOME=$home "$SCRIPT" up 2>/dev/null &
	up=$!
	for _ in $(seq 50); do [ -s "$BATS_TEST_TMPDIR/fakepid" ] && break; sleep 0.1; done
	fakepid=$(cat "$BATS_TEST_TMPDIR/fakepid")
	kill -0 "$fakepid"
	kill -TERM "$up"
	rc=0
	wait "$up" || rc=$?
	[ "$rc" -eq 130 ]
	! kill -0 "$fakepid" 2>/dev/null
	[ ! -f "$home/mlflow/mlflow.pid" ]

	VENV=$BATS_TEST_TMPDIR/none LENSFLOW_HOME=$home run --separate-stderr "$SCRIPT" up
	assert_failure 69
	[[ $stderr == *"no mlflow in"*"run scripts/deps"* ]]
	run "$SCRIPT" bogus
	assert_failure 64
}
