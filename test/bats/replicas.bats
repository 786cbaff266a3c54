#!/usr/bin/env bats
# scripts/pg-replicas (a primary and hot standbys from the embedded wheel) and ml-serve reading
# from the standbys: issue 27's "Done when". Its own servers under $LENSFLOW_TEST_HOME/replicas-bats.
load helpers
load ../reliability/lib

setup_file() {
	export LENSFLOW_HOME=$LENSFLOW_TEST_HOME/replicas-bats
	rm -rf "$LENSFLOW_HOME"
	"$REPO/scripts/pg-replicas" up 2 2>"$BATS_FILE_TMPDIR/up.log" || {
		cat "$BATS_FILE_TMPDIR/up.log" >&2
		return 1
	}
	# shellcheck disable=SC1091
	. "$LENSFLOW_HOME/replicas.env"
	# v1 served, v2 loaded: written on the primary only
	build_data "$BATS_FILE_TMPDIR" v2
	load_set "$PRIMARY_URL" "$BATS_FILE_TMPDIR"
	"$BIN/ml-pgload" -q --db "$PRIMARY_URL" --load 2 --run-id run-two <"$BATS_FILE_TMPDIR/v2.lfe" >/dev/null
	# two ml-serve, each given both standbys (and the primary last) in one URL
	local s1 s2
	read -r s1 s2 <<<"$STANDBY_PORTS"
	export SERVE_DB="postgresql://lensflow@127.0.0.1:$s1,127.0.0.1:$s2,127.0.0.1:$PRIMARY_PORT/lensflow?target_session_attrs=prefer-standby"
	PORT_A=$(free_port)
	PORT_B=$(free_port)
	while [ "$PORT_B" = "$PORT_A" ]; do PORT_B=$(free_port); done
	export PORT_A PORT_B
	for x in A B; do
		port=PORT_$x
		start_serve "serve$x" --listen "127.0.0.1:${!port}" --threads 4 --poll 0.3 --conn-lifetime 2 \
			--db "$SERVE_DB" --tracking-uri '' --impressions-queue 0
		wait_for "http://127.0.0.1:${!port}" /readyz 200
	done
}

teardown_file() {
	stop_all_serves
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

# until CMD...: until CMD succeeds, at most 20 s
until_ok() {
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
		until_ok q "$u" "SELECT 1 FROM rt_probe WHERE id = 3" || fail "rt_probe never reached $u"
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
	until_ok bash -c "! '$PG_BIN/pg_isready' -q -h 127.0.0.1 -p ${SPORT[1]}"
	run "$REPO/scripts/pg-replicas" status
	assert_failure 3
	assert_line --index 2 --regexp "^standby2 - 127.0.0.1:${SPORT[1]} down"
	run "$REPO/scripts/pg-replicas" up 2
	assert_success
	q "$PRIMARY_URL" "INSERT INTO rt_probe VALUES (5, '[0,0,1]')"
	until_ok q "${STANDBY[1]}" "SELECT 1 FROM rt_probe WHERE id = 5" || fail "standby2 did not catch up"
	run q "$PRIMARY_URL" "SELECT active FROM pg_replication_slots WHERE slot_name = 'standby2'"
	assert_output t
}

# ml-serve's connections (application_name ml-serve) on the server at URL
serve_conns() { q "$1" "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ml-serve'"; }

model_version() { curl -s "http://127.0.0.1:$1/model" | jq -r .version; }

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# 4 closed-loop clients on each ml-serve for S seconds: every worker of both is used
busy() {
	"$REL/rl-load" --port "$PORT_A" --conns 4 --seconds "$1" /recommendations/1 /movies/1/similar >/dev/null &
	"$REL/rl-load" --port "$PORT_B" --conns 4 --seconds "$1" /recommendations/2 /movies/2/similar >/dev/null
	wait
}

@test "ml-serve on the standbys: both serve the version switched on the primary; connections spread; /metrics shows the lag" {
	[ "$(model_version "$PORT_A")" = 1 ] && [ "$(model_version "$PORT_B")" = 1 ]
	"$BIN/ml-pgload" -q --db "$PRIMARY_URL" --switch 2 >/dev/null
	until_ok bash -c "[ \"\$(curl -s http://127.0.0.1:$PORT_A/model | jq -r .version)\" = 2 ]" ||
		fail "ml-serve A never served v2"
	until_ok bash -c "[ \"\$(curl -s http://127.0.0.1:$PORT_B/model | jq -r .version)\" = 2 ]" ||
		fail "ml-serve B never served v2"
	run curl -s "http://127.0.0.1:$PORT_A/recommendations/1?k=3"
	assert_output --partial '"model_version":"2"'
	busy 1
	# every connection is on a standby, and both standbys have some
	[ "$(serve_conns "$PRIMARY_URL")" = 0 ] || fail "ml-serve talks to the primary: $(serve_conns "$PRIMARY_URL")"
	c1=$(serve_conns "${STANDBY[0]}") c2=$(serve_conns "${STANDBY[1]}")
	echo "connections: standby1 $c1, standby2 $c2"
	[ "$c1" -ge 2 ] && [ "$c2" -ge 2 ]
	assert_equal "$(metric "$PORT_A" lensflow_db_standby)" 1
	# replay paused on both standbys: a switch on the primary is not served, and the lag shows
	for u in "${STANDBY[@]}"; do q "$u" "SELECT pg_wal_replay_pause()" >/dev/null; done
	"$BIN/ml-pgload" -q --db "$PRIMARY_URL" --switch 1 >/dev/null
	sleep 1.5
	assert_equal "$(model_version "$PORT_A")" 2
	lag=$(metric "$PORT_A" lensflow_db_replay_lag_seconds)
	echo "lag while paused: $lag"
	awk -v l="$lag" 'BEGIN { exit !(l >= 1) }'
	for u in "${STANDBY[@]}"; do q "$u" "SELECT pg_wal_replay_resume()" >/dev/null; done
	until_ok bash -c "[ \"\$(curl -s http://127.0.0.1:$PORT_A/model | jq -r .version)\" = 1 ]" ||
		fail "v1 never served after the replay resumed"
	until_ok bash -c "[ \"\$(curl -s http://127.0.0.1:$PORT_A/metrics | awk '\$1 == \"lensflow_db_replay_lag_seconds\" { print \$2 }')\" = 0.000000 ]" ||
		fail "the lag did not come back to 0"
}

@test "kill -9 of a standby under load: no failed request 1 s after the kill, every 5xx before it with Retry-After; the standby rejoins" {
	"$REL/rl-load" --port "$PORT_A" --conns 4 --rate 200 --seconds 5 --events "$BATS_TEST_TMPDIR/a.tsv" \
		/recommendations/1 /movies/1/similar /recommendations/3 >"$BATS_TEST_TMPDIR/a.json" &
	"$REL/rl-load" --port "$PORT_B" --conns 4 --rate 200 --seconds 5 --events "$BATS_TEST_TMPDIR/b.tsv" \
		/recommendations/2 /movies/2/similar /recommendations/4 >"$BATS_TEST_TMPDIR/b.json" &
	sleep 2
	killed=$(date +%s.%N)
	kill -9 "$(postmaster_pid 1)"
	wait
	cat "$BATS_TEST_TMPDIR/a.json" "$BATS_TEST_TMPDIR/b.json"
	run awk -F'\t' -v k="$killed" '
		{ n++ }
		$2 == 0 || $2 >= 500 { bad++; if ($1 > k + 1) { late++; print "late failure:", $0 } }
		$2 >= 500 && $3 != 1 { nora++; print "5xx without Retry-After:", $0 }
		$2 == 0 { transport++; print "transport failure:", $0 }
		END { printf "requests %d, failed %d, after 1 s %d, no Retry-After %d\n", n, bad, late, nora
		      exit (late > 0 || nora > 0 || transport > 0 || n < 1500) }' \
		"$BATS_TEST_TMPDIR/a.tsv" "$BATS_TEST_TMPDIR/b.tsv"
	echo "$output"
	assert_success
	# the standby restarts and streams again through its slot
	run "$REPO/scripts/pg-replicas" up 2
	assert_success
	run q "$PRIMARY_URL" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
	assert_output 2
	busy 2
	[ "$(serve_conns "${STANDBY[0]}")" -ge 1 ] || fail "nothing went back to the restarted standby"
}

@test "both standbys down: ml-serve falls back to the primary, and back to the standbys after its connection lifetime" {
	kill -9 "$(postmaster_pid 1)" "$(postmaster_pid 2)"
	until_ok bash -c "! '$PG_BIN/pg_isready' -q -h 127.0.0.1 -p ${SPORT[0]} && ! '$PG_BIN/pg_isready' -q -h 127.0.0.1 -p ${SPORT[1]}"
	# the next requests are served from the primary
	until_ok bash -c "curl -sf -o /dev/null http://127.0.0.1:$PORT_A/recommendations/1 && curl -sf -o /dev/null http://127.0.0.1:$PORT_B/recommendations/2" ||
		fail "not served from the primary"
	busy 1
	[ "$(serve_conns "$PRIMARY_URL")" -ge 2 ]
	until_ok bash -c "[ \"\$(curl -s http://127.0.0.1:$PORT_A/metrics | awk '\$1 == \"lensflow_db_standby\" { print \$2 }')\" = 0 ]" ||
		fail "lensflow_db_standby did not say primary"
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_A/readyz"
	assert_output 200
	# the standbys come back: after the lifetime (2 s) every connection has moved back
	"$REPO/scripts/pg-replicas" up 2 2>/dev/null
	busy 4
	busy 1
	run serve_conns "$PRIMARY_URL"
	assert_output 0
	[ "$(serve_conns "${STANDBY[0]}")" -ge 1 ] && [ "$(serve_conns "${STANDBY[1]}")" -ge 1 ]
}

@test "no database at all: /readyz answers 503 with Retry-After, and 200 once the servers are back" {
	"$REPO/scripts/pg-replicas" down 2>/dev/null
	until_ok bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT_A/readyz)\" = 503 ]" ||
		fail "/readyz never said 503"
	run curl -s -D "$BATS_TEST_TMPDIR/h" "http://127.0.0.1:$PORT_A/readyz"
	assert_output --partial '"status":"unavailable"'
	grep -qi '^retry-after: [0-9]' "$BATS_TEST_TMPDIR/h"
	assert_equal "$(metric "$PORT_A" lensflow_ready)" 0
	"$REPO/scripts/pg-replicas" up 2 2>/dev/null
	wait_for "http://127.0.0.1:$PORT_A" /readyz 200
	wait_for "http://127.0.0.1:$PORT_B" /readyz 200
}
