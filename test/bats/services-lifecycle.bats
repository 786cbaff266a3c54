#!/usr/bin/env bats
# scripts/with-services, which `make test`, `make asan`, `make valgrind` and
# `make soak` run through: the services it started are stopped when the run
# ends, on a failure too; services that were up before stay up; KEEP_SERVICES=1
# keeps them all. Homes of its own here, never the test services' one (which
# is only looked at, in the "already up" case).
bats_require_minimum_version 1.5.0
load helpers

WS=$REPO/scripts/with-services
H=$REPO/.lensflow/test/with-services-bats

setup_file() {
	rm -rf "$H"
	mkdir -p "$H"
}

teardown_file() {
	for h in "$H"/*; do
		[ -d "$h" ] && LENSFLOW_HOME=$h "$REPO/scripts/services" down >/dev/null 2>&1
	done
	rm -rf "$H"
}

up() { LENSFLOW_HOME=$1 "$REPO/scripts/services" status >/dev/null 2>&1; }

@test "a failing run: its status, and the services it started are down afterwards" {
	run "$WS" "$H/a" bash -c "LENSFLOW_HOME='$H/a' '$REPO/scripts/services' status >/dev/null && exit 3"
	assert_equal "$status" 3 # 3: the services were up while the command ran
	run up "$H/a"
	assert_failure
	run env LENSFLOW_HOME="$H/a" "$REPO/scripts/pg-embedded" status
	assert_failure
}

@test "services already up before the run stay up" {
	[ -f "$LENSFLOW_TEST_HOME/services.env" ] || skip "the test services are not up"
	up "$LENSFLOW_TEST_HOME" || skip "the test services are not up"
	run "$WS" "$LENSFLOW_TEST_HOME" true
	assert_success
	up "$LENSFLOW_TEST_HOME"
}

@test "KEEP_SERVICES=1 leaves the started services running, and says so" {
	run --separate-stderr env KEEP_SERVICES=1 "$WS" "$H/k" true
	assert_success
	[[ $stderr == *"KEEP_SERVICES=1: pg mlflow left running"* ]]
	up "$H/k"
}
