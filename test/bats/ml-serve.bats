#!/usr/bin/env bats
# ml-serve: every endpoint and every error path over real HTTP, against a set
# built by the real tools (ml-fetch → ml-train → ml-pgload) in a database of
# its own. LENSFLOW_SERVE_WRAP (e.g. "valgrind --error-exitcode=99
# --leak-check=full") runs the servers under a wrapper; the SIGTERM tests then
# also check the wrapper's verdict through the exit code.

load helpers

TOKEN=test-token-7f3a9c51e2

# curl_json METHOD PATH [curl args...]: sets CODE and BODY, headers in $HDRS.
http() {
	local method=$1 path=$2
	shift 2
	HDRS=$BATS_TEST_TMPDIR/headers
	CODE=$(curl -sS -o "$BATS_TEST_TMPDIR/body" -D "$HDRS" -w '%{http_code}' -X "$method" \
		--max-time 20 "$@" "$URL$path")
	BODY=$(cat "$BATS_TEST_TMPDIR/body")
}

post_json() { # post_json BODY: POST /recommendations as JSON
	http POST /recommendations -H 'Content-Type: application/json' --data-binary "$1"
}

# The answer is a JSON error {"error", "message"} with this status.
assert_json_error() {
	if [ "$CODE" != "$1" ]; then
		echo "expected HTTP $1, got $CODE: $BODY" >&2
		return 1
	fi
	grep -qi '^content-type: application/json' "$HDRS"
	jq -e '(.error | type == "string") and (.message | type == "string" and length > 0)' \
		<<<"$BODY" >/dev/null || {
		echo "not a JSON error: $BODY" >&2
		return 1
	}
}

# assert_same_topk API_TSV MODEL_TSV (movie_id TAB score): the same ids in the
# same order, each score within 1e-5 of the model's.
assert_same_topk() {
	assert_equal "$(cut -f1 "$1")" "$(cut -f1 "$2")"
	run paste "$1" "$2"
	awk -F'\t' '{ d = $2 - $4; if (d < 0) d = -d; if (d > 1e-5) { print "score", $0; bad = 1 } }
		END { exit bad }' <<<"$output"
}

assert_code() {
	if [ "$CODE" != "$1" ]; then
		echo "expected HTTP $1, got $CODE: $BODY" >&2
		return 1
	fi
}

# start_serve NAME ARGS...: ml-serve in the background; pid in NAME.pid, exit code in NAME.exit.
start_serve() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	(
		${LENSFLOW_SERVE_WRAP:-} "$BIN/ml-serve" "$@" >"$BATS_FILE_TMPDIR/$name.out" \
			2>"$BATS_FILE_TMPDIR/$name.err" &
		echo $! >"$BATS_FILE_TMPDIR/$name.pid"
		# errexit holds in here: without the ||, an exit other than 0 would end this
		# subshell before NAME.exit is written (see test/reliability/lib.bash)
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$BATS_FILE_TMPDIR/$name.exit"
	) 3>&- &
}

# wait_for URL PATH CODE: until PATH answers CODE (20 s at most).
wait_for() {
	local i
	for i in $(seq 200); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1$2")" = "$3" ] && return 0
		sleep 0.1
	done
	echo "$1$2 never answered $3; the servers' stderr:" >&2
	tail -n 5 "$BATS_FILE_TMPDIR"/*.err >&2
	return 1
}

# stop_serve NAME: SIGTERM, then its exit code in STOPPED (waits 30 s at most).
stop_serve() {
	local pid i
	pid=$(cat "$BATS_FILE_TMPDIR/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 300); do
		[ -f "$BATS_FILE_TMPDIR/$1.exit" ] && break
		sleep 0.1
	done
	STOPPED=$(cat "$BATS_FILE_TMPDIR/$1.exit" 2>/dev/null || echo none)
}

setup_file() {
	fresh_db lensflow_test_serve
	# helpers.bash sets DATABASE_URL again from services.env in every test: setup() restores it
	export SERVE_DB_URL=$DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	export TEST_TOOLS=${TEST_TOOLS:-$REPO/build/release/test-tools}
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	"$BIN/ml-split" --test "$d/test.tsv" <"$d/ratings.tsv" >"$d/train.tsv" 2>/dev/null
	# small and short: the API is under test, not the model
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 4 --threads 1 --seed 1 <"$d/train.tsv" >"$d/v1.lfe"
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 6 --threads 1 --seed 2 <"$d/train.tsv" >"$d/v2.lfe"
	printf 'ndcg@10\t0.2468\nrmse\t0.9876\n' >"$d/metrics.tsv"
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --load 1 --run-id run-one --metrics "$d/metrics.tsv" --switch \
		<"$d/v1.lfe" >/dev/null
	PORT=$(free_port)
	export PORT URL=http://127.0.0.1:$PORT
	# this server does not read the registry: another suite's "lensflow" champion must not matter
	MLFLOW_TRACKING_URI='' LENSFLOW_ADMIN_TOKEN=$TOKEN \
		start_serve main --listen "127.0.0.1:$PORT" --threads 3 --poll 0.5
	wait_for "$URL" /readyz 200
}

setup() {
	export DATABASE_URL=$SERVE_DB_URL
}

teardown_file() {
	for name in main outage outage2 closed registry empty sparse; do
		if [ -f "$BATS_FILE_TMPDIR/$name.pid" ] && [ ! -f "$BATS_FILE_TMPDIR/$name.exit" ]; then
			stop_serve "$name"
		fi
	done
	if [ -f "$BATS_FILE_TMPDIR/outage-home" ]; then
		LENSFLOW_HOME=$(cat "$BATS_FILE_TMPDIR/outage-home") "$REPO/scripts/pg-embedded" down \
			>/dev/null 2>&1 || true
	fi
}

# ---- the command line ---------------------------------------------------------

@test "--help shows usage with an example; --version names the build" {
	run "$BIN/ml-serve" --help
	assert_success
	assert_output --partial "usage: ml-serve"
	assert_output --partial "curl -s 127.0.0.1:8000/recommendations/1"
	run "$BIN/ml-serve" --version
	assert_success
	assert_output --regexp '^ml-serve lensflow [0-9.]+ \(.+\)$'
}

@test "bad options are usage errors (64) that name the problem" {
	run "$BIN/ml-serve" --threads 0 --db postgresql://x
	assert_equal "$status" 64
	assert_output --partial "--threads: bad value '0' (want an integer in 1..256)"
	run "$BIN/ml-serve" --listen localhost:80x --db postgresql://x
	assert_equal "$status" 64
	assert_output --partial "--listen"
	run "$BIN/ml-serve" --poll soon --db postgresql://x
	assert_equal "$status" 64
	assert_output --partial "--poll"
	run "$BIN/ml-serve" --model-name 'x; drop' --db postgresql://x
	assert_equal "$status" 64
	run "$BIN/ml-serve" --max-body -1 --db postgresql://x
	assert_equal "$status" 64
	run "$BIN/ml-serve" --bogus
	assert_equal "$status" 64
	run env -u DATABASE_URL "$BIN/ml-serve"
	assert_equal "$status" 64
	assert_output --partial "DATABASE_URL"
}

@test "a malformed --db or DATABASE_URL is refused at start (64), as ml-pgload does" {
	# before lib/pg checked it, ml-serve started and retried forever: timeout says so
	local port
	port=$(free_port)
	run timeout 10 "$BIN/ml-serve" --listen "127.0.0.1:$port" \
		--db "postgresql://u:hunter2@127.0.0.1:5432/x?nosuchparam=1"
	assert_equal "$status" 64
	assert_output --partial "bad database URL"
	refute_output --partial hunter2
	run timeout 10 env DATABASE_URL="host=127.0.0.1 port" "$BIN/ml-serve" --listen "127.0.0.1:$port"
	assert_equal "$status" 64
	assert_output --partial "bad database URL"
	assert_output --partial "DATABASE_URL"
}

@test "a port already in use is EX_UNAVAILABLE (69), not a crash" {
	run "$BIN/ml-serve" --listen "127.0.0.1:$PORT" --poll 60
	assert_equal "$status" 69
	assert_output --partial "cannot listen on 127.0.0.1:$PORT"
}

# ---- operations -----------------------------------------------------------------

@test "GET /healthz, /readyz and / answer JSON" {
	http GET /healthz
	assert_code 200
	assert_equal "$(jq -c . <<<"$BODY")" '{"status":"ok"}'
	http GET /readyz
	assert_code 200
	assert_equal "$(jq -c . <<<"$BODY")" '{"status":"ready","model_version":"1","detail":null}'
	http GET /
	assert_code 200
	jq -e '.endpoints | index("POST /recommendations") != null' <<<"$BODY"
}

@test "GET /model describes the served set" {
	http GET /model
	assert_code 200
	jq -e '.name == "lensflow" and .version == "1" and .alias == "champion"
		and .run_id == "run-one" and .metrics["ndcg@10"] == 0.2468 and .metrics.rmse == 0.9876
		and .dim == 17 and .n_users == 943 and .n_items > 1600
		and (.loaded_at | type == "number")' <<<"$BODY"
	assert_equal "$(jq .n_users <<<"$BODY")" "$(sql "SELECT count(*) FROM lf_lensflow_v1_users")"
}

# ---- recommendations for a known user ----------------------------------------------

@test "GET /recommendations/1: ten distinct movies, best first, none the user rated" {
	http GET '/recommendations/1?k=10'
	assert_code 200
	jq -e '.user_id == 1 and .model_version == "1" and (.items | length == 10)
		and ([.items[].movie_id] | unique | length == 10)
		and ([.items[].score] == ([.items[].score] | sort | reverse))
		and all(.items[]; (.title | length > 0))' <<<"$BODY"
	rated=$(sql "SELECT movie_id FROM ratings WHERE user_id = 1" | sort)
	[ "$(wc -l <<<"$rated")" -eq 272 ]
	overlap=$(jq -r '.items[].movie_id' <<<"$BODY" | sort | comm -12 - <(echo "$rated"))
	assert_equal "$overlap" ""
	# titles are the catalogue's
	first=$(jq -r '.items[0].movie_id' <<<"$BODY")
	assert_equal "$(jq -r '.items[0].title' <<<"$BODY")" \
		"$(sql "SELECT title FROM movies WHERE movie_id = $first")"
}

@test "the answer is the model's own top-k: ids and scores from the .lfe" {
	[ -x "$TEST_TOOLS/lfe-topk" ] || fail "lfe-topk is not built ($TEST_TOOLS)"
	for user in 1 7 200 943; do
		http GET "/recommendations/$user?k=10"
		assert_code 200
		jq -r '.items[] | "\(.movie_id)\t\(.score)"' <<<"$BODY" >"$BATS_TEST_TMPDIR/api.tsv"
		"$TEST_TOOLS/lfe-topk" "$BATS_FILE_TMPDIR/v1.lfe" "$user" 10 \
			"$BATS_FILE_TMPDIR/ratings.tsv" >"$BATS_TEST_TMPDIR/model.tsv"
		assert_same_topk "$BATS_TEST_TMPDIR/api.tsv" "$BATS_TEST_TMPDIR/model.tsv"
	done
}

@test "sparse movie ids (no dense id table): the model's top-k with the catalogue's titles" {
	[ -x "$TEST_TOOLS/lfe-topk" ] || fail "lfe-topk is not built ($TEST_TOOLS)"
	local d=$BATS_TEST_TMPDIR f=$BATS_FILE_TMPDIR
	# movie m becomes m * 1000003: ids up to 1.68e9, far too sparse for a dense table
	awk -F'\t' -v OFS='\t' '{ $2 = $2 * 1000003; print }' "$f/train.tsv" >"$d/train.tsv"
	awk -F'\t' -v OFS='\t' '{ $2 = $2 * 1000003; print }' "$f/ratings.tsv" >"$d/ratings.tsv"
	awk -F'\t' -v OFS='\t' '{ $1 = $1 * 1000003; print }' "$f/movies.tsv" >"$d/movies.tsv"
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 4 --threads 1 --seed 1 <"$d/train.tsv" >"$d/s.lfe"
	fresh_db lensflow_test_serve_sparse
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --load 1 --switch <"$d/s.lfe" >/dev/null
	local port
	port=$(free_port)
	MLFLOW_TRACKING_URI='' start_serve sparse --listen "127.0.0.1:$port" --threads 1
	wait_for "http://127.0.0.1:$port" /readyz 200
	for user in 1 943; do
		curl -s "http://127.0.0.1:$port/recommendations/$user?k=20" >"$d/api.json"
		jq -r '.items[] | "\(.movie_id)\t\(.score)"' "$d/api.json" >"$d/api.tsv"
		"$TEST_TOOLS/lfe-topk" "$d/s.lfe" "$user" 20 "$d/ratings.tsv" >"$d/model.tsv"
		assert_equal "$(wc -l <"$d/api.tsv")" 20
		assert_same_topk "$d/api.tsv" "$d/model.tsv"
		# each title is the catalogue's for that id
		jq -r '.items[] | "\(.movie_id)\t\(.title)"' "$d/api.json" | while IFS=$'\t' read -r id title; do
			assert_equal "$title" "$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$d/movies.tsv")"
		done
	done
	run curl -s "http://127.0.0.1:$port/movies/50000150/similar?k=5"
	jq -e '.movie_id == 50000150 and (.items | length == 5)
		and all(.items[]; .movie_id % 1000003 == 0)' <<<"$output"
	# an id between two movies, and one past the last
	for id in 50000151 2000000000; do
		run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/movies/$id/similar"
		assert_output 404
	done
	stop_serve sparse
	assert_equal "$STOPPED" 0
}

@test "k is honoured from 1 to 100; the default is 10" {
	for k in 1 37 100; do
		http GET "/recommendations/5?k=$k"
		assert_code 200
		assert_equal "$(jq '.items | length' <<<"$BODY")" "$k"
	done
	http GET /recommendations/5
	assert_equal "$(jq '.items | length' <<<"$BODY")" 10
}

@test "unknown user is 404 naming the user and the model version" {
	http GET /recommendations/99999
	assert_json_error 404
	assert_equal "$(jq -r .error <<<"$BODY")" not_found
	assert_equal "$(jq -r .message <<<"$BODY")" "user 99999 is unknown to model v1"
}

@test "ids outside int32 or below 1 are 404 on every id path" {
	for path in /recommendations/%s /movies/%s/similar /movies/%s /users/%s/ratings; do
		for raw in -1 0 2147483648 9223372036854775807 9223372036854775808 \
			10000000000000000000000000000000000000000; do
			# shellcheck disable=SC2059
			http GET "$(printf "$path" "$raw")"
			assert_json_error 404
		done
	done
}

@test "ids that are not integers are 422 on every id path" {
	for path in /recommendations/%s /movies/%s/similar /movies/%s /users/%s/ratings; do
		for raw in abc 1.5 1e3 0x10 %F0%9F%8E%AC %00 1%20OR%201=1 NaN +5 %20 1%27 \
			%D9%A1%D9%A2%D9%A3 %EF%BC%91%EF%BC%92%EF%BC%93 %ff%fe; do
			# shellcheck disable=SC2059
			http GET "$(printf "$path" "$raw")"
			assert_json_error 422
		done
	done
}

@test "bad k is 422 on both ranking paths and in the body" {
	for k in 101 0 -1 1000000000000000000000000000000 1e2 ten '' %00 1.0 ' 5'; do
		for path in /recommendations/1 /movies/1/similar; do
			http GET "$path" -G --data-urlencode "k=$k"
			assert_json_error 422
			assert_equal "$(jq -r .message <<<"$BODY")" "k must be an integer from 1 to 100"
		done
	done
	for k in 0 101 -1 '"5"' 5.0 true null '[5]'; do
		post_json '{"ratings": [{"movie_id": 1, "rating": 4}], "k": '"$k"'}'
		assert_json_error 422
	done
}

# ---- a new user: fold-in ---------------------------------------------------------------

@test "POST /recommendations folds a new user in; rated movies are excluded" {
	post_json '{"ratings": [{"movie_id": 1, "rating": 5}, {"movie_id": 50, "rating": 4},
		{"movie_id": 181, "rating": 5}], "k": 5}'
	assert_code 200
	jq -e '.user_id == null and .model_version == "1" and (.items | length == 5)
		and ([.items[].score] == ([.items[].score] | sort | reverse))
		and ([.items[].movie_id] - [1, 50, 181] | length == 5)' <<<"$BODY"
	post_json '{"ratings": [{"movie_id": 1, "rating": 3}]}'
	assert_code 200
	assert_equal "$(jq '.items | length' <<<"$BODY")" 10
}

@test "fold-in of a training user's movies ranks like that user" {
	# A new user who rated exactly what user 1 rated gets the movies user 1 gets, mostly.
	ratings=$(sql "SELECT movie_id FROM ratings WHERE user_id = 1" |
		jq -Rsc 'split("\n") | map(select(length > 0) | {movie_id: tonumber, rating: 4})')
	post_json "{\"ratings\": $ratings, \"k\": 20}"
	assert_code 200
	jq -r '.items[].movie_id' <<<"$BODY" | sort >"$BATS_TEST_TMPDIR/new.txt"
	http GET '/recommendations/1?k=20'
	jq -r '.items[].movie_id' <<<"$BODY" | sort >"$BATS_TEST_TMPDIR/known.txt"
	common=$(comm -12 "$BATS_TEST_TMPDIR/new.txt" "$BATS_TEST_TMPDIR/known.txt" | wc -l)
	echo "common: $common of 20"
	[ "$common" -ge 10 ]
}

@test "bad bodies are 422 with a message that names the problem" {
	while IFS='|' read -r body words; do
		post_json "$body"
		assert_json_error 422
		msg=$(jq -r .message <<<"$BODY")
		[[ "$msg" == *"$words"* ]] || fail "$body: '$msg' lacks '$words'"
	done <<'EOF'
{"ratings": []}|must not be empty
{"ratings": [{"movie_id": 99999, "rating": 4}]}|unknown movie id(s): 99999
{"ratings": [{"movie_id": 1, "rating": 6}]}|from 0.5 to 5 in steps of 0.5
{"ratings": [{"movie_id": 1, "rating": 0}]}|from 0.5 to 5 in steps of 0.5
{"ratings": [{"movie_id": 1, "rating": 4.25}]}|from 0.5 to 5 in steps of 0.5
{"ratings": [{"movie_id": 1, "rating": 5.5}]}|from 0.5 to 5 in steps of 0.5
{"ratings": [{"movie_id": 1, "rating": "4"}]}|from 0.5 to 5 in steps of 0.5
{"ratings": [{"movie_id": 1, "rating": true}]}|from 0.5 to 5 in steps of 0.5
{"ratings": [{"movie_id": 1, "rating": NaN}]}|not valid JSON
{"ratings": [{"movie_id": 1, "rating": 1e400}]}|not valid JSON
{"ratings": [{"movie_id": 50, "rating": 5}, {"movie_id": 7, "rating": 3}, {"movie_id": 50, "rating": 1}]}|movie 50 is rated more than once
{"ratings": [{"movie_id": "one", "rating": 4}]}|movie_id
{"ratings": [{"movie_id": 0, "rating": 4}]}|movie_id
{"ratings": [{"movie_id": 2147483648, "rating": 4}]}|movie_id
{"ratings": [{"movie_id": 1.0, "rating": 4}]}|movie_id
{"ratings": [{"movie_id": null, "rating": 4}]}|movie_id
{"ratings": [{"rating": 4}]}|movie_id
{"ratings": [{"movie_id": 1, "rating": 4, "extra": 1}]}|unknown field
{"ratings": [{"movie_id": 1, "rating": 4}], "user": 1}|unknown field
{"ratings": [{"movie_id": 1, "rating": 4}], "k": 1, "k": 2}|not valid JSON
{"ratings": "lots"}|ratings is required
{"ratings": [5]}|ratings[0] must be an object
{}|ratings is required
[]|must be a JSON object
not json|not valid JSON
|not valid JSON
EOF
}

@test "more than 2000 ratings are refused with 'at most'" {
	body=$(jq -nc '{ratings: [range(2001) | {movie_id: (. % 1682 + 1), rating: 4}]}')
	post_json "$body"
	assert_json_error 422
	assert_equal "$(jq -r .message <<<"$BODY")" "ratings has 2001 entries; give at most 2000"
}

@test "deeply nested JSON is 422, and the server lives on" {
	deep=$(printf '%.0s[' $(seq 20000))$(printf '%.0s]' $(seq 20000))
	post_json "$deep"
	assert_json_error 422
	post_json "{\"ratings\": $(printf '%.0s[' $(seq 5000))$(printf '%.0s]' $(seq 5000))}"
	assert_json_error 422
	http GET /healthz
	assert_code 200
}

@test "a wrong Content-Type is 415" {
	good='{"ratings": [{"movie_id": 1, "rating": 4}]}'
	for type in text/plain application/x-www-form-urlencoded 'multipart/form-data; boundary=x' \
		application/xml 'application/json; charset=latin-1' application/jsonx; do
		http POST /recommendations -H "Content-Type: $type" --data-binary "$good"
		assert_json_error 415
	done
	http POST /recommendations -H 'Content-Type:' --data-binary "$good"
	assert_json_error 415
	http POST /recommendations -H 'Content-Type: application/json; charset=UTF-8' \
		--data-binary "$good"
	assert_code 200
}

@test "a body over the limit is 413, declared or chunked, and the client reads the answer" {
	head -c 10000000 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big"
	http POST /recommendations -H 'Content-Type: application/json' \
		--data-binary @"$BATS_TEST_TMPDIR/big"
	assert_json_error 413
	assert_equal "$(jq -r .message <<<"$BODY")" "request body exceeds 65536 bytes"
	http POST /recommendations -H 'Content-Type: application/json' \
		-H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/big"
	assert_json_error 413
	head -c 65537 "$BATS_TEST_TMPDIR/big" >"$BATS_TEST_TMPDIR/just-over"
	http POST /recommendations -H 'Content-Type: application/json' \
		--data-binary @"$BATS_TEST_TMPDIR/just-over"
	assert_json_error 413
	http GET /healthz
	assert_code 200
}

@test "a body is read whole, declared or chunked, at any size up to the limit: the same answer" {
	# 300 ratings padded with spaces to 65,536 bytes, the limit exactly; the chunked
	# reads grow their buffer four times to hold it
	local d=$BATS_TEST_TMPDIR body pad
	body=$(jq -nc '{k: 7, ratings: [range(1; 301) | {movie_id: ., rating: ((. % 10 + 1) / 2)}]}')
	pad=$((65536 - ${#body}))
	{ printf '%s' "${body%?}"; head -c "$pad" /dev/zero | tr '\0' ' '; printf '}'; } >"$d/full.json"
	[ "$(wc -c <"$d/full.json")" -eq 65536 ]
	printf '%s' "$body" >"$d/small.json"
	local f te
	for f in small full; do
		for te in '' 'Transfer-Encoding: chunked'; do
			http POST /recommendations -H 'Content-Type: application/json' ${te:+-H "$te"} \
				--data-binary @"$d/$f.json"
			assert_code 200
			jq -c '[.items[] | [.movie_id, .score]]' <<<"$BODY" >"$d/$f${te:+.chunked}.out"
		done
	done
	[ "$(wc -c <"$d/small.out")" -gt 20 ]
	cmp "$d/small.out" "$d/full.out"
	cmp "$d/small.out" "$d/small.chunked.out"
	cmp "$d/small.out" "$d/full.chunked.out"
}

# ---- movies and users -------------------------------------------------------------------

@test "GET /movies/1/similar: ten others, cosine scores; unknown movie 404; bad k 422" {
	http GET '/movies/1/similar?k=10'
	assert_code 200
	jq -e '.movie_id == 1 and .model_version == "1" and (.items | length == 10)
		and ([.items[].movie_id] | index(1) == null)
		and all(.items[]; .score >= -1.0001 and .score <= 1.0001)
		and ([.items[].score] == ([.items[].score] | sort | reverse))' <<<"$BODY"
	http GET /movies/99999/similar
	assert_json_error 404
	assert_equal "$(jq -r .message <<<"$BODY")" "movie 99999 is unknown"
	http GET '/movies/1/similar?k=1000'
	assert_json_error 422
}

@test "GET /movies/search: case-insensitive, prefix first, wildcards literal" {
	http GET /movies/search -G --data-urlencode 'q=star wars'
	assert_code 200
	assert_equal "$(jq -r '.[0].title' <<<"$BODY")" "Star Wars (1977)"
	jq -e '.[0] | .movie_id == 50 and .year == 1977 and (.genres | index("Sci-Fi") != null)' <<<"$BODY"
	http GET /movies/search -G --data-urlencode 'q=the' --data-urlencode 'limit=3'
	assert_equal "$(jq length <<<"$BODY")" 3
	for q in '%_%' '%' '_' '\' "'; DROP TABLE movies; --" '🎬🍿' "$(printf 'ß%.0s' $(seq 100))"; do
		http GET /movies/search -G --data-urlencode "q=$q"
		assert_code 200
		assert_equal "$BODY" "[]"
	done
	assert_equal "$(sql "SELECT count(*) FROM movies")" 1682
	http GET /movies/search -G --data-urlencode 'q=   '
	assert_code 200
}

@test "GET /movies/search: bad q or limit is 422" {
	for q in '' "$(printf 'x%.0s' $(seq 101))"; do
		http GET /movies/search -G --data-urlencode "q=$q"
		assert_json_error 422
	done
	http GET '/movies/search?q=a%00b'
	assert_json_error 422
	http GET '/movies/search?q=%ff%fe'
	assert_json_error 422
	http GET /movies/search
	assert_json_error 422
	for limit in 0 51 x; do
		http GET "/movies/search?q=star&limit=$limit"
		assert_json_error 422
	done
}

@test "GET /movies/{id}: the catalogue row; unknown 404" {
	http GET /movies/1
	assert_code 200
	assert_equal "$(jq -c . <<<"$BODY")" \
		'{"movie_id":1,"title":"Toy Story (1995)","year":1995,"genres":["Animation","Children'"'"'s","Comedy"]}'
	http GET /movies/99999
	assert_json_error 404
}

@test "GET /users/{id}/ratings: the user's best-rated movies; unknown 404; bad limit 422" {
	http GET '/users/1/ratings?limit=5'
	assert_code 200
	jq -e '.user_id == 1 and (.items | length == 5) and all(.items[]; .rating == 5)
		and all(.items[]; (.title | length > 0))' <<<"$BODY"
	http GET /users/1/ratings
	assert_equal "$(jq '.items | length' <<<"$BODY")" 10
	http GET /users/99999/ratings
	assert_json_error 404
	http GET '/users/1/ratings?limit=101'
	assert_json_error 422
}

@test "SQL injection through every input has no effect" {
	counts() {
		sql "SELECT (SELECT count(*) FROM movies), (SELECT count(*) FROM ratings),
			(SELECT count(*) FROM embedding_sets), (SELECT version FROM serving)"
	}
	before=$(counts)
	n=0
	while IFS= read -r p; do
		enc=$(jq -rn --arg p "$p" '$p | @uri')
		for path in /recommendations/%s /movies/%s/similar /movies/%s /users/%s/ratings; do
			# shellcheck disable=SC2059
			http GET "$(printf "$path" "$enc")"
			[[ "$CODE" == 404 || "$CODE" == 422 ]] || fail "$path $p: $CODE"
			n=$((n + 1))
		done
		for path in /recommendations/1 /movies/1/similar /users/1/ratings; do
			http GET "$path" -G --data-urlencode "k=$p" --data-urlencode "limit=$p"
			assert_json_error 422
			n=$((n + 1))
		done
		start=$(date +%s%N)
		http GET /movies/search -G --data-urlencode "q=$p"
		assert_code 200
		[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2900 ] || fail "search '$p' was slow"
		needle=$(jq -rn --arg p "$p" '$p | ascii_downcase | gsub("^ +| +$"; "")')
		jq -e --arg n "$needle" 'all(.[]; .title | ascii_downcase | contains($n))' <<<"$BODY"
		for body in "{\"ratings\": [{\"movie_id\": $(jq -n --arg p "$p" '$p'), \"rating\": 4}]}" \
			"{\"ratings\": [{\"movie_id\": 1, \"rating\": $(jq -n --arg p "$p" '$p')}]}" \
			"{\"ratings\": [{\"movie_id\": 1, \"rating\": 4}], \"k\": $(jq -n --arg p "$p" '$p')}" \
			"{\"ratings\": [{\"movie_id\": 1, \"rating\": 4}], $(jq -n --arg p "$p" '$p'): 1}"; do
			post_json "$body"
			assert_json_error 422
			n=$((n + 1))
		done
		http POST /admin/reload -H "Authorization: Bearer $p"
		assert_json_error 401
		n=$((n + 2))
	done <<'EOF'
1; DROP TABLE ratings; --
1' OR '1'='1
1) OR (1=1
0 UNION SELECT user_id, 'x', 1.0 FROM users --
'; SELECT pg_sleep(3); --
1; SELECT pg_sleep(3)
$$; TRUNCATE movies CASCADE; $$
\'; DELETE FROM embedding_sets; --
%' OR title ILIKE '%
lf_lensflow_v1_items
"; DROP TABLE serving; --
EOF
	assert_equal "$n" 143
	assert_equal "$(counts)" "$before"
	http GET /readyz
	assert_code 200
}

# ---- routing -----------------------------------------------------------------------------

@test "unknown paths are 404 JSON; known paths with another method are 405 with Allow" {
	for path in /nope /recommendations/1/extra /movies /a/b/c/d/e /metrics/x /..%2F..%2Fetc%2Fpasswd; do
		http GET "$path"
		assert_json_error 404
	done
	http DELETE /recommendations/1
	assert_json_error 405
	grep -qi '^allow: GET, HEAD' "$HDRS"
	http PUT /admin/reload
	assert_json_error 405
	grep -qi '^allow: POST' "$HDRS"
	http GET /recommendations
	assert_json_error 405
	http POST /healthz
	assert_json_error 405
}

@test "a malformed request is answered by ml-serve's JSON, not civetweb's page" {
	run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'GARBAGE\r\n\r\n' >&3; timeout 5 cat <&3"
	assert_output --regexp "^HTTP/1.[01] 400"
	assert_output --partial '"error"'
	http GET /healthz
	assert_code 200
}

@test "keep-alive: several requests on one connection" {
	run curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
		-w '%{http_code} %{num_connects}\n' "$URL/healthz" "$URL/readyz" \
		"$URL/recommendations/99999" "$URL/healthz"
	assert_success
	# one connection made for the first request, none for the next three
	assert_equal "$(echo $output)" "200 1 200 0 404 0 200 0"
}

# ---- admin ------------------------------------------------------------------------------

@test "POST /admin/reload needs the bearer token: 401 without it or when wrong" {
	http POST /admin/reload
	assert_json_error 401
	grep -qi '^www-authenticate: Bearer' "$HDRS"
	http POST /admin/reload -H 'Authorization: Bearer wrong'
	assert_json_error 401
	http POST /admin/reload -H "Authorization: $TOKEN"
	assert_json_error 401
	http POST /admin/reload -H "Authorization: Bearer ${TOKEN}x"
	assert_json_error 401
	http POST /admin/reload -H "Authorization: Bearer ${TOKEN%?}"
	assert_json_error 401
	http POST /admin/reload -H "Authorization: Bearer $TOKEN"
	assert_code 200
	assert_equal "$(jq -c . <<<"$BODY")" '{"previous_version":"1","version":"1","changed":false}'
}

@test "admin is disabled (401) while LENSFLOW_ADMIN_TOKEN is unset; --max-body, --access-log" {
	port=$(free_port)
	LENSFLOW_ADMIN_TOKEN='' start_serve closed --listen "$port" --db "$DATABASE_URL" --poll 60 \
		--max-body 100 --access-log "$BATS_TEST_TMPDIR/access.log"
	wait_for "http://127.0.0.1:$port" /readyz 200
	URL=http://127.0.0.1:$port
	# a bare port listens on the loopback address only (/proc/net/tcp: address:port in hex, 0A = LISTEN)
	run awk -v p="$(printf ':%04X' "$port")" '$4 == "0A" && substr($2, 9) == p { print $2 }' /proc/net/tcp
	assert_output "0100007F$(printf ':%04X' "$port")"
	http POST /admin/reload -H 'Authorization: Bearer '
	assert_json_error 401
	assert_equal "$(jq -r .message <<<"$BODY")" "admin endpoints are disabled: set LENSFLOW_ADMIN_TOKEN"
	post_json '{"ratings": [{"movie_id": 1, "rating": 4}, {"movie_id": 2, "rating": 4}, {"movie_id": 3, "rating": 4}]}'
	assert_json_error 413
	assert_equal "$(jq -r .message <<<"$BODY")" "request body exceeds 100 bytes"
	post_json '{"ratings": [{"movie_id": 1, "rating": 4}]}'
	assert_code 200
	# HEAD: the headers of GET, no body
	run curl -s -I "$URL/healthz"
	assert_output --partial "HTTP/1.1 200"
	assert_output --partial "Content-Length: 15"
	stop_serve closed
	assert_equal "$STOPPED" 0
	grep -q '"GET /readyz HTTP/1.1" 200' "$BATS_TEST_TMPDIR/access.log"
	grep -q '"POST /recommendations HTTP/1.1" 413' "$BATS_TEST_TMPDIR/access.log"
}

@test "reload serves a newly switched version; the poll thread follows a switch" {
	"$BIN/ml-pgload" -q --load 2 --run-id run-two --switch <"$BATS_FILE_TMPDIR/v2.lfe" >/dev/null
	http POST /admin/reload -H "Authorization: Bearer $TOKEN"
	assert_code 200
	# the poll thread (every 0.5 s) may have been first: then the reload finds nothing new
	jq -e '.version == "2" and (.changed == true and .previous_version == "1"
		or .changed == false and .previous_version == "2")' <<<"$BODY"
	http GET /model
	jq -e '.version == "2" and .run_id == "run-two"' <<<"$BODY"
	http GET /recommendations/1
	assert_equal "$(jq -r .model_version <<<"$BODY")" 2
	# back to v1 by the poll thread alone
	"$BIN/ml-pgload" -q --switch 1 >/dev/null
	for i in $(seq 50); do
		http GET /model
		[ "$(jq -r .version <<<"$BODY")" = 1 ] && break
		sleep 0.1
	done
	assert_equal "$(jq -r .version <<<"$BODY")" 1
	grep -q 'serving lensflow v2 (was v1)' "$BATS_FILE_TMPDIR/main.err"
	grep -q 'serving lensflow v1 (was v2)' "$BATS_FILE_TMPDIR/main.err"
}

@test "switching sets under load loses no request" {
	command -v wrk >/dev/null || fail "wrk is not installed (scripts/deps installs it)"
	wrk -t1 -c4 -d3s "$URL/recommendations/1?k=10" >"$BATS_TEST_TMPDIR/wrk.txt" &
	wrk_pid=$!
	for v in 2 1 2 1 2 1; do
		sleep 0.4
		"$BIN/ml-pgload" -q --switch "$v" >/dev/null
		http POST /admin/reload -H "Authorization: Bearer $TOKEN"
		assert_code 200
		assert_equal "$(jq -r .version <<<"$BODY")" "$v"
	done
	wait "$wrk_pid"
	cat "$BATS_TEST_TMPDIR/wrk.txt"
	run grep -E 'Non-2xx|Socket errors' "$BATS_TEST_TMPDIR/wrk.txt"
	assert_failure
	n=$(awk '/requests in/ { print $1 }' "$BATS_TEST_TMPDIR/wrk.txt")
	[ "$n" -gt 100 ]
	http GET /model
	assert_equal "$(jq -r .version <<<"$BODY")" 1
}

@test "a reload that cannot load the set is 409 and the current set stays served" {
	sql "DROP TABLE lf_lensflow_v2_items; UPDATE serving SET version = 2 WHERE model_name = 'lensflow'"
	http POST /admin/reload -H "Authorization: Bearer $TOKEN"
	assert_json_error 409
	msg=$(jq -r .message <<<"$BODY")
	[[ "$msg" == "cannot reload: reading the set's movies: ERROR:"*"does not exist"* ]] ||
		fail "$msg"
	http GET /recommendations/1
	assert_code 200
	assert_equal "$(jq -r .model_version <<<"$BODY")" 1
	http GET /readyz
	assert_code 200
	# the poll thread (every 0.5 s) tries too, logs it once, and still serves v1
	for i in $(seq 50); do
		grep -q 'cannot load the served set: reading the set' "$BATS_FILE_TMPDIR/main.err" && break
		sleep 0.1
	done
	http GET /recommendations/1
	assert_equal "$(jq -r .model_version <<<"$BODY")" 1
	"$BIN/ml-pgload" -q --switch 1 >/dev/null
	http POST /admin/reload -H "Authorization: Bearer $TOKEN"
	assert_code 200
	assert_equal "$(jq -c . <<<"$BODY")" '{"previous_version":"1","version":"1","changed":false}'
	grep -q 'cannot load the served set: reading the set' "$BATS_FILE_TMPDIR/main.err"
}

# ---- metrics -----------------------------------------------------------------------------

@test "GET /metrics passes promtool and carries the names prometheus/ and grafana/ query" {
	http GET /recommendations/2
	http GET /recommendations/99999
	http GET /metrics
	assert_code 200
	grep -qi '^content-type: text/plain; version=0.0.4' "$HDRS"
	run promtool check metrics <"$BATS_TEST_TMPDIR/body"
	assert_success
	m=$BATS_TEST_TMPDIR/body
	grep -qE '^lensflow_http_requests_total\{method="GET",route="/recommendations/\{user_id\}",status_class="2xx"\} [1-9]' "$m"
	grep -qE '^lensflow_http_requests_total\{method="GET",route="/recommendations/\{user_id\}",status_class="4xx"\} [1-9]' "$m"
	grep -q '^lensflow_http_request_duration_seconds_bucket{method="GET",route="/recommendations/{user_id}",status_class="2xx",le="0.0001"}' "$m"
	grep -qE '^lensflow_db_query_seconds_count\{query="user_recs"\} [1-9]' "$m"
	grep -qE '^lensflow_model_inference_seconds_count\{operation="fold_in"\} [1-9]' "$m"
	grep -qE '^lensflow_recommendations_served_total\{kind="user"\} [1-9]' "$m"
	grep -qE '^lensflow_recommendations_served_total\{kind="new_user"\} [1-9]' "$m"
	grep -qE '^lensflow_model_reloads_total\{outcome="success"\} [1-9]' "$m"
	grep -qE '^lensflow_model_reloads_total\{outcome="unchanged"\} [1-9]' "$m"
	grep -qE '^lensflow_model_reloads_total\{outcome="failure"\} [1-9]' "$m"
	grep -q '^lensflow_model_info{name="lensflow",version="1",run_id="run-one"} 1' "$m"
	grep -q '^lensflow_model_offline_metric{metric="ndcg@10"} 0.2468' "$m"
	grep -q '^lensflow_serving_model_version 1$' "$m"
	grep -q "^lensflow_ready 1$" "$m" || { grep -E "db_errors|ready" "$m"; false; }
	grep -q '^lensflow_registry_champion_version ' "$m"
	grep -q '^lensflow_http_requests_in_flight 1$' "$m"
	grep -qE '^lensflow_build_info\{version="[0-9.]+",commit="[^"]+"\} 1' "$m"
	grep -q '^lensflow_db_errors_total{query="user_recs"} 0' "$m"
	for p in process_resident_memory_bytes process_cpu_seconds_total process_open_fds \
		process_start_time_seconds process_threads; do
		grep -qE "^$p [0-9]" "$m" || fail "no $p"
	done
	# labels are templates: no raw path, no id
	run grep -E '="[^"]*(/recommendations/[0-9]|99999)' "$m"
	assert_failure
	# every lensflow_ series the rules and dashboards read is exposed (recording-rule names
	# and the retrain job's textfile metrics aside)
	for name in $(grep -rhoE 'lensflow_[a-z_]+' "$REPO/prometheus/rules" "$REPO/grafana" | sort -u |
		sed -E 's/_(bucket|count|sum)$//' | sort -u); do
		case $name in lensflow_http_errors | lensflow_http_requests | lensflow_retrain_*) continue ;; esac
		grep -q "^# TYPE $name " "$m" || fail "$name is not exposed"
	done
}

# ---- the registry ---------------------------------------------------------------------------

mlflow_api() { # mlflow_api ENDPOINT JSON: POST to MLflow's REST API, the answer on stdout
	curl -sS --fail-with-body -H 'Content-Type: application/json' --data-binary "$2" \
		"$MLFLOW_TRACKING_URI/api/2.0/mlflow/$1"
}

@test "the champion's version is read from MLflow: gauge and /model's alias follow it" {
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || fail "no MLflow: run scripts/services up (make test does)"
	model=serve_t$RANDOM$RANDOM
	exp=$(mlflow_api experiments/create "{\"name\": \"$model\"}" | jq -r .experiment_id)
	run_id=$(mlflow_api runs/create "{\"experiment_id\": \"$exp\"}" | jq -r .run.info.run_id)
	mlflow_api registered-models/create "{\"name\": \"$model\"}" >/dev/null
	for v in 1 2; do
		mlflow_api model-versions/create "{\"name\": \"$model\", \"run_id\": \"$run_id\",
			\"source\": \"runs:/$run_id/model\"}" | jq -e ".model_version.version == \"$v\""
	done
	mlflow_api registered-models/alias "{\"name\": \"$model\", \"alias\": \"champion\",
		\"version\": \"2\"}" >/dev/null
	"$BIN/ml-pgload" -q --model-name "$model" --load 1 --switch <"$BATS_FILE_TMPDIR/v1.lfe" >/dev/null
	port=$(free_port)
	start_serve registry --listen "127.0.0.1:$port" --model-name "$model" --poll 0.3 \
		--tracking-uri "$MLFLOW_TRACKING_URI"
	URL=http://127.0.0.1:$port
	wait_for "$URL" /readyz 200
	for i in $(seq 50); do
		curl -s "$URL/metrics" | grep -q '^lensflow_registry_champion_version 2$' && break
		sleep 0.2
	done
	curl -s "$URL/metrics" | grep -q '^lensflow_registry_champion_version 2$'
	http GET /model
	jq -e '.version == "1" and .alias == null' <<<"$BODY"
	mlflow_api registered-models/alias "{\"name\": \"$model\", \"alias\": \"champion\",
		\"version\": \"1\"}" >/dev/null
	for i in $(seq 50); do
		http GET /model
		[ "$(jq -r .alias <<<"$BODY")" = champion ] && break
		sleep 0.2
	done
	jq -e '.version == "1" and .alias == "champion"' <<<"$BODY"
	curl -s "$URL/metrics" | grep -q '^lensflow_registry_champion_version 1$'
	stop_serve registry
	assert_equal "$STOPPED" 0
}

# ---- outages -----------------------------------------------------------------------------

@test "no database at start: /healthz 200, /readyz and queries 503 with Retry-After, fast" {
	port=$(free_port)
	closed=$(free_port)
	while [ "$closed" = "$port" ]; do closed=$(free_port); done
	start_serve outage --listen "127.0.0.1:$port" --db "postgresql://lensflow@127.0.0.1:$closed/x" --poll 60
	wait_for "http://127.0.0.1:$port" /healthz 200
	URL=http://127.0.0.1:$port
	http GET /readyz
	assert_json_error 503
	grep -qi '^retry-after: ' "$HDRS"
	jq -e '.status == "unavailable" and (.detail | test("database unreachable"))' <<<"$BODY"
	for path in /recommendations/1 /movies/1 /movies/1/similar /users/1/ratings /model \
		'/movies/search?q=star'; do
		# fast: no waiting for a connection timeout (2 s); /healthz's time is the machine's load
		start=$(date +%s%N)
		http GET /healthz
		base=$(( ($(date +%s%N) - start) / 1000000 ))
		start=$(date +%s%N)
		http GET "$path"
		took=$(( ($(date +%s%N) - start) / 1000000 ))
		assert_json_error 503
		grep -qi '^retry-after: ' "$HDRS"
		[ "$took" -lt $((base + 1000)) ] || fail "$path took $took ms (/healthz: $base ms)"
	done
	post_json '{"ratings": [{"movie_id": 1, "rating": 4}]}'
	assert_json_error 503
	http GET /metrics
	grep -q '^lensflow_ready 0$' "$BATS_TEST_TMPDIR/body"
	grep -qE '^lensflow_db_errors_total\{query="movie"\} [1-9]' "$BATS_TEST_TMPDIR/body"
	stop_serve outage
	assert_equal "$STOPPED" 0
	grep -q 'cannot load the served set: database unreachable' "$BATS_FILE_TMPDIR/outage.err"
}

@test "the database answers but nothing is served: not ready, 503, reload 409" {
	port=$(free_port)
	LENSFLOW_ADMIN_TOKEN=$TOKEN start_serve empty --listen "$port" --model-name nothing_here --poll 60
	wait_for "http://127.0.0.1:$port" /healthz 200
	URL=http://127.0.0.1:$port
	http GET /readyz
	assert_json_error 503
	assert_equal "$(jq -r .detail <<<"$BODY")" "no model loaded"
	http GET /recommendations/1
	assert_json_error 503
	http GET /movies/1
	assert_code 200
	http POST /admin/reload -H "Authorization: Bearer $TOKEN"
	assert_json_error 409
	assert_equal "$(jq -r .message <<<"$BODY")" \
		"cannot reload: no set of model nothing_here is served; switch one with ml-pgload --switch N"
	stop_serve empty
	assert_equal "$STOPPED" 0
	grep -q 'cannot load the served set: no set of model nothing_here is served' \
		"$BATS_FILE_TMPDIR/empty.err"
}

@test "the database stops and comes back: 503 meanwhile, served again without a restart" {
	home=$LENSFLOW_TEST_HOME/serve-outage
	echo "$home" >"$BATS_FILE_TMPDIR/outage-home"
	LENSFLOW_HOME=$home "$REPO/scripts/pg-embedded" up >/dev/null 2>&1
	# shellcheck disable=SC1091
	admin=$(. "$home/pg/pg.env" && echo "$LENSFLOW_PG_ADMIN_URL")
	# shellcheck disable=SC1091
	url=$(. "$home/pg/pg.env" && echo "$LENSFLOW_PG_URL_BASE")/serve_outage
	"$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "$admin" -c 'DROP DATABASE IF EXISTS serve_outage' \
		-c 'CREATE DATABASE serve_outage' >/dev/null
	"$BIN/ml-pgload" -q --db "$url" --catalogue --movies "$BATS_FILE_TMPDIR/movies.tsv" \
		--ratings "$BATS_FILE_TMPDIR/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --db "$url" --load 1 --switch <"$BATS_FILE_TMPDIR/v1.lfe" >/dev/null
	port=$(free_port)
	start_serve outage2 --listen "127.0.0.1:$port" --db "$url" --poll 60
	wait_for "http://127.0.0.1:$port" /readyz 200
	URL=http://127.0.0.1:$port
	http GET /recommendations/1
	assert_code 200
	LENSFLOW_HOME=$home "$REPO/scripts/pg-embedded" down >/dev/null 2>&1
	http GET /recommendations/1
	assert_json_error 503
	http GET /readyz
	assert_json_error 503
	http GET /healthz
	assert_code 200
	LENSFLOW_HOME=$home "$REPO/scripts/pg-embedded" up >/dev/null 2>&1
	sleep 0.3 # past the worker's reconnection pause
	http GET /recommendations/1
	assert_code 200
	http GET /readyz
	assert_code 200
	stop_serve outage2
	assert_equal "$STOPPED" 0
	LENSFLOW_HOME=$home "$REPO/scripts/pg-embedded" down >/dev/null 2>&1
	rm -f "$BATS_FILE_TMPDIR/outage-home"
}

# ---- shutdown (last: it stops the server of this file) ---------------------------------

@test "SIGTERM stops ml-serve cleanly: exit 0, one line per start, reload and stop" {
	stop_serve main
	assert_equal "$STOPPED" 0
	run cat "$BATS_FILE_TMPDIR/main.err"
	assert_line --partial "listening on http://127.0.0.1:$PORT (3 threads)"
	assert_line --partial "serving lensflow v1 (was none)"
	assert_line --partial "stopping on SIGTERM"
	assert_line --partial "stopped"
	run curl -s "$URL/healthz"
	assert_failure
}
