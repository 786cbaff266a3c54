#!/usr/bin/env bats
# Hostile HTTP against a running ml-serve (issue 15): huge URLs and headers,
# bodies over the limit to a client that writes all before reading, slow
# senders holding the workers, unserved methods, traversal and NUL in paths,
# non-UTF-8, out-of-range integers, non-finite numbers and deep nesting in
# JSON. After each batch: no 5xx, the process alive, RSS flat.
# (ml-serve.bats covers the API's own 4xx answers; this file the attacks.)

load helpers
load ../reliability/lib

THREADS=3

setup_file() {
	fresh_db lensflow_test_rl_http
	export RL_DB_URL=$DATABASE_URL
	build_data "$BATS_FILE_TMPDIR"
	load_set "$DATABASE_URL" "$BATS_FILE_TMPDIR"
	PORT=$(free_port)
	export PORT URL=http://127.0.0.1:$PORT
	# a body limit of 1 MiB lets 100k levels of JSON nesting reach the parser
	start_serve hostile --listen "127.0.0.1:$PORT" --threads "$THREADS" --poll 60 \
		--max-body 1048576 --timeout 3000 --db "$DATABASE_URL" --tracking-uri ''
	wait_for "$URL" /readyz 200
	# every worker has opened its database connection: what RSS is after that is the baseline
	"$REL/rl-load" --port "$PORT" --conns "$THREADS" --seconds 1 /recommendations/1 \
		'/movies/1/similar' >/dev/null
	rss_kb "$(serve_pid hostile)" >"$BATS_FILE_TMPDIR/rss0"
	# /readyz answered 503 while the set loaded: later 5xx are counted from here
	fivexx_counted >"$BATS_FILE_TMPDIR/5xx0"
}

setup() {
	export DATABASE_URL=$RL_DB_URL
	PID=$(serve_pid hostile)
	FIVEXX=0
}

teardown_file() {
	stop_all_serves
}

# raw REQUEST-BYTES (printf format): sent on a new connection; the answer's status line in
# STATUS (empty: the server closed without an answer), the whole answer in ANSWER: what came
# within 5 s, until the close, or until the body of a Content-Length answer is whole (the
# server may keep the connection open after it).
raw() {
	ANSWER=$(
		exec 3<>"/dev/tcp/127.0.0.1/$PORT"
		# shellcheck disable=SC2059
		printf "$1" >&3 2>/dev/null
		# shellcheck disable=SC2016
		timeout 5 bash -c 'len=
			while IFS= read -r line; do
				printf "%s\n" "$line"
				line=${line%$'"'"'\r'"'"'}
				[ -n "$line" ] || break
				[[ ${line,,} =~ ^content-length:\ *([0-9]+)$ ]] && len=${BASH_REMATCH[1]}
			done
			if [ -n "$len" ]; then head -c "$len"; else cat; fi' <&3 2>/dev/null
	) || true
	STATUS=$(head -1 <<<"$ANSWER" | grep -oE '^HTTP/[0-9.]+ [0-9]{3}' | cut -d' ' -f2)
}

# code ARGS...: curl's status for a request to $URL (000: no answer), counting 5xx
code() {
	local c
	c=$(curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' --max-time 20 "$@")
	[[ $c == 5* ]] && FIVEXX=$((FIVEXX + 1))
	echo "$c"
}

# fivexx_counted: the 5xx answers ml-serve counted in /metrics
fivexx_counted() {
	curl -s "$URL/metrics" |
		awk '/^lensflow_http_requests_total\{.*status_class="5xx"/ { n += $NF } END { print n + 0 }'
}

# the checks after every batch: no 5xx answered or counted, alive, RSS within 6 MiB of the
# baseline (each worker's malloc arena keeps what a 1 MiB body needed; the growth over
# repeated rounds, the leak signal, is measured by the last test)
after_batch() {
	assert_equal "$FIVEXX" 0
	kill -0 "$PID" || fail "ml-serve died"
	[ ! -f "$BATS_FILE_TMPDIR/hostile.exit" ] || fail "ml-serve exited $(cat "$BATS_FILE_TMPDIR/hostile.exit")"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] || fail "not alive"
	assert_equal "$(fivexx_counted)" "$(cat "$BATS_FILE_TMPDIR/5xx0")"
	# ASan's quarantine holds freed memory: RSS says nothing about leaks there (LeakSanitizer does)
	[[ $BIN != */asan/* ]] || return 0
	local rss rss0
	rss=$(rss_kb "$PID")
	rss0=$(cat "$BATS_FILE_TMPDIR/rss0")
	echo "RSS ${rss0} kB -> ${rss} kB"
	[ "$rss" -le $((rss0 + 6144)) ] || fail "RSS grew from $rss0 kB to $rss kB"
}

@test "huge URLs and headers are refused with a 4xx or a close, never a crash" {
	big=$(head -c 102400 /dev/zero | tr '\0' a)
	mid=$(head -c 20000 /dev/zero | tr '\0' 1)
	for i in 1; do
		for path in "/recommendations/$big" "/recommendations/$mid" "/movies/search?q=$big" \
			"/recommendations/1?k=$mid" "/$big"; do
			c=$(code "$URL$path")
			[[ $c =~ ^(400|404|413|414|422|431|000)$ ]] || fail "URL of ${#path}: $c"
		done
		c=$(code -H "X-Big: $big" "$URL/healthz")
		[[ $c =~ ^(400|413|431|000)$ ]] || fail "100 KB header: $c"
		c=$(code -H "Authorization: Bearer $big" -X POST "$URL/admin/reload")
		[[ $c =~ ^(400|401|413|431|000)$ ]] || fail "100 KB token: $c"
		# many headers of ordinary size
		hdrs=()
		for n in $(seq 2000); do hdrs+=(-H "X-H$n: v"); done
		c=$(code "${hdrs[@]}" "$URL/healthz")
		[[ $c =~ ^(200|400|413|431|000)$ ]] || fail "2000 headers: $c"
	done
	# a header line without a colon, a request line without a version, a bare LF, garbage bytes
	for req in 'GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n' 'GET /healthz\r\n\r\n' \
		'GET /healthz HTTP/1.1\n\n' '\x00\x01\x02\xff\r\n\r\n' \
		'GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n' \
		'POST /recommendations HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n{}' \
		'POST /recommendations HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 500\r\n\r\n{}' \
		'POST /recommendations HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'; do
		raw "$req"
		[[ -z $STATUS || $STATUS =~ ^(200|400|404|405|408|411|413|422)$ ]] || fail "$req: $STATUS"
		[[ $STATUS != 5* ]] || FIVEXX=$((FIVEXX + 1))
	done
	after_batch
}

@test "a body over the limit: the 413 reaches a client that writes its whole body first" {
	for bytes in 1048577 10000000; do
		for mode in length chunked; do
			run "$REL/rl-bodyfirst" "$PORT" /recommendations "$bytes" $mode
			assert_success
			[[ $output == *"status=413 "* ]] || fail "$bytes $mode: $output"
			assert_output --partial '"message":"request body exceeds 1048576 bytes"'
			written=$(sed -E 's/^written=([0-9]+) .*/\1/' <<<"$output")
			[ "$written" -ge "$bytes" ] || fail "the server cut the client off after $written bytes"
		done
	done
	# at the limit exactly: a valid body padded with spaces is served
	printf '{"ratings": [{"movie_id": 1, "rating": 5}], "k": 3}' >"$BATS_TEST_TMPDIR/b"
	head -c $((1048576 - $(wc -c <"$BATS_TEST_TMPDIR/b"))) /dev/zero | tr '\0' ' ' >>"$BATS_TEST_TMPDIR/b"
	[ "$(wc -c <"$BATS_TEST_TMPDIR/b")" -eq 1048576 ]
	c=$(code -H 'Content-Type: application/json' --data-binary @"$BATS_TEST_TMPDIR/b" \
		"$URL/recommendations")
	assert_equal "$c" 200
	assert_equal "$(jq '.items | length' "$BATS_TEST_TMPDIR/body")" 3
	after_batch
}

@test "slow senders holding 2x the worker threads do not starve the other clients" {
	# 2 x THREADS connections send a request one byte a second and never finish it
	"$REL/rl-slow" "$PORT" $((2 * THREADS)) 8 >"$BATS_TEST_TMPDIR/slow.out" &
	slow=$!
	sleep 0.5
	worst=0
	n=0
	for i in $(seq 12); do
		t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 15 "$URL/recommendations/$i")
		n=$((n + 1))
		ms=$(awk '{printf "%d", $2 * 1000}' <<<"$t")
		[ "$ms" -gt "$worst" ] && worst=$ms
		[[ $t == "200 "* ]] || echo "request $i: $t" >>"$BATS_TEST_TMPDIR/late"
		sleep 0.4
	done
	wait "$slow"
	echo "slow senders: $(cat "$BATS_TEST_TMPDIR/slow.out"); $n other requests, slowest ${worst} ms"
	[ ! -f "$BATS_TEST_TMPDIR/late" ] || fail "$(cat "$BATS_TEST_TMPDIR/late")"
	# the bound: an answer within a second while the slow senders hold their connections
	[ "$worst" -lt 1000 ] || fail "a client waited ${worst} ms behind the slow senders"
	after_batch
}

@test "methods other than those served are 405 with Allow (or a 4xx JSON for unknown ones)" {
	n=0
	for path in /recommendations/1 /recommendations /movies/1 /movies/1/similar /movies/search \
		/users/1/ratings /model /healthz /readyz /metrics /admin/reload /; do
		for m in PUT DELETE PATCH OPTIONS CONNECT PROPFIND MKCOL POST GET; do
			c=$(curl -s -o "$BATS_TEST_TMPDIR/body" -D "$BATS_TEST_TMPDIR/h" -w '%{http_code}' \
				--max-time 10 -X "$m" "$URL$path")
			n=$((n + 1))
			allow=$(tr -d '\r' <"$BATS_TEST_TMPDIR/h" | awk -F': ' 'tolower($1) == "allow" {print $2}')
			if [[ $c == 405 ]]; then
				[ -n "$allow" ] || fail "$m $path: 405 without Allow"
				[[ ", $allow," != *", $m,"* ]] || fail "$m $path: 405 but Allow: $allow"
				grep -q '"error":"method_not_allowed"' "$BATS_TEST_TMPDIR/body" || fail "$m $path: not JSON"
			else
				# a served method: the route's own answer (200, or 4xx for a bad request)
				[[ $c =~ ^(200|401|415|422)$ ]] || fail "$m $path: $c $(cat "$BATS_TEST_TMPDIR/body")"
				[[ $m == GET || $m == POST ]] || fail "$m $path: $c, not 405"
			fi
		done
		# civetweb refuses methods it does not know before any handler runs; TRACE is one of
		# them on purpose (cross-site tracing): a 4xx JSON, never an echo of the request
		for m in TRACE FOO BREW M-SEARCH; do
			c=$(code -X "$m" "$URL$path")
			[[ $c =~ ^(400|405|501)$ ]] || fail "$m $path: $c"
			grep -q '"error":"' "$BATS_TEST_TMPDIR/body" || fail "$m $path: not a JSON error"
			n=$((n + 1))
		done
	done
	echo "$n requests"
	after_batch
}

@test "paths with .., %2e%2e, NUL and non-UTF-8 never reach a file or a 5xx" {
	n=0
	for path in /.. /../../etc/passwd /movies/../../../etc/passwd /%2e%2e/%2e%2e/etc/passwd \
		/movies/%2e%2e/%2e%2e/etc/passwd /movies/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd \
		/recommendations/..%2F1 /movies/%c0%ae%c0%ae/x /movies/%ff/similar /%ff%fe \
		/recommendations/%ed%a0%80 /movies/search?q=%c3%28 /users/%e2%82/ratings \
		'/movies/1;/etc/passwd' '/movies//1' '//healthz' '/./healthz' '/healthz/.' '/healthz%2f' \
		/etc/passwd /Makefile /tools/ml-serve/main.c /.git/config; do
		c=$(curl -s --path-as-is -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' --max-time 10 \
			"$URL$path")
		n=$((n + 1))
		[[ $c =~ ^(200|400|404|422)$ ]] || fail "$path: $c"
		! grep -qE 'root:|\[core\]|#include|^SHELL' "$BATS_TEST_TMPDIR/body" || fail "$path: a file was served"
		# dot segments are resolved (RFC 3986, 5.2.4): "/.." is "/"; whatever answers 200 is JSON
		[ "$c" != 200 ] || jq -e . "$BATS_TEST_TMPDIR/body" >/dev/null || fail "$path: 200, not JSON"
	done
	echo "$n paths"
	after_batch
}

@test "a NUL byte (%00) anywhere in the path is refused, not cut off" {
	# civetweb decodes the path into a C string: '/movies/1%00junk' must not become '/movies/1'
	for path in /movies/1%00 /movies/1%00junk /healthz%00 /%00 /recommendations/1%00/x \
		/movies/1%00/similar /model%00.json /users/1/ratings%00; do
		c=$(code "$URL$path")
		[[ $c =~ ^(400|404|422)$ ]] || fail "$path: $c $(head -c 200 "$BATS_TEST_TMPDIR/body")"
		jq -e '.error | type == "string"' "$BATS_TEST_TMPDIR/body" >/dev/null
	done
	after_batch
}

@test "integers out of range in paths, queries and bodies are 404/422" {
	for raw in 2147483647 2147483648 -2147483649 4294967296 9223372036854775807 \
		9223372036854775808 -9223372036854775809 18446744073709551616 \
		99999999999999999999999999999999999999999999999999999999999999999999999999999999 \
		0000000000000000000000000000000000000001 1e308 -0 +1 0x7fffffff; do
		for path in "/recommendations/$raw" "/movies/$raw/similar" "/users/$raw/ratings" \
			"/movies/$raw"; do
			c=$(code "$URL$path")
			[[ $c =~ ^(200|404|422)$ ]] || fail "$path: $c"
		done
		for q in "/recommendations/1?k=$raw" "/movies/1/similar?k=$raw" \
			"/users/1/ratings?limit=$raw" "/movies/search?q=a&limit=$raw"; do
			c=$(code "$URL$q")
			[[ $c =~ ^(200|422)$ ]] || fail "$q: $c"
		done
		for body in "{\"ratings\": [{\"movie_id\": $raw, \"rating\": 4}]}" \
			"{\"ratings\": [{\"movie_id\": 1, \"rating\": $raw}]}" \
			"{\"ratings\": [{\"movie_id\": 1, \"rating\": 4}], \"k\": $raw}"; do
			c=$(code -H 'Content-Type: application/json' --data-binary "$body" "$URL/recommendations")
			[[ $c =~ ^(200|422)$ ]] || fail "$body: $c"
		done
	done
	# the ones that are plainly out of range are refused, not wrapped around
	assert_equal "$(code "$URL/recommendations/1?k=4294967306")" 422
	assert_equal "$(code "$URL/recommendations/4294967297")" 404
	after_batch
}

@test "JSON: NaN, Infinity, 1e400, 100k levels, repeated keys, bad UTF-8, NUL are 4xx" {
	b=$BATS_TEST_TMPDIR/json
	post() { # post FILE: the status of POST /recommendations with FILE as the body
		code -H 'Content-Type: application/json' --data-binary @"$1" "$URL/recommendations"
	}
	while IFS= read -r body; do
		printf '%s' "$body" >"$b"
		c=$(post "$b")
		[[ $c =~ ^(400|413|422)$ ]] || fail "$body: $c"
		jq -e '.error | type == "string"' "$BATS_TEST_TMPDIR/body" >/dev/null
	done <<'EOF'
{"ratings": [{"movie_id": 1, "rating": NaN}]}
{"ratings": [{"movie_id": 1, "rating": Infinity}]}
{"ratings": [{"movie_id": 1, "rating": -Infinity}]}
{"ratings": [{"movie_id": 1, "rating": 1e400}]}
{"ratings": [{"movie_id": 1, "rating": -1e400}]}
{"ratings": [{"movie_id": 1, "rating": 1e-400}]}
{"ratings": [{"movie_id": 1, "rating": 4}], "k": NaN}
{"ratings": [{"movie_id": 1, "rating": 4}], "k": Infinity}
{"ratings": [{"movie_id": 1, "rating": 4}], "k": 1e400}
{"ratings": [{"movie_id": NaN, "rating": 4}]}
{"ratings": [{"movie_id": 1, "rating": "NaN"}]}
{"ratings": [{"movie_id": 1, "rating": "inf"}]}
{"ratings": [{"movie_id": 1, "rating": 4}], "ratings": [{"movie_id": 2, "rating": 4}]}
{"ratings": [{"movie_id": 1, "movie_id": 2, "rating": 4}]}
{"ratings": [{"movie_id": 1, "rating": 4, "rating": 5}]}
{"ratings": [{"movie_id": 1, "rating": 4}], "k": 5, "k": 5}
{"ratings": [{"movie_id": 1, "rating": 4}], "k": 5} {"k": 6}
{"ratings": [{"movie_id": 1, "rating": 4}], "k": "\u0000"}
{"ratings": [{"movie_id": 1, "rating": 4}], "\ud800": 1}
{"ratings": [{"movie_id": 1, "rating": 4}
EOF
	# bodies that need bytes a here-document cannot carry
	printf '{"ratings": [{"movie_id": 1, "rating": 4}], "\xff\xfe": 1}' >"$b"
	[[ $(post "$b") == 422 ]] || fail "0xff in a key"
	printf '{"ratings": [{"movie_id": 1, "rating": 4}], "k": "\xc0\xaf"}' >"$b"
	[[ $(post "$b") == 422 ]] || fail "overlong UTF-8"
	printf '{"ratings": [{"movie_id": 1, "rating": 4}], "k": 5}\x00' >"$b"
	[[ $(post "$b") == 422 ]] || fail "a NUL after the object"
	printf '{"ratings": [{"movie_id": 1,\x00 "rating": 4}]}' >"$b"
	[[ $(post "$b") == 422 ]] || fail "a NUL inside the object"
	printf '\xef\xbb\xbf{"ratings": [{"movie_id": 1, "rating": 4}]}' >"$b"
	[[ $(post "$b") =~ ^(200|422)$ ]] || fail "a BOM"
	printf '{"ratings": [{"movie_id": 1, "rating": 4}]}' | iconv -t UTF-16 >"$b"
	[[ $(post "$b") == 422 ]] || fail "UTF-16"
	# 100 000 levels of arrays, of objects, and inside "ratings"
	head -c 100000 /dev/zero | tr '\0' '[' >"$b"
	head -c 100000 /dev/zero | tr '\0' ']' >>"$b"
	[[ $(post "$b") == 422 ]] || fail "100k arrays"
	: >"$b"
	for _ in $(seq 100); do printf '%.0s{"a":' $(seq 1000) >>"$b"; done
	printf 1 >>"$b"
	head -c 100000 /dev/zero | tr '\0' '}' >>"$b"
	[[ $(post "$b") == 422 ]] || fail "100k objects"
	{ printf '{"ratings": '; head -c 100000 /dev/zero | tr '\0' '['; } >"$b"
	[[ $(post "$b") == 422 ]] || fail "100k unclosed arrays in ratings"
	after_batch
}

@test "a flood of 300 idle connections: no crash, and the fds go back to where they were" {
	fds0=$(fd_count "$PID")
	"$REL/rl-slow" "$PORT" 300 3 5000 >"$BATS_TEST_TMPDIR/flood.out"
	cat "$BATS_TEST_TMPDIR/flood.out"
	grep -q "opened=300 " "$BATS_TEST_TMPDIR/flood.out"
	# the queued connections are closed by their clients; the server drops them within --timeout
	for _ in $(seq 100); do
		[ "$(fd_count "$PID")" -le $((fds0 + 2)) ] && break
		sleep 0.1
	done
	echo "fds: $fds0 before, $(fd_count "$PID") after"
	[ "$(fd_count "$PID")" -le $((fds0 + 2)) ] || fail "fds stayed at $(fd_count "$PID")"
	after_batch
}

@test "RSS stops growing once the allocator is warm, and stays flat after" {
	[[ $BIN != */asan/* ]] || skip "ASan's quarantine holds freed memory: RSS is measured on the release build"
	big=$(head -c 102400 /dev/zero | tr '\0' a)
	head -c 100000 /dev/zero | tr '\0' '[' >"$BATS_TEST_TMPDIR/deep"
	round() { # every batch above once
		code "$URL/recommendations/$big" >/dev/null
		code -H "X-Big: $big" "$URL/healthz" >/dev/null
		"$REL/rl-bodyfirst" "$PORT" /recommendations 2000000 >/dev/null
		"$REL/rl-bodyfirst" "$PORT" /recommendations 2000000 chunked >/dev/null
		code -H 'Content-Type: application/json' --data-binary @"$BATS_TEST_TMPDIR/deep" \
			"$URL/recommendations" >/dev/null
		code -X PATCH "$URL/movies/1" >/dev/null
		code "$URL/movies/1%00" >/dev/null
		code "$URL/movies/search?q=%ff%fe" >/dev/null
		"$REL/rl-load" --port "$PORT" --conns 2 --seconds 0.5 /recommendations/1 /movies/99999 \
			'/recommendations/1?k=0' >"$BATS_TEST_TMPDIR/load.json"
		assert_equal "$(jq '.errors + ."5xx"' "$BATS_TEST_TMPDIR/load.json")" 0
	}
	# warm-up: each worker thread's malloc arena grows to what a 1 MiB body needs, once;
	# which thread takes a request is civetweb's choice, so go on until two rounds add nothing
	prev=0 stable=0 n=0
	while [ "$n" -lt 24 ] && [ "$stable" -lt 2 ]; do
		round
		n=$((n + 1))
		rss=$(rss_kb "$PID")
		echo "warm-up round $n: $rss kB"
		if [ "$rss" -le $((prev + 64)) ]; then stable=$((stable + 1)); else stable=0; fi
		prev=$rss
	done
	[ "$stable" -ge 2 ] || fail "RSS still grew after $n rounds"
	rss_before=$(rss_kb "$PID")
	for n in 1 2 3 4 5 6; do round; done
	rss_after=$(rss_kb "$PID")
	echo "RSS over 6 more rounds: $rss_before kB -> $rss_after kB"
	[ "$rss_after" -le $((rss_before + 512)) ] || fail "RSS grew by $((rss_after - rss_before)) kB"
	after_batch
}

# Last: the one 5xx a client can cause. RFC 9110 (15.6.6) answers an HTTP major version the
# server does not speak with 505; civetweb does so before ml-serve sees the request.
@test "an unknown HTTP version is 505 JSON (the only 5xx), and the server lives on" {
	raw 'GET /healthz HTTP/9.9\r\n\r\n'
	[[ $STATUS =~ ^(400|505)$ ]] || fail "HTTP/9.9: '$STATUS'"
	grep -q '"error"' <<<"$ANSWER"
	raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_equal "$STATUS" 200
}

@test "after all of it, SIGTERM stops ml-serve cleanly: exit 0, no sanitizer report" {
	stop_serve hostile
	assert_equal "$STOPPED" 0
	run grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$BATS_FILE_TMPDIR/hostile.err"
	assert_failure
}
