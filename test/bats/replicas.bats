#!/usr/bin/env bats
# scripts/pg-replicas (a primary and hot standbys from the embedded wheel) and ml-serve reading
# from the standbys: issue 27's "Done when". Its own servers under $LENSFLOW_TEST_HOME/replicas-bats.
load helpers

setup_file() {
	export LENSFLOW_HOME=$LENSFLOW_TEST_HOME/replicas-bats
	rm -rf "$LENSFLOW_HOME"
	"$REPO/scripts/pg-replicas" up 2 2>"$BATS_FILE_TMPDIR/up.log" || {
		cat "$BATS_FILE_TMPDIR/up.log" >&2
		return 1
	}
}

teardown_file() {
	LENSFLOW_HOME=$LENSFLOW_TEST_HOME/replicas-bats "$REPO/scripts/pg-replicas" down 2>/dev/null || true
}

setup() {
	export LENSFLOW_HOME=$LENSFLOW_TEST_HOME/replicas-bats
	# shellcheck disable=SC1091
	. "$LENSFLOW_HOME/replicas.env"
	read -r -a STANDBY <<<"$STANDBY_URLS"
	read -r -a SPORT <<<"$STANDBY_PORTS"
}

q() { # q URL SQL
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$1" -c "$2"
}

# wait_for CMD...: until CMD succeeds, at most 20 s
wait_for() {
	local i
	for i in $(seq 200); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

postmaster_pid() { head -n 1 "$REPLICAS_DIR/standby$1/data/postmaster.pid"; }

@test "pg-replicas up 2: replicas.env names a primary and two standbys that stream from it" {
	[ "${#STANDBY[@]}" -eq 2 ]
	[[ $PRIMARY_URL == postgresql://lensflow@127.0.0.1:$PRIMARY_PORT/lensflow ]]
	run q "$PRIMARY_URL" "SELECT pg_is_in_recovery()"
	assert_output f
	for u in "${STANDBY[@]}"; do
		run q "$u" "SELECT pg_is_in_recovery()"
		assert_output t
	done
	run q "$PRIMARY_URL" "SELECT string_agg(slot_name || ':' || active, ' ' ORDER BY slot_name)
		FROM pg_replication_slots"
	assert_output "standby1:true standby2:true"
	run q "$PRIMARY_URL" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
	assert_output 2
}

@test "a write on the primary reaches both standbys; a standby refuses writes; pgvector answers there" {
	q "$PRIMARY_URL" "DROP TABLE IF EXISTS rt_probe; CREATE TABLE rt_probe (id int, v vector(3));
		INSERT INTO rt_probe VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')"
	for u in "${STANDBY[@]}"; do
		wait_for q "$u" "SELECT 1 FROM rt_probe WHERE id = 3" || fail "rt_probe never reached $u"
		run q "$u" "SELECT string_agg(id::text, ',' ORDER BY v <#> '[1,0,0]') FROM rt_probe"
		assert_output "1,3,2"
		run q "$u" "INSERT INTO rt_probe VALUES (4, '[0,0,1]')"
		assert_failure
		assert_output --partial "read-only transaction"
	done
}

@test "pg-replicas up again is idempotent; status lists every server; usage errors exit 64" {
	before=$(cat "$LENSFLOW_HOME/replicas.env")
	pid=$(postmaster_pid 1)
	run "$REPO/scripts/pg-replicas" up 2
	assert_success
	[ "$(cat "$LENSFLOW_HOME/replicas.env")" = "$before" ]
	[ "$(postmaster_pid 1)" = "$pid" ]
	run "$REPO/scripts/pg-replicas" status
	assert_success
	assert_line --index 0 --regexp "^primary primary 127.0.0.1:$PRIMARY_PORT up"
	assert_line --index 1 --regexp "^standby1 standby 127.0.0.1:${SPORT[0]} up lag_s="
	assert_line --index 2 --regexp "^standby2 standby 127.0.0.1:${SPORT[1]} up lag_s="
	for bad in "up" "up 0" "up 9" "up two" "sideways" ""; do
		# shellcheck disable=SC2086
		run "$REPO/scripts/pg-replicas" $bad
		assert_failure 64
	done
}

@test "a standby killed with -9: status says down (exit 3), up starts it and it streams again" {
	kill -9 "$(postmaster_pid 2)"
	wait_for bash -c "! '$PG_BIN/pg_isready' -q -h 127.0.0.1 -p ${SPORT[1]}"
	run "$REPO/scripts/pg-replicas" status
	assert_failure 3
	assert_line --index 2 --regexp "^standby2 - 127.0.0.1:${SPORT[1]} down"
	run "$REPO/scripts/pg-replicas" up 2
	assert_success
	q "$PRIMARY_URL" "INSERT INTO rt_probe VALUES (5, '[0,0,1]')"
	wait_for q "${STANDBY[1]}" "SELECT 1 FROM rt_probe WHERE id = 5" || fail "standby2 did not catch up"
	run q "$PRIMARY_URL" "SELECT active FROM pg_replication_slots WHERE slot_name = 'standby2'"
	assert_output t
}
