#!/usr/bin/env bats
# The living-data loop in ml-serve: POST /feedback (events in, stored once,
# committed before the 202; every malformed shape refused with its 4xx and
# nothing of it stored; a kill -9 during a burst loses no event that got a
# 202) and the impressions of every ranked answer.

load helpers
load ../reliability/lib
load online

FTOKEN=feedback-token-41c9e07d
ATOKEN=admin-token-5b2e11aa

http() {
	local method=$1 path=$2
	shift 2
	HDRS=$BATS_TEST_TMPDIR/headers
	CODE=$(curl -sS -o "$BATS_TEST_TMPDIR/body" -D "$HDRS" -w '%{http_code}' -X "$method" \
		--max-time 20 "$@" "$URL$path")
	BODY=$(cat "$BATS_TEST_TMPDIR/body")
}

# feedback BODY [curl args]: POST /feedback with the token and JSON
feedback() {
	local body=$1
	shift
	http POST /feedback -H "Authorization: Bearer $FTOKEN" -H 'Content-Type: application/json' \
		--data-binary "$body" "$@"
}

assert_json_error() {
	if [ "$CODE" != "$1" ]; then
		echo "expected HTTP $1, got $CODE: $BODY" >&2
		return 1
	fi
	jq -e '(.error | type == "string") and (.message | type == "string" and length > 0)' \
		<<<"$BODY" >/dev/null || {
		echo "not a JSON error: $BODY" >&2
		return 1
	}
}

setup_file() {
	fresh_db lensflow_test_feedback
	export SERVE_DB_URL=$DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	"$BIN/ml-train" -q --model softmax-mf --dim 8 --epochs 2 --threads 1 --seed 1 \
		<"$d/ratings.tsv" >"$d/v1.lfe"
	"$BIN/ml-train" -q --model softmax-mf --dim 8 --epochs 2 --threads 1 --seed 2 \
		<"$d/ratings.tsv" >"$d/v2.lfe"
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --load 1 --switch <"$d/v1.lfe" >/dev/null
	"$BIN/ml-pgload" -q --load 2 <"$d/v2.lfe" >/dev/null
	PORT=$(free_port)
	export PORT URL=http://127.0.0.1:$PORT
	LENSFLOW_FEEDBACK_TOKEN=$FTOKEN LENSFLOW_ADMIN_TOKEN=$ATOKEN MLFLOW_TRACKING_URI='' \
		start_serve main --listen "127.0.0.1:$PORT" --threads 3 --poll 0.5 \
		--max-feedback-body 200000
	wait_for "$URL" /readyz 200
}

setup() {
	export DATABASE_URL=$SERVE_DB_URL
}

teardown_file() {
	for name in main notoken other burst dead; do
		if [ -f "$BATS_FILE_TMPDIR/$name.pid" ] && [ ! -f "$BATS_FILE_TMPDIR/$name.exit" ]; then
			stop_serve "$name"
		fi
	done
}

rows() { sql "SELECT count(*) FROM feedback"; }

@test "one event: 202 {accepted: 1}, the row as sent; the same event again is a duplicate" {
	local before
	before=$(rows)
	feedback '{"user_id": 7, "movie_id": 50, "rating": 4.5, "timestamp": 1700000000, "request_id": "abc-1"}'
	assert_equal "$CODE" 202
	assert_equal "$(jq -c . <<<"$BODY")" '{"accepted":1,"duplicates":0}'
	assert_equal "$(sql "SELECT user_id, movie_id, rating, extract(epoch FROM rated_at)::bigint, request_id
		FROM feedback WHERE user_id = 7 AND movie_id = 50")" '7|50|4.5|1700000000|abc-1'
	feedback '{"user_id": 7, "movie_id": 50, "rating": 4.5, "timestamp": 1700000000}'
	assert_equal "$CODE" 202
	assert_equal "$(jq -c . <<<"$BODY")" '{"accepted":0,"duplicates":1}'
	assert_equal "$(rows)" "$((before + 1))"
}

@test "an event without a timestamp is stored at the server's time" {
	local t0 t1
	t0=$(date +%s)
	feedback '{"user_id": 8, "movie_id": 1, "rating": 3}'
	t1=$(date +%s)
	assert_equal "$CODE" 202
	run sql "SELECT extract(epoch FROM rated_at)::bigint FROM feedback WHERE user_id = 8"
	[ "$output" -ge "$t0" ] && [ "$output" -le "$t1" ]
}

@test "a batch of 1,000 (half stars, a new user id, repeats inside it) is stored whole" {
	local before
	before=$(rows)
	# 1,000 events: user 990001 (in no dataset), movies 1..500 twice with the same
	# time (each pair one event), ratings cycling through the ten half stars
	jq -nc '{events: [range(1000) | {user_id: 990001, movie_id: (. % 500 + 1),
		rating: (((. % 10) + 1) / 2), timestamp: (1700000000 + (. % 500))}]}' >"$TMP/batch.json"
	feedback "@$TMP/batch.json"
	assert_equal "$CODE" 202
	assert_equal "$(jq -c . <<<"$BODY")" '{"accepted":500,"duplicates":500}'
	assert_equal "$(rows)" "$((before + 500))"
	# the first of each pair was stored: movie m (1..500) from event m-1
	assert_equal "$(sql "SELECT count(*) FROM feedback WHERE user_id = 990001
		AND rating = (((movie_id - 1) % 10) + 1) / 2.0")" 500
	assert_equal "$(sql "SELECT count(DISTINCT rating) FROM feedback WHERE user_id = 990001")" 10
}

# bad BODY CODE MESSAGE-PART: refused with CODE, message naming the problem, nothing stored.
bad() {
	local before
	before=$(rows)
	feedback "$1"
	assert_json_error "$2"
	assert_equal "$(jq -r .message <<<"$BODY" | grep -cF -- "$3")" 1
	assert_equal "$(rows)" "$before"
}

@test "malformed JSON and wrong shapes: 422, nothing stored" {
	bad '{"user_id": 1, "movie_id": 1, "rating": 4' 422 'not valid JSON'
	bad '[{"user_id": 1, "movie_id": 1, "rating": 4}]' 422 'must be one event'
	bad '"hello"' 422 'not valid JSON'
	bad '{"events": []}' 422 'events must be a list of 1 to 1000'
	bad '{"events": {"user_id": 1}}' 422 'events must be a list'
	bad '{"events": [{"user_id": 1, "movie_id": 1, "rating": 4}], "k": 1}' 422 'only the field "events"'
	bad '{"user_id": 1, "movie_id": 1, "rating": 4, "stars": 5}' 422 'unknown field'
	bad '{"user_id": 1, "movie_id": 1, "rating": 4, "user_id": 2}' 422 'not valid JSON'
	bad '{"events": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}' 422 'nested'
}

@test "wrong types: 422 naming the first bad event and field, nothing stored" {
	bad '{"user_id": "1", "movie_id": 1, "rating": 4}' 422 'the event.user_id'
	bad '{"user_id": 1.5, "movie_id": 1, "rating": 4}' 422 'the event.user_id'
	bad '{"user_id": 0, "movie_id": 1, "rating": 4}' 422 'the event.user_id'
	bad '{"user_id": 2147483648, "movie_id": 1, "rating": 4}' 422 'the event.user_id'
	bad '{"movie_id": 1, "rating": 4}' 422 'the event.user_id'
	bad '{"user_id": 1, "movie_id": null, "rating": 4}' 422 'the event.movie_id'
	bad '{"user_id": 1, "movie_id": 1, "rating": "4"}' 422 'the event.rating'
	bad '{"user_id": 1, "movie_id": 1}' 422 'the event.rating'
	bad '{"user_id": 1, "movie_id": 1, "rating": 4, "timestamp": "now"}' 422 'the event.timestamp'
	bad '{"user_id": 1, "movie_id": 1, "rating": 4, "timestamp": -1}' 422 'the event.timestamp'
	bad '{"user_id": 1, "movie_id": 1, "rating": 4, "request_id": 7}' 422 'the event.request_id'
	bad '{"user_id": 1, "movie_id": 1, "rating": 4, "request_id": "a b"}' 422 'the event.request_id'
	bad '{"events": [{"user_id": 1, "movie_id": 1, "rating": 4}, {"user_id": 1, "movie_id": 2, "rating": 4},
		{"user_id": 1, "movie_id": 3, "rating": true}, {"user_id": "x"}]}' 422 'events[2].rating'
}

@test "ratings off the scale (0.5 .. 5 in steps of 0.5): 422, nothing stored" {
	for r in 0 0.25 5.5 6 -1 3.25 1e9; do
		bad "{\"events\": [{\"user_id\": 1, \"movie_id\": 1, \"rating\": 4},
			{\"user_id\": 1, \"movie_id\": 2, \"rating\": $r}]}" 422 'events[1].rating'
	done
}

@test "an unknown movie anywhere in a batch: 422 naming it, nothing of the batch stored" {
	bad '{"events": [{"user_id": 5, "movie_id": 1, "rating": 4, "timestamp": 1600000000},
		{"user_id": 5, "movie_id": 2, "rating": 4, "timestamp": 1600000000},
		{"user_id": 5, "movie_id": 999999, "rating": 4},
		{"user_id": 5, "movie_id": 888888, "rating": 4}]}' 422 'events[2].movie_id: movie 999999'
	bad '{"user_id": 5, "movie_id": 77777, "rating": 4}' 422 'the event.movie_id: movie 77777'
	assert_equal "$(sql "SELECT count(*) FROM feedback WHERE user_id = 5")" 0
}

@test "1,001 events: 422; a body over --max-feedback-body: 413; not JSON: 415; nothing stored" {
	local before
	before=$(rows)
	jq -nc '{events: [range(1001) | {user_id: 3, movie_id: 1, rating: 4, timestamp: .}]}' \
		>"$TMP/big.json"
	bad "@$TMP/big.json" 422 'events has 1001 events'
	head -c 250000 /dev/zero | tr '\0' ' ' >"$TMP/huge.json"
	feedback "@$TMP/huge.json"
	assert_json_error 413
	http POST /feedback -H "Authorization: Bearer $FTOKEN" -H 'Content-Type: text/plain' \
		--data-binary '{"user_id": 1, "movie_id": 1, "rating": 4}'
	assert_json_error 415
	http GET /feedback -H "Authorization: Bearer $FTOKEN"
	assert_json_error 405
	assert_equal "$(rows)" "$before"
}

@test "no token, a wrong token, the admin token: 401, nothing stored" {
	local before ev='{"user_id": 4, "movie_id": 1, "rating": 4}'
	before=$(rows)
	http POST /feedback -H 'Content-Type: application/json' --data-binary "$ev"
	assert_json_error 401
	grep -qi '^www-authenticate: Bearer' "$HDRS"
	http POST /feedback -H "Authorization: Bearer wrong-$FTOKEN" \
		-H 'Content-Type: application/json' --data-binary "$ev"
	assert_json_error 401
	http POST /feedback -H "Authorization: Bearer ${FTOKEN%?}" \
		-H 'Content-Type: application/json' --data-binary "$ev"
	assert_json_error 401
	http POST /feedback -H "Authorization: Bearer $ATOKEN" -H 'Content-Type: application/json' \
		--data-binary "$ev"
	assert_json_error 401
	http POST /feedback -H "Authorization: Basic $FTOKEN" -H 'Content-Type: application/json' \
		--data-binary "$ev"
	assert_json_error 401
	assert_equal "$(rows)" "$before"
}

@test "LENSFLOW_FEEDBACK_TOKEN unset: 401 whatever the token, nothing stored" {
	local port before
	before=$(rows)
	port=$(free_port)
	(
		unset LENSFLOW_FEEDBACK_TOKEN
		export LENSFLOW_ADMIN_TOKEN=$ATOKEN MLFLOW_TRACKING_URI=''
		start_serve notoken --listen "127.0.0.1:$port" --threads 1
	)
	wait_for "http://127.0.0.1:$port" /healthz 200
	URL=http://127.0.0.1:$port feedback '{"user_id": 4, "movie_id": 1, "rating": 4}'
	assert_json_error 401
	assert_equal "$(jq -r .message <<<"$BODY")" "feedback is disabled: set LENSFLOW_FEEDBACK_TOKEN"
	URL=http://127.0.0.1:$port http POST /feedback -H 'Authorization: Bearer ' \
		-H 'Content-Type: application/json' --data-binary '{"user_id": 4, "movie_id": 1, "rating": 4}'
	assert_json_error 401
	stop_serve notoken
	assert_equal "$(rows)" "$before"
}

@test "--feedback-db writes elsewhere than --db: the events land in that database" {
	local other port
	other="${LENSFLOW_PG_URL_BASE}/lensflow_test_feedback_other"
	"$PG_BIN/psql" -q -X "$LENSFLOW_PG_ADMIN_URL" \
		-c 'DROP DATABASE IF EXISTS lensflow_test_feedback_other WITH (FORCE)' \
		-c 'CREATE DATABASE lensflow_test_feedback_other' >/dev/null
	DATABASE_URL=$other "$BIN/ml-pgload" -q --catalogue --movies "$BATS_FILE_TMPDIR/movies.tsv" \
		--ratings "$BATS_FILE_TMPDIR/ratings.tsv" >/dev/null
	port=$(free_port)
	LENSFLOW_FEEDBACK_TOKEN=$FTOKEN MLFLOW_TRACKING_URI='' start_serve other \
		--listen "127.0.0.1:$port" --threads 1 --db "$SERVE_DB_URL" --feedback-db "$other"
	wait_for "http://127.0.0.1:$port" /readyz 200
	URL=http://127.0.0.1:$port feedback '{"user_id": 61, "movie_id": 1, "rating": 2, "timestamp": 5}'
	assert_equal "$CODE" 202
	stop_serve other
	assert_equal "$(sql "SELECT count(*) FROM feedback WHERE user_id = 61")" 0
	assert_equal "$(DATABASE_URL=$other sql "SELECT count(*) FROM feedback WHERE user_id = 61")" 1
}

@test "kill -9 during a feedback burst: every event that got a 202 is in the table" {
	local port pid w
	port=$(free_port)
	LENSFLOW_FEEDBACK_TOKEN=$FTOKEN MLFLOW_TRACKING_URI='' start_serve burst \
		--listen "127.0.0.1:$port" --threads 4
	wait_for "http://127.0.0.1:$port" /readyz 200
	# 6 clients, each sending batches of 20 events of a user of its own, one after
	# another, each logging the events of every 202 it read
	for w in 1 2 3 4 5 6; do
		(
			for s in $(seq 1 400); do
				jq -nc --argjson w "$w" --argjson s "$s" '{events: [range(20) |
					{user_id: (970000 + $w), movie_id: (. + 1), rating: 3,
					 timestamp: (1700000000 + $s)}]}' >"$TMP/b$w.json"
				code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
					-H "Authorization: Bearer $FTOKEN" -H 'Content-Type: application/json' \
					--data-binary "@$TMP/b$w.json" "http://127.0.0.1:$port/feedback") || break
				[ "$code" = 202 ] || break
				for m in $(seq 1 20); do
					printf '%s\t%s\t%s\n' "$((970000 + w))" "$m" "$((1700000000 + s))"
				done >>"$TMP/acked$w.tsv"
			done
		) &
	done
	# killed once the burst is under way (some batches acknowledged), however slow the host
	for _ in $(seq 600); do
		[ "$(cat "$TMP"/acked*.tsv 2>/dev/null | wc -l)" -ge 100 ] && break
		sleep 0.05
	done
	pid=$(cat "$BATS_FILE_TMPDIR/burst.pid")
	kill -KILL "$pid"
	wait
	cat "$TMP"/acked*.tsv | sort >"$TMP/acked.tsv"
	# the burst was under way: some batches were acknowledged
	[ "$(wc -l <"$TMP/acked.tsv")" -ge 100 ]
	sql "SELECT user_id, movie_id, extract(epoch FROM rated_at)::bigint FROM feedback
		WHERE user_id > 970000 AND user_id <= 970006" | tr '|' '\t' | sort >"$TMP/stored.tsv"
	# every acknowledged event is stored (comm -23: lines only in acked)
	assert_equal "$(comm -23 "$TMP/acked.tsv" "$TMP/stored.tsv" | wc -l)" 0
}

# ---- impressions ----------------------------------------------------------------

# metric NAME: its value in /metrics of $URL
metric() {
	curl -s "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# wait_row SQL: until the query (a boolean) answers true (5 s at most)
wait_row() {
	local i out
	for i in $(seq 50); do
		out=$(sql "$1")
		[ "$out" = t ] && return 0
		sleep 0.1
	done
	echo "never: $1" >&2
	return 1
}

@test "a known user's answer carries request_id and arm; its impression is the list as served" {
	http GET '/recommendations/1?k=5'
	assert_equal "$CODE" 200
	local rid
	rid=$(jq -r .request_id <<<"$BODY")
	[[ $rid =~ ^[0-9a-f]{8}-[0-9a-f]+$ ]]
	assert_equal "$(jq -r .arm <<<"$BODY")" champion
	wait_row "SELECT count(*) = 1 FROM impressions WHERE request_id = '$rid'"
	assert_equal "$(sql "SELECT user_id, model_name, model_version, arm, array_to_string(movie_ids, ',')
		FROM impressions WHERE request_id = '$rid'")" \
		"1|lensflow|1|champion|$(jq -r '[.items[].movie_id] | join(",")' <<<"$BODY")"
	# served within the last minute, by the database's clock
	assert_equal "$(sql "SELECT abs(extract(epoch FROM now() - served_at)) < 60 FROM impressions
		WHERE request_id = '$rid'")" t
}

@test "a new user's answer is recorded without a user; similar movies are not recorded" {
	http POST /recommendations -H 'Content-Type: application/json' \
		--data-binary '{"ratings": [{"movie_id": 1, "rating": 5}, {"movie_id": 50, "rating": 4}], "k": 3}'
	assert_equal "$CODE" 200
	local rid
	rid=$(jq -r .request_id <<<"$BODY")
	assert_equal "$(jq -r .arm <<<"$BODY")" champion
	wait_row "SELECT count(*) = 1 FROM impressions WHERE request_id = '$rid'"
	assert_equal "$(sql "SELECT coalesce(user_id::text, 'null'), cardinality(movie_ids)
		FROM impressions WHERE request_id = '$rid'")" "null|3"
	http GET '/movies/50/similar?k=3'
	assert_equal "$CODE" 200
	assert_equal "$(jq -c 'has("request_id")' <<<"$BODY")" false
}

@test "request ids are distinct; every answer is one impression; written_total counts them" {
	local before_rows before_written
	sleep 1.5 # let earlier answers' impressions be written
	before_rows=$(sql "SELECT count(*) FROM impressions")
	before_written=$(metric lensflow_impressions_written_total)
	for u in $(seq 1 60); do
		curl -s "$URL/recommendations/$u?k=2" | jq -r .request_id
	done >"$TMP/ids"
	assert_equal "$(sort -u "$TMP/ids" | wc -l)" 60
	wait_row "SELECT count(*) >= $((before_rows + 60)) FROM impressions"
	assert_equal "$(sql "SELECT count(*) FROM impressions")" "$((before_rows + 60))"
	sleep 0.5
	assert_equal "$(metric lensflow_impressions_written_total)" "$((before_written + 60))"
	assert_equal "$(metric lensflow_impressions_dropped_total)" 0
}

@test "no database to write impressions to: answers as fast as ever, every impression counted as dropped" {
	local port
	port=$(free_port)
	LENSFLOW_FEEDBACK_TOKEN=$FTOKEN MLFLOW_TRACKING_URI='' start_serve dead \
		--listen "127.0.0.1:$port" --threads 2 --feedback-db "postgresql://127.0.0.1:1/none" \
		--impressions-queue 8
	wait_for "http://127.0.0.1:$port" /readyz 200
	# 40 answers from it and from the server that writes its impressions: the
	# slowest of the dead one's within a few times the other's (and far below
	# the 2 s connect timeout of the impressions' writer)
	for u in $(seq 1 40); do
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 \
			"http://127.0.0.1:$port/recommendations/$u?k=5"
	done >"$TMP/dead"
	for u in $(seq 1 40); do
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 \
			"$URL/recommendations/$u?k=5"
	done >"$TMP/alive"
	assert_equal "$(awk '$1 == 200' "$TMP/dead" | wc -l)" 40
	run awk 'NR == FNR { if ($2 > a) a = $2; next } { if ($2 > d) d = $2 }
		END { print d, a; exit !(d < 3 * a + 0.3 && d < 1) }' "$TMP/alive" "$TMP/dead"
	assert_success
	sleep 2.5
	URL=http://127.0.0.1:$port run metric lensflow_impressions_dropped_total
	assert_equal "$output" 40
	URL=http://127.0.0.1:$port run metric lensflow_impressions_written_total
	assert_equal "$output" 0
	stop_serve dead
}

@test "--impressions-queue 0 records nothing; SIGTERM writes what the queue holds" {
	local port before
	before=$(sql "SELECT count(*) FROM impressions")
	port=$(free_port)
	MLFLOW_TRACKING_URI='' start_serve off --listen "127.0.0.1:$port" --threads 1 \
		--impressions-queue 0
	wait_for "http://127.0.0.1:$port" /readyz 200
	curl -sf "http://127.0.0.1:$port/recommendations/3?k=2" | jq -e '.request_id and .arm'
	stop_serve off
	assert_equal "$(sql "SELECT count(*) FROM impressions")" "$before"
	rm -f "$BATS_FILE_TMPDIR/off.exit"
	MLFLOW_TRACKING_URI='' start_serve off --listen "127.0.0.1:$port" --threads 1
	wait_for "http://127.0.0.1:$port" /readyz 200
	for u in 1 2 3; do curl -sf "http://127.0.0.1:$port/recommendations/$u?k=2" >/dev/null; done
	stop_serve off # at once: the 1 s flush has not come yet
	assert_equal "$(sql "SELECT count(*) FROM impressions")" "$((before + 3))"
}

# ---- champion and challenger ------------------------------------------------------

@test "ml-pgload --challenger: usage and data errors name the problem, change nothing" {
	run "$BIN/ml-pgload" --challenger 2 --share 1.5
	assert_equal "$status" 64
	assert_output --partial "--share"
	run "$BIN/ml-pgload" --share 0.5
	assert_equal "$status" 64
	run "$BIN/ml-pgload" --challenger
	assert_equal "$status" 64
	run "$BIN/ml-pgload" --challenger 99 --share 0.5
	assert_equal "$status" 65
	assert_output --partial "version 99 is not loaded"
	run "$BIN/ml-pgload" --challenger 1 --share 0.5
	assert_equal "$status" 65
	assert_output --partial "is the champion"
	assert_equal "$(sql "SELECT version, coalesce(challenger, 0), challenger_share FROM serving")" "1|0|0"
}

# arms N: GET /recommendations/u?k=3 for users 1..N into $TMP/arms (user arm version request_id),
# all through one curl (one connection, in order) and one jq; every user answered
arms() {
	local u
	for u in $(seq 1 "$1"); do echo "url = \"$URL/recommendations/$u?k=3\""; done >"$TMP/arms.cfg"
	curl -sf -w '\n' -K "$TMP/arms.cfg" |
		jq -r '[.user_id, .arm, .model_version, .request_id] | @tsv' >"$TMP/arms"
	assert_equal "$(cut -f1 "$TMP/arms")" "$(seq 1 "$1")"
}

@test "a challenger at 50 %: a stable half of the users get it, each answer says its arm and version" {
	run "$BIN/ml-pgload" --challenger 2 --share 0.5
	assert_success
	assert_output "challenger 2 share 0.5"
	local i
	for i in $(seq 50); do
		[ "$(curl -s "$URL/model" | jq -r '.challenger.version')" = 2 ] && break
		sleep 0.1
	done
	http GET /model
	jq -e '.version == "1" and .challenger.version == "2" and .challenger.share == 0.5' <<<"$BODY"
	[ "$(curl -s "$URL/metrics" | awk '$1 == "lensflow_serving_challenger_version" {print $2}')" = 2 ]
	arms 300
	cp "$TMP/arms" "$TMP/arms1"
	# every answer's version is its arm's
	assert_equal "$(awk -F'\t' '!(($2 == "champion" && $3 == 1) || ($2 == "challenger" && $3 == 2))' \
		"$TMP/arms" | wc -l)" 0
	# about half (binomial, 300 users: 0.5 +- 0.12 is beyond 4 standard deviations)
	run awk -F'\t' '$2 == "challenger" { c++ } END { print c; exit !(c >= 114 && c <= 186) }' "$TMP/arms"
	assert_success
	# the same users again: the same arms
	arms 300
	assert_equal "$(cut -f1,2 "$TMP/arms")" "$(cut -f1,2 "$TMP/arms1")"
	# the impressions say the same
	sleep 1.5
	cut -f4,2,3 "$TMP/arms" | awk -F'\t' '{ print $3 "\t" $1 "\t" $2 }' | sort >"$TMP/want"
	sql "SELECT request_id, arm, model_version FROM impressions
		WHERE request_id IN ($(cut -f4 "$TMP/arms" | sed "s/.*/'&'/" | paste -sd,))" |
		tr '|' '\t' | sort >"$TMP/got"
	assert_equal "$(cat "$TMP/got")" "$(cat "$TMP/want")"
}

@test "a new user's arm comes from the request: the same ratings, the same arm" {
	local body='{"ratings": [{"movie_id": 1, "rating": 5}, {"movie_id": 7, "rating": 3}], "k": 3}' a b i
	for i in 1 2 3; do
		curl -sf -X POST -H 'Content-Type: application/json' --data-binary "$body" \
			"$URL/recommendations" | jq -r '.arm + " " + .model_version'
	done >"$TMP/new"
	assert_equal "$(sort -u "$TMP/new" | wc -l)" 1
	# over many different requests both arms answer
	for i in $(seq 1 40); do
		curl -sf -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"ratings\": [{\"movie_id\": $i, \"rating\": 4}], \"k\": 2}" \
			"$URL/recommendations" | jq -r .arm
	done | sort -u >"$TMP/arms-new"
	assert_equal "$(paste -sd' ' "$TMP/arms-new")" "challenger champion"
}

@test "--challenger none: everyone gets the champion; --switch to the challenger promotes it" {
	run "$BIN/ml-pgload" --challenger none
	assert_success
	assert_output "challenger none"
	local i
	for i in $(seq 50); do
		[ "$(curl -s "$URL/model" | jq -r '.challenger')" = null ] && break
		sleep 0.1
	done
	arms 40
	assert_equal "$(cut -f2,3 "$TMP/arms" | sort -u)" "$(printf 'champion\t1')"
	run "$BIN/ml-pgload" --challenger 2 --share 0.3
	assert_success
	run "$BIN/ml-pgload" --switch 2
	assert_success
	assert_equal "$(sql "SELECT version, coalesce(challenger, 0), challenger_share FROM serving")" "2|0|0"
	for i in $(seq 50); do
		[ "$(curl -s "$URL/model" | jq -r '.version + " " + (.challenger | tostring)')" = "2 null" ] && break
		sleep 0.1
	done
	arms 40
	assert_equal "$(cut -f2,3 "$TMP/arms" | sort -u)" "$(printf 'champion\t2')"
	# --switch N --challenger M in one go
	run "$BIN/ml-pgload" --switch 1 --challenger 2 --share 0.1
	assert_success
	assert_equal "$(sql "SELECT version, challenger, challenger_share FROM serving")" "1|2|0.1"
	run "$BIN/ml-pgload" --challenger none
	assert_success
}

@test "the schema's migration adds the challenger to an existing serving table, keeping its row" {
	local db="${LENSFLOW_PG_URL_BASE}/lensflow_test_feedback_migrate"
	"$PG_BIN/psql" -q -X "$LENSFLOW_PG_ADMIN_URL" \
		-c 'DROP DATABASE IF EXISTS lensflow_test_feedback_migrate WITH (FORCE)' \
		-c 'CREATE DATABASE lensflow_test_feedback_migrate' >/dev/null
	# the schema as it was before the challenger (sql/schema.sql up to the living-data part)
	sed '/^-- ---- living data/,$d' "$REPO/sql/schema.sql" >"$TMP/old.sql"
	run grep -c challenger "$TMP/old.sql"
	assert_output 0
	"$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "$db" -f "$TMP/old.sql" \
		-c "INSERT INTO embedding_sets (model_name, version, dim, n_users, n_items, checksum,
			index_kind, users_table, items_table, directions_table, loaded_at)
			VALUES ('lensflow', 4, 2, 0, 0, 'x', 'none', 'u', 'i', 'd', now())" \
		-c "INSERT INTO serving VALUES ('lensflow', 4, now())" >/dev/null
	DATABASE_URL=$db run "$BIN/ml-pgload" --serving
	assert_success
	assert_output 4
	assert_equal "$(DATABASE_URL=$db sql "SELECT version, challenger IS NULL, challenger_share FROM serving")" "4|t|0"
	assert_equal "$(DATABASE_URL=$db sql "SELECT count(*) FROM feedback")" 0
}

# ---- online evaluation ----------------------------------------------------------------

@test "lensflow_online_hit_rate and _impressions equal what the tables say" {
	local u m rid body want got i
	# 30 answers; feedback on the first movie of every third one, by user id or by request id
	for u in $(seq 401 430); do
		body=$(curl -sf "$URL/recommendations/$u?k=5")
		m=$(jq -r '.items[0].movie_id' <<<"$body")
		rid=$(jq -r .request_id <<<"$body")
		if [ $((u % 3)) = 0 ]; then
			feedback "{\"user_id\": $u, \"movie_id\": $m, \"rating\": 4}"
			assert_equal "$CODE" 202
		elif [ $((u % 3)) = 1 ] && [ $((u % 2)) = 0 ]; then
			feedback "{\"user_id\": 999000, \"movie_id\": $m, \"rating\": 2.5, \"request_id\": \"$rid\"}"
			assert_equal "$CODE" 202
		fi
	done
	sleep 2.5 # the impressions written (1 s), a poll's aggregate after them (0.5 s)
	want=$(online_oracle lensflow | awk '$1 == 1 && $2 == "champion" { printf "%d %.6f", $3, $4 / $3 }')
	got=$(curl -s "$URL/metrics" | awk '$1 == "lensflow_online_impressions{arm=\"champion\"}" { n = $2 }
		$1 == "lensflow_online_hit_rate{arm=\"champion\"}" { r = $2 } END { printf "%d %.6f", n, r }')
	echo "want $want got $got"
	assert_equal "$got" "$want"
	# the hits are there: 10 by user id, 5 by request id at least
	[ "$(awk '{ print $2 }' <<<"$got" | awk '{ print ($1 > 0) }')" = 1 ]
}

@test "ml-fetch --source postgresql://: ratings with the feedback applied (the latest event wins)" {
	# user 1 rated movie 1 (5 stars) and movie 2 (3 stars) in the catalogue, long ago
	feedback '{"events": [{"user_id": 1, "movie_id": 1, "rating": 2, "timestamp": 2000000000},
		{"user_id": 1, "movie_id": 2, "rating": 4.5, "timestamp": 800000000},
		{"user_id": 1, "movie_id": 1, "rating": 1.5, "timestamp": 1999999999}]}'
	assert_equal "$CODE" 202
	run "$BIN/ml-fetch" --source "$SERVE_DB_URL" ratings
	assert_success
	printf '%s\n' "$output" | grep -v '^ml-fetch: ' >"$TMP/r.tsv"
	assert_equal "$(awk -F'\t' '$1 == 1 && $2 == 1' "$TMP/r.tsv")" "$(printf '1\t1\t2\t2000000000')"
	assert_equal "$(awk -F'\t' '$1 == 1 && $2 == 2' "$TMP/r.tsv")" "$(printf '1\t2\t3\t876893171')"
	# one row per (user, movie): the catalogue's plus the pairs only feedback has
	assert_equal "$(wc -l <"$TMP/r.tsv")" "$(sql "SELECT count(*) FROM (SELECT user_id, movie_id FROM ratings
		UNION SELECT user_id, movie_id FROM feedback) p")"
	assert_equal "$(awk -F'\t' '$1 == 990001' "$TMP/r.tsv" | wc -l)" 500
	run "$BIN/ml-fetch" --source "$SERVE_DB_URL" feedback
	assert_success
	assert_line --partial "$(printf '7\t50\t4.5\t1700000000\tabc-1')"
	run "$BIN/ml-fetch" --source "$SERVE_DB_URL" impressions
	assert_success
	run "$BIN/ml-fetch" --source "$SERVE_DB_URL" movies
	assert_equal "$status" 64
	run "$BIN/ml-fetch" --source "postgresql://127.0.0.1:1/none" ratings
	assert_equal "$status" 69
}

@test "drift gauges: feedback events, mean ratings and the popularity PSI equal what the tables say" {
	local want got
	sleep 3.5 # a drift aggregate after the last test's feedback (every 6 polls of 0.5 s)
	want=$(sql "SELECT movie_id, 'r' FROM ratings UNION ALL SELECT movie_id, 'f' FROM feedback
		WHERE rated_at > now() - interval '86400 seconds'" | awk -F'|' '
		{ n[$2]++; c[$2 "," $1]++; m[$1] = 1 }
		END { for (id in m) { a = c["f," id] / n["f"]; e = c["r," id] / n["r"]; psi += (a - e) * log((a + 1e-4) / (e + 1e-4)) }
		      printf "%d %.4f", n["f"], psi }')
	want="$want $(sql "SELECT round((SELECT avg(rating) FROM feedback WHERE rated_at > now() - interval '86400 seconds')::numeric, 4),
		round((SELECT avg(rating) FROM ratings)::numeric, 4)")"
	got=$(curl -s "$URL/metrics" | awk '
		$1 == "lensflow_drift_feedback_events" { n = $2 } $1 == "lensflow_drift_popularity_psi" { p = $2 }
		$1 == "lensflow_drift_feedback_mean_rating" { f = $2 } $1 == "lensflow_drift_training_mean_rating" { t = $2 }
		END { printf "%d %.4f %.4f|%.4f", n, p, f, t }')
	echo "want $want got $got"
	assert_equal "$got" "$want"
	# feedback there is, and it is spread unlike the catalogue
	[ "$(awk '{ print ($1 > 0 && $2 > 0) }' <<<"$got")" = 1 ]
	# requests for unknown users counted apart
	local before
	before=$(curl -s "$URL/metrics" | awk '$1 == "lensflow_user_requests_total{known=\"false\"}" { print $2 }')
	curl -s -o /dev/null "$URL/recommendations/777777"
	assert_equal "$(curl -s "$URL/metrics" | awk '$1 == "lensflow_user_requests_total{known=\"false\"}" { print $2 }')" \
		"$((before + 1))"
}

@test "a movie the user rated through POST /feedback leaves their list; the rest moves up" {
	http GET '/recommendations/196?k=10'
	assert_equal "$CODE" 200
	local before top
	before=$BODY
	top=$(jq -r '.items[0].movie_id' <<<"$before")
	assert_equal "$(jq '.items | length' <<<"$before")" 10
	# not rated in the catalogue (it was served), nor through feedback yet
	assert_equal "$(sql "SELECT count(*) FROM ratings WHERE user_id = 196 AND movie_id = $top")" 0
	feedback "{\"user_id\": 196, \"movie_id\": $top, \"rating\": 2}"
	assert_equal "$CODE" 202
	http GET '/recommendations/196?k=10'
	assert_equal "$CODE" 200
	echo "before: $(jq -c '[.model_version, .arm, [.items[].movie_id]]' <<<"$before")"
	echo "after:  $(jq -c '[.model_version, .arm, [.items[].movie_id]]' <<<"$BODY")"
	# the same set answered both times
	assert_equal "$(jq -c '[.model_version, .arm]' <<<"$BODY")" "$(jq -c '[.model_version, .arm]' <<<"$before")"
	assert_equal "$(jq --argjson m "$top" '[.items[] | select(.movie_id == $m)] | length' <<<"$BODY")" 0
	assert_equal "$(jq '.items | length' <<<"$BODY")" 10
	assert_equal "$(jq -c '[.items[:9][].movie_id]' <<<"$BODY")" "$(jq -c '[.items[1:][].movie_id]' <<<"$before")"
}
