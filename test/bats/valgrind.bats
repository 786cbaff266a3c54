#!/usr/bin/env bats
# valgrind memcheck (issue 15): each tool's happy path and ml-serve under a
# short load, 0 bytes definitely lost and 0 errors (--error-exitcode).
# `make test` runs the quick version (ml-serve, ml-split, ml-pgload,
# ml-mlflow-log, ml-eval on small inputs, under a minute on an idle machine);
# `make valgrind` (VALGRIND_FULL=1) adds ml-fetch and ml-train and runs on the
# whole dataset with a longer load.

load helpers
load ../reliability/lib

# 99: memcheck found an error or a definite leak (the tools never exit 99 themselves)
VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
	--error-exitcode=99 --num-callers=30)

setup_file() {
	# (skip in setup(): bats 1.8 cannot skip a whole file from setup_file)
	export VG_SKIP=
	command -v valgrind >/dev/null || { VG_SKIP="valgrind is not installed"; return 0; }
	# valgrind cannot run the ASan build: its own tests are `make asan`
	[[ $BIN != */asan/* ]] || { VG_SKIP="the tools under test are the ASan build"; return 0; }
	fresh_db lensflow_test_valgrind
	export VG_DB_URL=$DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	"$BIN/ml-split" --test "$d/test.tsv" <"$d/ratings.tsv" >"$d/train.tsv" 2>/dev/null
	"$BIN/ml-train" -q --model softmax-mf --dim 8 --epochs 2 --threads 1 --seed 1 <"$d/train.tsv" >"$d/model.lfe"
	if [ -n "${VALGRIND_FULL:-}" ]; then
		cp "$d/ratings.tsv" "$d/some-ratings.tsv"
		cp "$d/train.tsv" "$d/some-train.tsv"
		cp "$d/test.tsv" "$d/some-test.tsv"
	else
		head -20000 "$d/ratings.tsv" >"$d/some-ratings.tsv"
		head -3000 "$d/train.tsv" >"$d/some-train.tsv"
		head -1000 "$d/test.tsv" >"$d/some-test.tsv"
	fi
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --load 1 --switch <"$d/model.lfe" >/dev/null
}

setup() {
	[ -z "$VG_SKIP" ] || skip "$VG_SKIP"
	export DATABASE_URL=$VG_DB_URL
	# OpenBLAS' spinning helper threads make valgrind's serialised threads crawl
	export OPENBLAS_NUM_THREADS=1
}

teardown_file() {
	stop_all_serves
}

@test "ml-serve under load: every endpoint, a reload, SIGTERM; 0 errors, 0 definitely lost" {
	port=$(free_port)
	LENSFLOW_ADMIN_TOKEN=vg-token SERVE_WRAP="${VG[*]} --log-file=$BATS_FILE_TMPDIR/vg-serve.log" \
		start_serve vg --listen "127.0.0.1:$port" --threads 2 --poll 0.5 --db "$VG_DB_URL" \
		--tracking-uri ''
	wait_for "http://127.0.0.1:$port" /readyz 200 600
	seconds=3
	[ -n "${VALGRIND_FULL:-}" ] && seconds=20
	"$REL/rl-load" --port "$port" --conns 2 --rate 40 --seconds "$seconds" --timeout-ms 20000 \
		'/recommendations/1?k=10' '/movies/50/similar?k=5' '/movies/search?q=star' /movies/1 \
		'/users/1/ratings?limit=5' /model /metrics /readyz /recommendations/99999 \
		'/recommendations/1?k=0' /nope '/movies/1%00' >"$BATS_TEST_TMPDIR/get.json"
	printf '{"ratings": [{"movie_id": 1, "rating": 5}, {"movie_id": 50, "rating": 4}], "k": 5}' \
		>"$BATS_TEST_TMPDIR/body.json"
	"$REL/rl-load" --port "$port" --conns 1 --rate 10 --seconds 2 --timeout-ms 20000 \
		--post-body "$BATS_TEST_TMPDIR/body.json" /recommendations >"$BATS_TEST_TMPDIR/post.json"
	run curl -s -X POST -H 'Authorization: Bearer vg-token' "http://127.0.0.1:$port/admin/reload"
	assert_output --partial '"version":"1"'
	"$REL/rl-bodyfirst" "$port" /recommendations 200000 >/dev/null
	cat "$BATS_TEST_TMPDIR/get.json" "$BATS_TEST_TMPDIR/post.json"
	jq -e '.errors == 0 and ."5xx" == 0 and .status["200"] > 0' "$BATS_TEST_TMPDIR/get.json" >/dev/null
	jq -e '.errors == 0 and .requests == .status["200"]' "$BATS_TEST_TMPDIR/post.json" >/dev/null
	stop_serve vg
	cat "$BATS_FILE_TMPDIR/vg-serve.log"
	assert_equal "$STOPPED" 0
	run grep -E 'definitely lost: [1-9]|ERROR SUMMARY: [1-9]|Invalid (read|write)|uninitialised' \
		"$BATS_FILE_TMPDIR/vg-serve.log"
	assert_failure
}

@test "ml-split and ml-eval (and its baseline) under memcheck" {
	d=$BATS_FILE_TMPDIR
	run "${VG[@]}" "$BIN/ml-split" --test "$BATS_TEST_TMPDIR/t.tsv" -o "$BATS_TEST_TMPDIR/tr.tsv" \
		<"$d/some-ratings.tsv"
	assert_success
	[ -s "$BATS_TEST_TMPDIR/tr.tsv" ]
	run "${VG[@]}" "$BIN/ml-eval" --train "$d/some-train.tsv" --test "$d/some-test.tsv" <"$d/model.lfe"
	assert_success
	assert_output --partial "ndcg@10"
	run "${VG[@]}" "$BIN/ml-eval" --train "$d/some-train.tsv" --test "$d/some-test.tsv" \
		--baseline popularity
	assert_success
	# an error path: a bad line is 65, still clean
	printf '1\t2\tx\t4\n' >"$BATS_TEST_TMPDIR/bad.tsv"
	run "${VG[@]}" "$BIN/ml-split" --test "$BATS_TEST_TMPDIR/t2.tsv" <"$BATS_TEST_TMPDIR/bad.tsv"
	assert_equal "$status" 65
}

@test "ml-pgload under memcheck: a set, a switch, the list; an error path" {
	d=$BATS_FILE_TMPDIR
	run "${VG[@]}" "$BIN/ml-pgload" -q --load 2 --run-id vg --switch <"$d/model.lfe"
	assert_success
	assert_line loaded
	run "${VG[@]}" "$BIN/ml-pgload" --list
	assert_success
	assert_output --partial $'lensflow\t2'
	run "${VG[@]}" "$BIN/ml-pgload" -q --switch 1
	assert_success
	run "${VG[@]}" "$BIN/ml-pgload" --switch 77
	assert_equal "$status" 65
	if [ -n "${VALGRIND_FULL:-}" ]; then
		sql "TRUNCATE catalogue_meta" >/dev/null
		run "${VG[@]}" "$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv"
		assert_success
	fi
}

@test "ml-mlflow-log under memcheck: a run registered, gate, champion; MLflow down" {
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || fail "no MLflow: run scripts/services up (make test does)"
	name=vg-$(date +%s)-$$
	printf 'ndcg@10\t0.4\nrmse\t0.95\n' >"$BATS_TEST_TMPDIR/m.tsv"
	printf 'dim\t8\n' >"$BATS_TEST_TMPDIR/p.tsv"
	printf '1\ttrain/loss\t1.5\n' >"$BATS_TEST_TMPDIR/l.tsv"
	run "${VG[@]}" "$BIN/ml-mlflow-log" --experiment "$name" --model-name "$name" \
		--params "$BATS_TEST_TMPDIR/p.tsv" --losses "$BATS_TEST_TMPDIR/l.tsv" \
		--model "$BATS_FILE_TMPDIR/model.lfe" <"$BATS_TEST_TMPDIR/m.tsv"
	assert_success
	assert_line --regexp $'^model_version\t1$'
	run "${VG[@]}" "$BIN/ml-mlflow-log" --model-name "$name" --gate 1
	assert_success
	run "${VG[@]}" "$BIN/ml-mlflow-log" --model-name "$name" --promote 1
	assert_success
	run "${VG[@]}" "$BIN/ml-mlflow-log" --model-name "$name" --champion
	assert_success
	assert_output --partial 1
	run "${VG[@]}" "$BIN/ml-mlflow-log" --tracking-uri "http://127.0.0.1:$(free_port)" \
		--experiment "$name" <"$BATS_TEST_TMPDIR/m.tsv"
	assert_equal "$status" 69
}

@test "ml-fetch and ml-train under memcheck (make valgrind)" {
	[ -n "${VALGRIND_FULL:-}" ] || skip "make valgrind runs it (slow under memcheck)"
	run "${VG[@]}" "$BIN/ml-fetch" --source "$DATA" -o "$BATS_TEST_TMPDIR/movies.tsv" movies
	assert_success
	cmp "$BATS_TEST_TMPDIR/movies.tsv" "$BATS_FILE_TMPDIR/movies.tsv"
	run "${VG[@]}" "$BIN/ml-fetch" --source "$DATA/nope" ratings
	assert_equal "$status" 66
	head -5000 "$BATS_FILE_TMPDIR/train.tsv" >"$BATS_TEST_TMPDIR/train.tsv"
	run "${VG[@]}" "$BIN/ml-train" -q --model softmax-mf --dim 8 --epochs 2 --threads 2 --seed 1 \
		--losses "$BATS_TEST_TMPDIR/losses.tsv" --params "$BATS_TEST_TMPDIR/params.tsv" \
		-o "$BATS_TEST_TMPDIR/m.lfe" <"$BATS_TEST_TMPDIR/train.tsv"
	assert_success
	[ -s "$BATS_TEST_TMPDIR/m.lfe" ]
	printf 'junk\n' >"$BATS_TEST_TMPDIR/bad.tsv"
	run "${VG[@]}" "$BIN/ml-train" -q -o "$BATS_TEST_TMPDIR/m2.lfe" <"$BATS_TEST_TMPDIR/bad.tsv"
	assert_equal "$status" 65
}
