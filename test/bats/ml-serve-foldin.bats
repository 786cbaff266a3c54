#!/usr/bin/env bats
# ml-serve's fold-in (POST /recommendations) for the models with a blend table:
# ml-pgload keeps the EASE fold-in map and the blend's parameters, ml-serve
# solves a new user's vector block by block as ml-train built its users. A new
# user who rated exactly a training user's movies must get that user's answer:
# exactly for EASE, nearly for the blend (its softmax-MF block is the optimum
# of the user's objective, not the Adam iterate stored).

load helpers
load ../reliability/lib
load foldin

setup_file() {
	fresh_db lensflow_test_foldin
	export FOLDIN_DB_URL=$DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	"$BIN/ml-split" --test "$d/test.tsv" <"$d/ratings.tsv" >"$d/train.tsv" 2>/dev/null
	# the catalogue's ratings are the training ones: GET excludes what POST is given
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/train.tsv" >/dev/null
	"$BIN/ml-train" -q --model ease --ease-dim 64 <"$d/train.tsv" >"$d/ease.lfe"
	"$BIN/ml-train" -q --model blend --ease-dim 64 --ials-dim 16 --epochs 8 \
		<"$d/train.tsv" >"$d/blend.lfe"
	"$BIN/ml-pgload" -q --model-name ease --load 1 --switch <"$d/ease.lfe" >/dev/null
	"$BIN/ml-pgload" -q --model-name blend --load 1 --switch <"$d/blend.lfe" >/dev/null
	# the blend without the softmax MF (what --model auto trains past 2M ratings)
	"$BIN/ml-train" -q --model ease-ials --ease-dim 64 --ials-dim 16 --serve-dim 40 <"$d/train.tsv" >"$d/easeials.lfe"
	"$BIN/ml-pgload" -q --model-name easeials --load 1 --switch <"$d/easeials.lfe" >/dev/null
	local m port
	for m in ease blend easeials; do
		port=$(free_port)
		echo "$port" >"$d/$m.port"
		MLFLOW_TRACKING_URI='' "$BIN/ml-serve" --listen "127.0.0.1:$port" --model-name "$m" \
			--threads 2 >"$d/$m.out" 2>"$d/$m.err" 3>&- &
		echo $! >"$d/$m.pid"
	done
	for m in ease blend easeials; do
		port=$(cat "$d/$m.port")
		for _ in $(seq 200); do
			[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/readyz")" = 200 ] &&
				break
			sleep 0.1
		done
	done
}

teardown_file() {
	local m
	for m in ease blend easeials bulkhead paced slowbody; do
		[ -f "$BATS_FILE_TMPDIR/$m.pid" ] && kill "$(cat "$BATS_FILE_TMPDIR/$m.pid")" 2>/dev/null
	done
	return 0
}

setup() {
	export DATABASE_URL=$FOLDIN_DB_URL
}


@test "ml-pgload keeps the EASE fold-in map and the blend's parameters with the set" {
	run sql "SELECT foldin->'blend'->>'k_e', foldin->>'ease_table' FROM embedding_sets
		WHERE model_name = 'ease'"
	assert_output "64|lf_ease_v1_foldin"
	run sql "SELECT count(*), min(vector_dims(ease)) FROM lf_ease_v1_foldin"
	assert_output "$(cut -f2 "$BATS_FILE_TMPDIR/train.tsv" | sort -u | wc -l)|64"
	# a pruned set takes its fold-in table along
	"$BIN/ml-pgload" -q --model-name ease --load 2 <"$BATS_FILE_TMPDIR/ease.lfe"
	"$BIN/ml-pgload" -q --model-name ease --load 3 <"$BATS_FILE_TMPDIR/ease.lfe"
	"$BIN/ml-pgload" --model-name ease --switch 3 >/dev/null
	run "$BIN/ml-pgload" --model-name ease --prune --keep 1
	assert_success
	run sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'lf_ease_v%_foldin'"
	assert_output 2 # 3 (serving) and 1 (the one it replaced) stay; 2 is gone
	"$BIN/ml-pgload" --model-name ease --switch 1 >/dev/null
}

@test "EASE: a new user with a training user's movies gets that user's answer, scores and all" {
	foldin_gives_known_answer ease
}

@test "blend: a new user with a training user's movies gets nearly that user's top 10" {
	foldin_near_known_answer blend
}

@test "ease-ials (no MF block): a new user with a training user's movies gets nearly that user's top 10" {
	foldin_near_known_answer easeials
}

@test "blend: the fold-in answers a one-movie user with that movie's neighbours" {
	local url
	url=http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/blend.port")
	run curl -sf -X POST -H 'Content-Type: application/json' \
		--data-binary '{"ratings": [{"movie_id": 50, "rating": 5}], "k": 5}' "$url/recommendations"
	assert_success
	jq -e '(.items | length == 5) and all(.items[]; .movie_id != 50)
		and ([.items[].score] == ([.items[].score] | sort | reverse))' <<<"$output"
	# Star Wars' neighbours: at least two of its sequels and kin in the top 5
	jq -e '[.items[].movie_id] - [172, 181, 174, 127, 98, 100, 7, 121, 1, 117, 56, 64, 12, 22]
		| length <= 3' <<<"$output"
}

@test "fold-in bulkhead: a flood of new users is refused at once with 503 + Retry-After while known users are answered" {
	local d=$BATS_TEST_TMPDIR port url
	port=$(free_port)
	url=http://127.0.0.1:$port
	MLFLOW_TRACKING_URI='' start_serve bulkhead --listen "127.0.0.1:$port" --model-name blend \
		--threads 4 --foldin-concurrency 1
	wait_for "$url" /readyz 200
	# every training movie rated: the longest fold-in there is
	cut -f2 "$BATS_FILE_TMPDIR/train.tsv" | sort -un |
		jq -Rsc '{k: 10, ratings: split("\n") | map(select(length > 0) |
			{movie_id: tonumber, rating: 4})}' >"$d/body.json"
	# 48 POSTs, 12 at a time from one curl (below civetweb's 16 threads, which would
	# otherwise keep a connection waiting for a thread); known users asked meanwhile
	curl -s --no-progress-meter -Z --parallel-max 12 -X POST -H 'Content-Type: application/json' \
		-H 'Expect:' --data-binary @"$d/body.json" "$url/recommendations?n=[1-48]" \
		-o "$d/post_#1.json" \
		-w '%{http_code} %{time_total} %header{retry-after} %{filename_effective}\n' \
		>"$d/posts.txt" &
	local flood=$! u
	for u in 1 2 3 4 5 6 7 8; do
		curl -s -o /dev/null -w '%{http_code}\n' "$url/recommendations/$u?k=5" >>"$d/known.txt"
	done
	wait "$flood"
	local metrics
	metrics=$(curl -s "$url/metrics")
	stop_serve bulkhead
	run awk '{n[$1]++} END {print n["200"] + 0, n["503"] + 0, NR}' "$d/posts.txt"
	echo "posts (200, 503, all): $output" >&3
	local ok refused
	read -r ok refused _ <<<"$output"
	[ "$ok" -ge 1 ]
	[ "$refused" -ge 1 ]
	[ $((ok + refused)) -eq 48 ]
	# the refusals: Retry-After: 1 and the JSON error body of every error
	run awk '$1 == 503 && $3 != 1' "$d/posts.txt"
	assert_output ""
	local f
	for f in $(awk '$1 == 503 {print $4}' "$d/posts.txt"); do
		run jq -r '.error' "$f"
		assert_output unavailable
	done
	# refused at once, not after waiting for a place: the median refusal is quicker than the
	# median fold-in answered (an order, not a time bound: the host's load moves both)
	local ok_med no_med
	ok_med=$(awk '$1 == 200 {print $2}' "$d/posts.txt" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
	no_med=$(awk '$1 == 503 {print $2}' "$d/posts.txt" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
	echo "median seconds: answered $ok_med, refused $no_med"
	[ -n "$ok_med" ]
	[ -n "$no_med" ]
	awk -v a="$ok_med" -v r="$no_med" 'BEGIN {exit !(r + 0 < a + 0)}'
	# counted, and nothing left in flight
	grep -qx "lensflow_foldin_rejected_total $refused" <<<"$metrics"
	grep -qx 'lensflow_foldin_in_flight 0' <<<"$metrics"
	grep -qx 'lensflow_foldin_concurrency_limit 1' <<<"$metrics"
	# known users were answered all along
	run sort -u "$d/known.txt"
	assert_output 200
}

@test "fold-in bulkhead: a client back before its Retry-After is paced (2 ms a refusal); one that waits is not" {
	local d=$BATS_TEST_TMPDIR port url
	port=$(free_port)
	url=http://127.0.0.1:$port
	MLFLOW_TRACKING_URI='' start_serve paced --listen "127.0.0.1:$port" --model-name blend \
		--threads 4 --foldin-concurrency 1
	wait_for "$url" /readyz 200
	# the one place held: a fold-in whose query waits for a lock on the set's movies
	local items
	items=$(sql "SELECT items_table FROM embedding_sets WHERE model_name = 'blend' AND version = 1")
	PGAPPNAME=lf_hold "$PG_BIN/psql" -X -q "$DATABASE_URL" \
		-c "BEGIN; LOCK TABLE $items IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)" \
		>/dev/null 2>&1 3>&- &
	for _ in $(seq 100); do
		[ "$(sql "SELECT count(*) FROM pg_locks WHERE relation = '$items'::regclass
			AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
		sleep 0.05
	done
	curl -s -X POST -H 'Content-Type: application/json' -d '{"ratings": [{"movie_id": 1, "rating": 4}]}' \
		-o /dev/null -w '%{http_code}\n' "$url/recommendations" >"$d/held.txt" 3>&- &
	local held=$!
	for _ in $(seq 100); do
		curl -s "$url/metrics" | grep -qx 'lensflow_foldin_in_flight 1' && break
		sleep 0.05
	done
	# three fold-ins one after another on one connection, ignoring Retry-After
	curl -s -X POST -H 'Content-Type: application/json' -d '{"ratings": [{"movie_id": 1, "rating": 4}]}' \
		-w '%{http_code} %{num_connects} %{time_total}\n' -o /dev/null -o /dev/null -o /dev/null \
		"$url/recommendations" "$url/recommendations" "$url/recommendations" >"$d/three.txt"
	# new connections right away: each one's first refusal at once (the pace is per
	# connection: civetweb's threads are reused, the last refusal's time is not)
	for _ in 1 2 3 4 5 6 7 8; do
		curl -s -X POST -H 'Content-Type: application/json' -d '{"ratings": [{"movie_id": 1, "rating": 4}]}' \
			-o /dev/null -w '%{http_code}\n' "$url/recommendations" >>"$d/fresh.txt"
	done
	# after waiting out the Retry-After, on a new connection: refused at once again
	sleep 1.1
	curl -s -X POST -H 'Content-Type: application/json' -d '{"ratings": [{"movie_id": 1, "rating": 4}]}' \
		-o /dev/null -w '%{http_code}\n' "$url/recommendations" >"$d/later.txt"
	local metrics
	metrics=$(curl -s "$url/metrics")
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lf_hold'" >/dev/null
	wait "$held"
	stop_serve paced
	cat "$d/three.txt"
	# the held fold-in is answered once the lock goes
	assert_equal "$(cat "$d/held.txt")" 200
	# one connection (the 2nd and 3rd reuse it), all refused
	assert_equal "$(awk '{print $1, $2}' "$d/three.txt" | tr '\n' ' ')" "503 1 503 0 503 0 "
	assert_equal "$(cat "$d/later.txt")" 503
	assert_equal "$(sort -u "$d/fresh.txt")" 503
	# the first refusal at once, the next two held for the pace (a lower bound: no load makes it shorter)
	awk 'NR > 1 && $3 < 0.002 { print "refusal " NR " took " $3 " s"; bad = 1 } END { exit bad }' "$d/three.txt"
	grep -qx 'lensflow_foldin_rejected_total 12' <<<"$metrics"
	grep -qx 'lensflow_foldin_paced_total 2' <<<"$metrics"
}

@test "fold-in bulkhead: a client slow to send its body holds no place; the next fold-in is answered" {
	local port url
	port=$(free_port)
	url=http://127.0.0.1:$port
	MLFLOW_TRACKING_URI='' start_serve slowbody --listen "127.0.0.1:$port" --model-name blend \
		--threads 4 --foldin-concurrency 1
	wait_for "$url" /readyz 200
	# headers and part of the body, then nothing: ml-serve is reading it
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	printf 'POST /recommendations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"k": 5' >&5
	local seen=0
	for _ in $(seq 100); do
		# this /metrics request and the stalled one
		curl -s "$url/metrics" | grep -qx 'lensflow_http_requests_in_flight 2' && seen=1 && break
		sleep 0.05
	done
	[ "$seen" = 1 ]
	run curl -s "$url/metrics"
	assert_line 'lensflow_foldin_in_flight 0'
	# the only place is free: a whole fold-in is answered, not refused
	run curl -s -X POST -H 'Content-Type: application/json' \
		-d '{"ratings": [{"movie_id": 50, "rating": 5}], "k": 3}' -w '\n%{http_code}' "$url/recommendations"
	exec 5>&-
	stop_serve slowbody
	assert_equal "${lines[-1]}" 200
	jq -e '.items | length == 3' <<<"${lines[0]}"
}
