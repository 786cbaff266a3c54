#!/usr/bin/env bats
# Security (issue 15): the admin token (every near miss is 401; compared in
# constant time), each documented limit (docs/architecture.md, "Limits"),
# the loopback default, dropping root, no secret in any log or answer, and
# SQL only with parameters in ml-pgload (ml-serve.bats covers ml-serve's
# inputs).

load helpers
load ../reliability/lib

TOKEN=Zq8-sec-token-0b7c41e29d5a
PASSWORD=S3cretPW-9d81c

setup_file() {
	fresh_db lensflow_test_security
	export RL_DB_URL=$DATABASE_URL
	build_data "$BATS_FILE_TMPDIR"
	load_set "$DATABASE_URL" "$BATS_FILE_TMPDIR"
	PORT=$(free_port)
	export PORT URL=http://127.0.0.1:$PORT
	# the password in the URL: the embedded Postgres trusts local clients, so it is only carried
	local pw_url=${DATABASE_URL/lensflow@/lensflow:$PASSWORD@}
	LENSFLOW_ADMIN_TOKEN=$TOKEN start_serve main --listen "127.0.0.1:$PORT" --threads 2 --poll 60 \
		--max-body 1000 --timeout 1500 --db "$pw_url" --tracking-uri '' \
		--access-log "$BATS_FILE_TMPDIR/access.log"
	wait_for "$URL" /readyz 200
}

setup() {
	export DATABASE_URL=$RL_DB_URL
}

teardown_file() {
	stop_all_serves
}

admin() { # admin CURL-ARGS...: the status of POST /admin/reload
	curl -s -o "$BATS_TEST_TMPDIR/body" -D "$BATS_TEST_TMPDIR/h" -w '%{http_code}' -X POST "$@" \
		"$URL/admin/reload"
}

# ---- the admin token ---------------------------------------------------------------------

@test "admin: anything but the exact bearer token is 401, and the token is never echoed" {
	last=${TOKEN: -1}
	flipped=${TOKEN%?}$(printf "\\$(printf '%03o' $(( $(printf '%d' "'$last") ^ 1 )))")
	same_len=$(printf 'x%.0s' $(seq ${#TOKEN}))
	n=0
	for auth in "" "Bearer" "Bearer " "Bearer $same_len" "Bearer $flipped" "Bearer ${TOKEN%?}" \
		"Bearer ${TOKEN}x" "Bearer ${TOKEN^^}" "Bearer  $TOKEN" "Bearer $TOKEN " "Basic $TOKEN" \
		"Token $TOKEN" "$TOKEN" "Bearer ${TOKEN:0:1}" "Bearer $TOKEN$TOKEN" "Bearer%20$TOKEN"; do
		c=$(admin -H "Authorization: $auth")
		n=$((n + 1))
		[ "$c" = 401 ] || fail "'$auth': $c"
		grep -qi '^www-authenticate: Bearer' "$BATS_TEST_TMPDIR/h"
		jq -e '.error == "unauthorized"' "$BATS_TEST_TMPDIR/body" >/dev/null
		! grep -q "$TOKEN" "$BATS_TEST_TMPDIR/body" "$BATS_TEST_TMPDIR/h" || fail "the token was echoed"
	done
	# no Authorization header at all; the token elsewhere than the header
	assert_equal "$(admin)" 401
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/admin/reload?token=$TOKEN")" 401
	assert_equal "$(admin -b "Authorization=Bearer $TOKEN")" 401
	assert_equal "$(admin -H "X-Authorization: Bearer $TOKEN")" 401
	# the right one, with the scheme in any case (RFC 9110: case-insensitive)
	assert_equal "$(admin -H "Authorization: Bearer $TOKEN")" 200
	assert_equal "$(admin -H "Authorization: bearer $TOKEN")" 200
	echo "$n near misses refused"
}

@test "admin: the token is compared in constant time (ops.c)" {
	src=$REPO/tools/ml-serve/ops.c
	# the comparison reads every byte: no early exit inside its loop, no library compare
	fn=$(awk '/^(static )?int token_equal\(/,/^}/' "$src")
	[ -n "$fn" ] || fail "token_equal is gone from ops.c: check the new comparison by hand"
	loop=$(awk '/for \(/,/^\t}/' <<<"$fn")
	[[ $loop == *"diff |="* ]] || fail "the loop does not accumulate the difference"
	[[ $loop != *return* && $loop != *break* ]] || fail "the loop exits early"
	# the bearer check compares through it, and op_reload and op_feedback
	# check through the bearer check, and through nothing else
	handler=$(awk '/^int bearer_refused\(/,/^}/' "$src")
	[[ $handler == *"token_equal(auth + 7"* ]] || fail "bearer_refused does not use token_equal"
	handler=$(awk '/^int op_reload\(/,/^}/' "$src")
	[[ $handler == *"bearer_refused(rq, rq->app->cfg.admin_token"* ]] ||
		fail "op_reload does not use bearer_refused"
	handler=$(awk '/^int op_feedback\(/,/^}/' "$REPO/tools/ml-serve/feedback.c")
	[[ $handler == *"bearer_refused(rq, rq->app->cfg.feedback_token"* ]] ||
		fail "op_feedback does not use bearer_refused"
	run grep -nE 'str(n|case)?cmp\([^)]*token|memcmp\([^)]*token|bcmp\(' "$src"
	assert_failure
}

# ---- limits (docs/architecture.md, "Limits") -------------------------------------------------

@test "limit: k is 1..100 on every ranking endpoint" {
	for path in /recommendations/1 /movies/1/similar; do
		assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "$URL$path?k=100")" 200
		assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "$URL$path?k=101")" 422
	done
}

@test "limit: the body is at most --max-body bytes (413 above, served at the limit)" {
	printf '{"ratings": [{"movie_id": 1, "rating": 5}], "k": 2}' >"$BATS_TEST_TMPDIR/b"
	head -c $((1000 - $(wc -c <"$BATS_TEST_TMPDIR/b"))) /dev/zero | tr '\0' ' ' >>"$BATS_TEST_TMPDIR/b"
	post() { curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary @"$1" "$URL/recommendations"; }
	assert_equal "$(post "$BATS_TEST_TMPDIR/b")" 200
	printf ' ' >>"$BATS_TEST_TMPDIR/b"
	assert_equal "$(post "$BATS_TEST_TMPDIR/b")" 413
	assert_equal "$(jq -r .message "$BATS_TEST_TMPDIR/body")" "request body exceeds 1000 bytes"
}

@test "limit: the request line and headers are at most 16 KiB (civetweb's max_request_size)" {
	small=$(head -c 15000 /dev/zero | tr '\0' a)
	big=$(head -c 17000 /dev/zero | tr '\0' a)
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Pad: $small" "$URL/healthz")" 200
	c=$(curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -H "X-Pad: $big" "$URL/healthz")
	[[ $c =~ ^(400|413|431)$ ]] || fail "17 KB of headers: $c"
	jq -e '.error | type == "string"' "$BATS_TEST_TMPDIR/body"
	c=$(curl -s -o /dev/null -w '%{http_code}' "$URL/movies/search?q=$big")
	[[ $c =~ ^(400|414|431)$ ]] || fail "17 KB URL: $c"
}

@test "limit: a request must arrive within --timeout; an idle keep-alive closes after 5 s" {
	# --timeout 1500 here: a request sent one byte a second is cut off
	run "$REL/rl-slow" "$PORT" 1 4
	echo "$output"
	[[ $output == *"closed_by_server=1 "* ]] || fail "the slow request was not cut off"
	t=$(sed -E 's/.*first_close_s=([0-9.]+).*/\1/' <<<"$output")
	awk -v t="$t" 'BEGIN { exit !(t >= 1 && t <= 3) }' || fail "cut off after $t s, not 1.5"
	# a connection that asked once and then says nothing is closed by the server
	start=$(date +%s%N)
	run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >&3; timeout 12 cat <&3"
	took=$(( ($(date +%s%N) - start) / 1000000 ))
	assert_output --partial '{"status":"ok"}'
	echo "idle keep-alive closed after $took ms"
	[ "$took" -ge 1000 ] && [ "$took" -lt 8000 ] || fail "closed after $took ms"
}

@test "limit: connections beyond --threads wait their turn; none is refused or dropped" {
	# 2 workers, 12 clients at once: every request answered, nothing refused
	"$REL/rl-load" --port "$PORT" --conns 12 --seconds 2 /recommendations/1 /movies/1/similar \
		>"$BATS_TEST_TMPDIR/load.json"
	cat "$BATS_TEST_TMPDIR/load.json"
	jq -e '.errors == 0 and .requests > 50 and .requests == .status["200"]' "$BATS_TEST_TMPDIR/load.json"
}

# ---- where it listens, who it runs as ----------------------------------------------------------

@test "listens on 127.0.0.1 unless told: --help, LENSFLOW_LISTEN=PORT, and 0.0.0.0 only on request" {
	run "$BIN/ml-serve" --help
	assert_output --partial "127.0.0.1:8000"
	port=$(free_port)
	LENSFLOW_LISTEN=$port start_serve envport --db "$RL_DB_URL" --poll 60 --tracking-uri ''
	wait_for "http://127.0.0.1:$port" /healthz 200
	run ss -Hltn "sport = :$port"
	assert_output --partial "127.0.0.1:$port"
	refute_output --partial "0.0.0.0:$port"
	refute_output --partial "*:$port"
	stop_serve envport
	assert_equal "$STOPPED" 0
	port=$(free_port)
	start_serve anyaddr --listen "0.0.0.0:$port" --db "$RL_DB_URL" --poll 60 --tracking-uri ''
	wait_for "http://127.0.0.1:$port" /healthz 200
	run ss -Hltn "sport = :$port"
	assert_output --partial "0.0.0.0:$port"
	stop_serve anyaddr
	assert_equal "$STOPPED" 0
}

@test "started as root with --user NAME: binds first (a port below 1024), then runs as NAME" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	id nobody >/dev/null 2>&1 || skip "no user 'nobody'"
	port=
	for p in $(shuf -i 600-999 -n 40); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
	done
	[ -n "$port" ] || skip "no free port below 1024"
	start_serve dropped --listen "127.0.0.1:$port" --user nobody --db "$RL_DB_URL" --poll 60 \
		--tracking-uri ''
	wait_for "http://127.0.0.1:$port" /readyz 200 100 || fail "$(cat "$BATS_FILE_TMPDIR/dropped.err")"
	pid=$(serve_pid dropped)
	uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	u=$(id -u nobody)
	g=$(id -g nobody)
	assert_equal "$uids" "$u $u $u $u"
	assert_equal "$gids" "$g $g $g $g"
	# no supplementary groups of root kept
	run awk '/^Groups:/ {print $2}' "/proc/$pid/status"
	[[ -z $output || $output == "$g" ]] || fail "supplementary groups kept: $output"
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/recommendations/1")" 200
	stop_serve dropped
	assert_equal "$STOPPED" 0
	# a user that does not exist is a usage error before anything listens
	run "$BIN/ml-serve" --listen "127.0.0.1:$(free_port)" --user no-such-user-x --db "$RL_DB_URL"
	[[ $status == 64 || $status == 67 ]] || fail "exit $status"
	assert_output --partial "no-such-user-x"
}

# ---- no secret in logs ------------------------------------------------------------------------

@test "no secret in logs or answers: the admin token and the database password" {
	admin -H "Authorization: Bearer $TOKEN" >/dev/null
	admin -H "Authorization: Bearer wrong-$TOKEN" >/dev/null
	curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/recommendations/1"
	for path in /model /readyz /metrics /; do
		curl -s "$URL$path" >"$BATS_TEST_TMPDIR/answer"
		! grep -qF -e "$PASSWORD" -e "$TOKEN" "$BATS_TEST_TMPDIR/answer" || fail "a secret in $path"
	done
	# a server that cannot reach its database says so, without the password
	closed=$(free_port)
	port=$(free_port)
	LENSFLOW_ADMIN_TOKEN=$TOKEN start_serve nodb --listen "127.0.0.1:$port" --poll 0.2 \
		--tracking-uri "http://user:$PASSWORD@127.0.0.1:$closed" --db "postgresql://lensflow:$PASSWORD@127.0.0.1:$closed/x" \
		--access-log "$BATS_FILE_TMPDIR/nodb-access.log"
	wait_for "http://127.0.0.1:$port" /healthz 200
	curl -s "http://127.0.0.1:$port/readyz" >"$BATS_TEST_TMPDIR/readyz"
	curl -s "http://127.0.0.1:$port/recommendations/1" >>"$BATS_TEST_TMPDIR/readyz"
	curl -s -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/admin/reload" >>"$BATS_TEST_TMPDIR/readyz"
	grep -q 'database unreachable' "$BATS_TEST_TMPDIR/readyz"
	sleep 0.5
	stop_serve nodb
	stop_serve main
	grep -q 'database unreachable' "$BATS_FILE_TMPDIR/nodb.err"
	# a client that put the token into the URL itself (the first test's "?token=") has published
	# it; what is checked is that the server adds no secret of its own
	sed -i '/?token=/d' "$BATS_FILE_TMPDIR/access.log"
	for f in "$BATS_TEST_TMPDIR/readyz" "$BATS_FILE_TMPDIR/main.err" "$BATS_FILE_TMPDIR/main.out" \
		"$BATS_FILE_TMPDIR/access.log" "$BATS_FILE_TMPDIR/nodb.err" "$BATS_FILE_TMPDIR/nodb-access.log"; do
		[ -f "$f" ] || fail "$f missing"
		! grep -qF -e "$PASSWORD" -e "$TOKEN" "$f" || fail "a secret in $f: $(grep -F -e "$PASSWORD" -e "$TOKEN" "$f")"
	done
	grep -q '"POST /admin/reload HTTP/1.1" 200' "$BATS_FILE_TMPDIR/access.log"
}

@test "no secret in the other tools' messages: a password in a service URL is never printed" {
	closed=$(free_port)
	printf 'ndcg@10\t0.4\n' >"$BATS_TEST_TMPDIR/m.tsv"
	leaks=
	check() { # check TOOL ARGS...: exit 69 and the password not in the message
		run "$@" <"$BATS_TEST_TMPDIR/m.tsv"
		[ "$status" = 69 ] || leaks+="$1 exited $status; "
		[[ $output != *"$PASSWORD"* ]] || leaks+="$output; "
	}
	check "$BIN/ml-pgload" --db "postgresql://lensflow:$PASSWORD@127.0.0.1:$closed/x" --serving
	check "$BIN/ml-mlflow-log" --tracking-uri "http://user:$PASSWORD@127.0.0.1:$closed" --no-register
	check "$BIN/ml-mlflow-log" --tracking-uri "http://user:$PASSWORD@127.0.0.1:$closed" --champion
	check "$BIN/ml-fetch" --source "http://user:$PASSWORD@127.0.0.1:$closed/ml-100k.zip" ratings
	[ -z "$leaks" ] || fail "$leaks"
}

# ---- SQL only with parameters: ml-pgload's inputs ----------------------------------------------

@test "ml-pgload: injection strings in run ids, metrics and titles are stored as text" {
	counts() {
		sql "SELECT (SELECT count(*) FROM movies), (SELECT count(*) FROM ratings),
			(SELECT count(*) FROM embedding_sets), (SELECT version FROM serving),
			(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"
	}
	before=$(counts)
	v=40
	while IFS= read -r p; do
		printf 'ndcg@10\t0.5\n' >"$BATS_TEST_TMPDIR/m.tsv"
		run "$BIN/ml-pgload" -q --load "$v" --run-id "$p" --metrics "$BATS_TEST_TMPDIR/m.tsv" \
			--index none <"$BATS_FILE_TMPDIR/v1.lfe"
		assert_success
		assert_equal "$(sql "SELECT run_id FROM embedding_sets WHERE version = $v")" "$p"
		# a model name is an identifier: anything but [a-z][a-z0-9_]* is refused before SQL
		if ! [[ $p =~ ^[a-z][a-z0-9_]{0,31}$ ]]; then
			run "$BIN/ml-pgload" -q --load 1 --model-name "$p" <"$BATS_FILE_TMPDIR/v1.lfe"
			assert_equal "$status" 64
		fi
		# the set's tables (lib/store_sets.c: a blend, the default model, has a foldin one too)
		sql "DELETE FROM embedding_sets WHERE version = $v; DROP TABLE IF EXISTS
			lf_lensflow_v${v}_users, lf_lensflow_v${v}_items, lf_lensflow_v${v}_dirs,
			lf_lensflow_v${v}_foldin" >/dev/null
		v=$((v + 1))
	done <<'EOF'
1; DROP TABLE ratings; --
1' OR '1'='1
'); DELETE FROM serving; --
$$; TRUNCATE movies CASCADE; $$
\'; DELETE FROM embedding_sets; --
"; DROP TABLE serving; --
lf_lensflow_v1_items
EOF
	assert_equal "$(counts)" "$before"
	# metric names and values with quotes: refused as bad input (65) or stored verbatim
	printf "ndcg'); DROP TABLE movies; --\t0.5\nrmse\t0.9\n" >"$BATS_TEST_TMPDIR/m.tsv"
	run "$BIN/ml-pgload" -q --load 60 --metrics "$BATS_TEST_TMPDIR/m.tsv" --index none \
		<"$BATS_FILE_TMPDIR/v1.lfe"
	if [ "$status" = 0 ]; then
		assert_equal "$(sql "SELECT metrics->>'ndcg''); DROP TABLE movies; --' FROM embedding_sets WHERE version = 60")" 0.5
	else
		assert_equal "$status" 65
	fi
	printf "ndcg@10\t0.5'; DROP TABLE movies; --\n" >"$BATS_TEST_TMPDIR/m2.tsv"
	run "$BIN/ml-pgload" -q --load 61 --metrics "$BATS_TEST_TMPDIR/m2.tsv" --index none \
		<"$BATS_FILE_TMPDIR/v1.lfe"
	assert_equal "$status" 65
	assert_equal "$(sql "SELECT count(*) FROM movies")" 1682
	# a catalogue whose titles carry quotes and backslashes: loaded as they are
	awk -F'\t' 'BEGIN { OFS = "\t" } NR == 1 { $2 = "x\x27); DROP TABLE ratings; -- \\\\ \"q\" (1995)" } { print }' \
		"$BATS_FILE_TMPDIR/movies.tsv" >"$BATS_TEST_TMPDIR/movies.tsv"
	run "$BIN/ml-pgload" -q --catalogue --movies "$BATS_TEST_TMPDIR/movies.tsv" \
		--ratings "$BATS_FILE_TMPDIR/ratings.tsv"
	assert_success
	assert_equal "$(sql "SELECT title FROM movies WHERE movie_id = 1")" \
		"$(awk -F'\t' 'NR == 1 { print $2 }' "$BATS_TEST_TMPDIR/movies.tsv")"
	assert_equal "$(sql "SELECT count(*) FROM ratings")" 100000
}
