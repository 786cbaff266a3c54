#!/usr/bin/env bats
# Faults with nothing lost (issue 15): a reload under load, Postgres stopped
# under load and back, MLflow down, ml-pgload killed at random points, ml-train
# and ml-fetch killed or out of disk space. The Postgres here is this file's
# own (stopped and started by the tests), never the suite's shared one. ml-serve runs 8 workers
# for at most 4 load connections: a keep-alive client holds a worker while connected, and the
# probes during the outage must find one free.

load helpers
load ../reliability/lib

TOKEN=rl-faults-token-3b9e
USERS="1 2 3 5 8 13 21 34 55 89"

setup_file() {
	# under the test home, not BATS_FILE_TMPDIR: as root the server runs as the user
	# "lensflow", which cannot enter bats' private temporary directories
	export RL_PG_HOME=$LENSFLOW_TEST_HOME/rl-faults
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" up >/dev/null 2>&1
	local admin
	# shellcheck disable=SC1091
	admin=$(. "$RL_PG_HOME/pg/pg.env" && echo "$LENSFLOW_PG_ADMIN_URL")
	# shellcheck disable=SC1091
	RL_DB_URL=$(. "$RL_PG_HOME/pg/pg.env" && echo "$LENSFLOW_PG_URL_BASE")/rl_faults
	export RL_DB_URL
	"$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "$admin" -c 'DROP DATABASE IF EXISTS rl_faults' \
		-c 'CREATE DATABASE rl_faults' >/dev/null
	build_data "$BATS_FILE_TMPDIR" v2
	load_set "$RL_DB_URL" "$BATS_FILE_TMPDIR"
	"$BIN/ml-pgload" -q --db "$RL_DB_URL" --load 2 --run-id run-two <"$BATS_FILE_TMPDIR/v2.lfe" >/dev/null
	PORT=$(free_port)
	export PORT URL=http://127.0.0.1:$PORT
	LENSFLOW_ADMIN_TOKEN=$TOKEN start_serve main --listen "127.0.0.1:$PORT" --threads 8 \
		--poll 0.3 --db "$RL_DB_URL" --tracking-uri ''
	wait_for "$URL" /readyz 200
}

setup() {
	export DATABASE_URL=$RL_DB_URL
	# a test that failed during the outage must not take the next ones down with it
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" status >/dev/null 2>&1 ||
		LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" up >/dev/null 2>&1
}

teardown_file() {
	stop_all_serves
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" down >/dev/null 2>&1 || true
	if mountpoint -q "$BATS_FILE_TMPDIR/small" 2>/dev/null; then umount "$BATS_FILE_TMPDIR/small"; fi
}

reload() { curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$URL/admin/reload"; }

# serve VERSION: switch the serving table and reload; waits until /model says so
serve() {
	"$BIN/ml-pgload" -q --switch "$1" >/dev/null
	[ "$(reload)" = 200 ] || return 1
	[ "$(curl -s "$URL/model" | jq -r .version)" = "$1" ]
}

@test "a reload under load: 0 failed requests, no answer mixing two versions" {
	# the answers of each version, asked while nothing else happens
	: >"$BATS_FILE_TMPDIR/expected.tsv"
	for v in 2 1; do
		serve "$v"
		for u in $USERS; do
			printf '%s\t/recommendations/%s\t%s\n' "$v" "$u" \
				"$(curl -s "$URL/recommendations/$u" | jq -c .items)" >>"$BATS_FILE_TMPDIR/expected.tsv"
		done
	done
	# the two versions answer differently, or the check below could not tell them apart
	differ=$(awk -F'\t' '{ a[$2] = a[$2] "|" $3 } END { for (p in a) { split(a[p], x, "|"); if (x[2] != x[3]) n++ } print n + 0 }' \
		"$BATS_FILE_TMPDIR/expected.tsv")
	[ "$differ" -ge 5 ] || fail "v1 and v2 answer alike for $differ users only"
	paths=()
	for u in $USERS; do paths+=("/recommendations/$u"); done
	"$REL/rl-load" --port "$PORT" --conns 4 --rate 300 --seconds 8 --dump "$BATS_TEST_TMPDIR/dump.tsv" \
		"${paths[@]}" >"$BATS_TEST_TMPDIR/load.json" &
	load=$!
	switches=0
	for i in $(seq 6); do
		sleep 0.4
		serve 2 && switches=$((switches + 1))
		sleep 0.4
		serve 1 && switches=$((switches + 1))
	done
	wait "$load"
	cat "$BATS_TEST_TMPDIR/load.json"
	assert_equal "$switches" 12
	jq -e '.errors == 0 and .requests > 1500 and .requests == .status["200"]' "$BATS_TEST_TMPDIR/load.json"
	# every answer is the expected answer of the version it names
	run awk -F'\t' 'NR == FNR { want[$1 "\t" $2] = $3; next }
		{ split($3, a, "\"model_version\":\""); split(a[2], b, "\""); v = b[1]
		  i = index($3, "\"items\":"); items = substr($3, i + 8); sub(/}$/, "", items)
		  n[v]++
		  if (want[v "\t" $2] != items) { bad++; if (bad < 4) print "mixed: v" v " " $2 " " items } }
		END { print "v1:", n["1"] + 0, "v2:", n["2"] + 0, "bad:", bad + 0; exit (bad > 0) }' \
		"$BATS_FILE_TMPDIR/expected.tsv" "$BATS_TEST_TMPDIR/dump.tsv"
	echo "$output"
	assert_success
	# both versions were served during the run
	[[ $output =~ v1:\ ([0-9]+)\ v2:\ ([0-9]+) ]]
	[ "${BASH_REMATCH[1]}" -gt 100 ] && [ "${BASH_REMATCH[2]}" -gt 100 ]
}

@test "Postgres stopped under load: 503 + Retry-After within 100 ms; back without a restart" {
	serve 1
	"$REL/rl-load" --port "$PORT" --conns 4 --rate 100 --seconds 7 /recommendations/1 \
		'/movies/1/similar' /movies/50 >"$BATS_TEST_TMPDIR/load.json" &
	load=$!
	sleep 1.5
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" down >/dev/null 2>&1
	sleep 0.5
	for path in /recommendations/1 /readyz /movies/1/similar; do
		t=$(curl -s -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/b" -w '%{http_code} %{time_total}' "$URL$path")
		echo "$path during the outage: $t"
		[[ $t == "503 "* ]] || fail "$path: $t"
		grep -qi '^retry-after: [0-9]' "$BATS_TEST_TMPDIR/h" || fail "$path: no Retry-After"
		jq -e '.error | type == "string"' "$BATS_TEST_TMPDIR/b" >/dev/null
		[ "$(awk '{printf "%d", $2 * 1000}' <<<"$t")" -lt 100 ] || fail "$path took $t s"
	done
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 200
	sleep 2
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" up >/dev/null 2>&1
	wait "$load"
	cat "$BATS_TEST_TMPDIR/load.json"
	# only 200 and 503, no transport error, and every 503 within 100 ms of its due time
	jq -e '.errors == 0 and (.status | keys - ["200", "503"] | length == 0)
		and .status["503"] > 50 and .status["200"] > 100
		and .max_ms_by_class["5xx"] < 100' "$BATS_TEST_TMPDIR/load.json"
	# served again by the same process
	wait_for "$URL" /readyz 200 50
	"$REL/rl-load" --port "$PORT" --conns 4 --rate 100 --seconds 2 /recommendations/1 \
		'/movies/1/similar' >"$BATS_TEST_TMPDIR/after.json"
	jq -e '.errors == 0 and .requests == .status["200"]' "$BATS_TEST_TMPDIR/after.json"
	[ ! -f "$BATS_FILE_TMPDIR/main.exit" ]
}

@test "Postgres restarted while idle: the next requests on every worker succeed (none lost)" {
	serve 1
	# every worker holds a connection of the old server
	"$REL/rl-load" --port "$PORT" --conns 8 --seconds 1 /recommendations/1 >/dev/null
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" down >/dev/null 2>&1
	LENSFLOW_HOME=$RL_PG_HOME "$REPO/scripts/pg-embedded" up >/dev/null 2>&1
	# the poll thread (0.3 s) may see the restart first; requests must not fail either way
	"$REL/rl-load" --port "$PORT" --conns 8 --rate 200 --seconds 2 /recommendations/1 '/movies/1/similar' \
		/movies/search?q=star >"$BATS_TEST_TMPDIR/load.json"
	cat "$BATS_TEST_TMPDIR/load.json"
	jq -e '.errors == 0 and .requests > 300 and .requests == .status["200"]' "$BATS_TEST_TMPDIR/load.json"
}

@test "MLflow down: ml-serve keeps serving the version it has" {
	closed=$(free_port)
	port=$(free_port)
	start_serve nomlflow --listen "127.0.0.1:$port" --poll 0.2 --db "$RL_DB_URL" \
		--tracking-uri "http://127.0.0.1:$closed"
	wait_for "http://127.0.0.1:$port" /readyz 200
	# 3 s = 15 polls of an unreachable registry
	"$REL/rl-load" --port "$port" --conns 2 --rate 100 --seconds 3 /recommendations/1 /model \
		>"$BATS_TEST_TMPDIR/load.json"
	cat "$BATS_TEST_TMPDIR/load.json"
	jq -e '.errors == 0 and .requests > 250 and .requests == .status["200"]' "$BATS_TEST_TMPDIR/load.json"
	run curl -s "http://127.0.0.1:$port/model"
	jq -e '.version == "1"' <<<"$output"
	curl -s "http://127.0.0.1:$port/readyz" | jq -e '.status == "ready"'
	stop_serve nomlflow
	assert_equal "$STOPPED" 0
}

@test "MLflow down: ml-mlflow-log exits 69 and registers nothing; the next run succeeds" {
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || fail "no MLflow: run scripts/services up (make test does)"
	name=rl-faults-$(date +%s)-$$
	printf 'ndcg@10\t0.4\nrmse\t0.95\n' >"$BATS_TEST_TMPDIR/metrics.tsv"
	closed=$(free_port)
	run "$BIN/ml-mlflow-log" --tracking-uri "http://127.0.0.1:$closed" --experiment "$name" \
		--model-name "$name" --model "$BATS_FILE_TMPDIR/v1.lfe" <"$BATS_TEST_TMPDIR/metrics.tsv"
	assert_equal "$status" 69
	assert_output --partial "127.0.0.1:$closed"
	# nothing of it reached the real server
	curl -s "$MLFLOW_TRACKING_URI/api/2.0/mlflow/registered-models/get?name=$name" |
		jq -e '.error_code == "RESOURCE_DOES_NOT_EXIST"'
	run "$BIN/ml-mlflow-log" --experiment "$name" --model-name "$name" \
		--model "$BATS_FILE_TMPDIR/v1.lfe" <"$BATS_TEST_TMPDIR/metrics.tsv"
	assert_success
	assert_line --regexp $'^model_version\t1$'
}

@test "ml-pgload killed with SIGKILL at 20 random points: the served set unchanged, no half set" {
	serve 1
	counts() {
		sql "SELECT (SELECT version FROM serving WHERE model_name = 'lensflow'),
			(SELECT count(*) FROM lf_lensflow_v1_users), (SELECT count(*) FROM lf_lensflow_v1_items),
			(SELECT count(*) FROM lf_lensflow_v1_dirs), (SELECT checksum FROM embedding_sets WHERE version = 1)"
	}
	before=$(counts)
	# how long a whole load takes: the kills land between 0 and that
	start=$(date +%s%N)
	# HNSW indexes (not built by default under 20000 movies) make a load long
	# enough that most kills land inside it
	"$BIN/ml-pgload" -q --index hnsw --load 90 <"$BATS_FILE_TMPDIR/v2.lfe" >/dev/null
	full=$(( ($(date +%s%N) - start) / 1000000 ))
	RANDOM=15
	v=100 killed=0 completed=0
	for trial in $(seq 20); do
		delay=$((RANDOM % (full + 100)))
		"$BIN/ml-pgload" -q --index hnsw --load "$v" <"$BATS_FILE_TMPDIR/v2.lfe" >/dev/null 2>&1 &
		pid=$!
		sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" && rc=0 || rc=$?
		# the killed client's backend runs on until its statement ends (a COMMIT sent just
		# before the kill still commits): judge the set once that backend is gone
		gone=0
		for _ in $(seq 300); do
			[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
				AND application_name = 'ml-pgload'")" = 0 ] && gone=1 && break
			sleep 0.1
		done
		[ "$gone" = 1 ] || fail "trial $trial: the killed ml-pgload's backend still runs after 30 s"
		# the set is there whole, or not at all (one statement, so one snapshot)
		state=$(sql "SELECT coalesce((SELECT n_users || '|' || n_items FROM embedding_sets
			WHERE model_name = 'lensflow' AND version = $v), '') || ';' || (SELECT count(*) FROM pg_tables
			WHERE tablename LIKE 'lf\\_lensflow\\_v${v}\\_%')")
		row=${state%;*}
		tables=${state#*;}
		if [ -n "$row" ]; then
			assert_equal "$tables" 3
			assert_equal "$row" "$(sql "SELECT (SELECT count(*) FROM lf_lensflow_v${v}_users) || '|' ||
				(SELECT count(*) FROM lf_lensflow_v${v}_items)")"
			completed=$((completed + 1))
			v=$((v + 1))
		else
			assert_equal "$tables" 0
			killed=$((killed + 1))
		fi
		echo "trial $trial: kill after $delay ms, exit $rc, set ${row:-absent}"
		assert_equal "$(counts)" "$before"
		run curl -s "$URL/recommendations/1"
		jq -e '.model_version == "1" and (.items | length == 10)' <<<"$output" >/dev/null
	done
	echo "$killed killed before the commit, $completed completed (a load takes $full ms)"
	[ "$killed" -ge 5 ] || fail "only $killed kills landed inside a load"
	# the next load completes, and is served
	run "$BIN/ml-pgload" -q --load "$v" --switch <"$BATS_FILE_TMPDIR/v2.lfe"
	assert_success
	assert_line "loaded"
	assert_line "serving $v"
	assert_equal "$(sql "SELECT version FROM serving WHERE model_name = 'lensflow'")" "$v"
	serve 1
}

@test "ml-train and ml-fetch killed mid-way: nothing under the final name (-o)" {
	d=$BATS_TEST_TMPDIR
	RANDOM=7
	for trial in $(seq 5); do
		"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 3 --threads 1 -o "$d/model.lfe" <"$BATS_FILE_TMPDIR/train.tsv" &
		pid=$!
		sleep "0.$((RANDOM % 9 + 1))"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" || true
		[ ! -e "$d/model.lfe" ] || fail "trial $trial: a model.lfe after SIGKILL"
	done
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/whole.tsv" 2>/dev/null
	complete=0
	for trial in $(seq 10); do
		rm -f "$d/r.tsv"
		"$BIN/ml-fetch" --source "$DATA" -o "$d/r.tsv" ratings 2>/dev/null &
		pid=$!
		sleep "0.0$((RANDOM % 10))"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" || true
		# absent, or the whole file: never a part of it
		if [ -e "$d/r.tsv" ]; then
			cmp -s "$d/r.tsv" "$d/whole.tsv" || fail "trial $trial: a partial r.tsv"
			complete=$((complete + 1))
		fi
	done
	echo "ml-fetch: $complete of 10 finished before the kill"
}

@test "out of disk space: exit 74, nothing under -o, stdout to a file rolled back" {
	[ "$(id -u)" = 0 ] || skip "mounting a small tmpfs needs root"
	export RL_TMPFS=$BATS_FILE_TMPDIR/small
	mkdir -p "$RL_TMPFS"
	mount -t tmpfs -o size=64k tmpfs "$RL_TMPFS" || skip "cannot mount a tmpfs here"
	f=$RL_TMPFS
	run "$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 1 --threads 1 -o "$f/model.lfe" <"$BATS_FILE_TMPDIR/train.tsv"
	assert_equal "$status" 74
	assert_output --partial "model.lfe"
	[ ! -e "$f/model.lfe" ]
	run bash -c "'$BIN/ml-train' -q --model softmax-mf --dim 16 --epochs 1 --threads 1 <'$BATS_FILE_TMPDIR/train.tsv' >'$f/stdout.lfe'"
	assert_equal "$status" 74
	assert_equal "$(stat -c %s "$f/stdout.lfe")" 0
	run "$BIN/ml-fetch" --source "$DATA" -o "$f/ratings.tsv" ratings
	assert_equal "$status" 74
	[ ! -e "$f/ratings.tsv" ]
	run bash -c "'$BIN/ml-fetch' --source '$DATA' ratings >'$f/stdout.tsv'"
	assert_equal "$status" 74
	assert_equal "$(stat -c %s "$f/stdout.tsv")" 0
	# and no temporary file left behind either: the device is empty again
	rm -f "$f/stdout.lfe" "$f/stdout.tsv"
	run ls -A "$f"
	assert_output ""
	umount "$RL_TMPFS"
}
